"""Review tool for the reviewed real-CT muscle reference (``validation/reviewed/``).

Workflow per slice (``NAME`` from :data:`validation.reviewed.SLICES`)::

    python -m tools.reviewed_tool cand NAME      # teacher + model candidates -> validation/reviewed/candidates/
    python -m tools.reviewed_tool render NAME    # zoomed tiles: plain image | candidates with component ids
    python -m tools.reviewed_tool stats NAME     # table of the disagreement / agreement components
    # edit validation/reviewed/decisions/NAME.json (keep / drop components, polygons to add / remove)
    python -m tools.reviewed_tool build NAME     # decisions -> validation/reviewed/masks/NAME.png
    python -m tools.reviewed_tool render NAME --what final [--box r0 r1 c0 c1] [--zoom 4]
    python -m tools.reviewed_tool montage        # docs/img/reviewed_set.png

Candidates: T = teacher muscle (label 1), M = model muscle, both HU-gated (-29..150). A = T & M; the
disagreement pieces T & ~M ("t") and M & ~T ("m") and the pieces of A ("a") are 8-connected components numbered
in raster order on the stored candidate PNGs, so a decision file always refers to the same pieces even when the
teacher code changes later (re-running ``cand`` overwrites them: only do that before deciding).

Decision file (JSON)::

    {"min_px": 20,                       # components smaller than this follow "small"
     "small": "keep",                    # keep (those touching the chosen muscle: boundary slivers) | drop
     "t": {"default": "drop", "except": [ids]},   # T-only components
     "m": {"default": "drop", "except": [ids]},   # M-only components
     "a_drop": [ids],                    # agreement components to drop
     "edits": [{"op": "add" | "remove", "mode": "gated" | "all" | "smooth_above", "hu": 60,
                "poly": [[row, col], ...], "note": "..."},
               {"op": "max_depth", "mm": 11, "poly": [...]}],   # inside poly keep only <= mm from the SAT
                                         # optional "max_smooth_hu": 85 on add / remove: only pixels at or below
     "fill_fat_holes_cm2": 1.0,          # holes of out-of-gate pixels (fat / noise, no bone) up to this size are filled
     "min_island_px": 10,                # final islands smaller than this are dropped
     "notes": ["..."]}

Edits are applied in order after the component choices; ``mode = "gated"`` adds only the -29..150 HU pixels
inside the polygon (a rough polygon drawn in the fat around a muscle), ``"all"`` every pixel, ``"smooth_above"`` the
pixels whose Gaussian-smoothed (1 px) HU is above ``hu`` (an enhanced organ's edge against the muscle);
``max_depth`` removes, inside the polygon, mask pixels deeper than ``mm`` from the subcutaneous fat (a wall band of
the thickness seen where its inner boundary is visible, where an organ of the same density lies against it). Polygon
vertices are native (row, col) of the canonical slice. The builder is deterministic; the PNG it writes is the reference.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from validation.reviewed import (
    HERE,
    REPO,
    SLICES,
    data_dir,
    in_muscle_gate,
    load_slice,
    mask_path,
    read_mask,
    write_mask,
)

WINDOW = (-160.0, 240.0)  # W400 / L40
CAND = HERE / "candidates"
DECISIONS = HERE / "decisions"
RENDERS = Path("/tmp/reviewed_renders")
MODEL_DIR = REPO / "models" / "sarco-unet-v1"
EIGHT = np.ones((3, 3), bool)


# ---------------------------------------------------------------------------------------------- data
def teacher_code() -> dict[str, str]:
    files = sorted((REPO / "sarco_core" / "segment").glob("teacher*.py"))
    h = hashlib.sha256()
    for f in files:
        h.update(f.read_bytes())
    try:
        commit = subprocess.run(
            ["git", "log", "-1", "--format=%h", "--", *[str(f) for f in files]],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *[str(f) for f in files]],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):  # pragma: no cover - no git
        commit, dirty = "unknown", ""
    return {"teacher_commit": commit + ("+dirty" if dirty else ""), "teacher_code_sha256": h.hexdigest()[:12]}


def teacher_muscle(hu: np.ndarray, row_mm: float, col_mm: float) -> np.ndarray:
    from sarco_core.segment.teacher import segment_slice

    return np.asarray(segment_slice(hu, row_mm, col_mm)[0] == 1)


def model_muscle(name: str) -> tuple[np.ndarray, str]:
    from sarco_core.io import load
    from sarco_core.segment.model import Segmenter

    rel, k = SLICES[name]
    seg = Segmenter.from_dir(MODEL_DIR, backend="torch")
    res = seg.segment(load(data_dir() / rel), [k])[0]
    version = f"{seg.cfg.name} {seg.cfg.version}"
    return np.asarray(res.labels == 1), version


def cmd_cand(names: list[str]) -> None:
    meta_path = CAND / "candidates.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    code = teacher_code()
    for name in names:
        hu, rmm, cmm = load_slice(name)
        t = teacher_muscle(hu, rmm, cmm)
        m, version = model_muscle(name)
        write_mask(CAND / f"{name}_teacher.png", t)
        write_mask(CAND / f"{name}_model.png", m)
        px = rmm * cmm / 100.0
        meta[name] = {
            **code,
            "model": version,
            "teacher_sma_cm2": round(float((t & in_muscle_gate(hu)).sum() * px), 2),
            "model_sma_cm2": round(float((m & in_muscle_gate(hu)).sum() * px), 2),
        }
        print(name, meta[name])
    meta_path.write_text(json.dumps(dict(sorted(meta.items())), indent=1) + "\n")


# ---------------------------------------------------------------------------------------------- pieces
def candidates(name: str, hu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g = in_muscle_gate(hu)
    t = read_mask(CAND / f"{name}_teacher.png") & g
    m = read_mask(CAND / f"{name}_model.png") & g
    return t, m


def pieces(t: np.ndarray, m: np.ndarray) -> dict[str, tuple[np.ndarray, int]]:
    """{"a": (labels, n), "t": ..., "m": ...}: 8-connected components, raster order."""
    out = {}
    for key, mask in (("a", t & m), ("t", t & ~m), ("m", m & ~t)):
        lab, n = ndi.label(mask, structure=EIGHT)
        out[key] = (lab, int(n))
    return out


def poly_mask(shape: tuple[int, int], poly: list[list[float]]) -> np.ndarray:
    """Pixels whose centre lies inside the polygon (native (row, col) vertices)."""
    from PIL import Image, ImageDraw

    im = Image.new("1", (shape[1], shape[0]), 0)
    ImageDraw.Draw(im).polygon([(float(c), float(r)) for r, c in poly], fill=1, outline=1)
    return np.array(im, dtype=bool)


def _choose(lab: np.ndarray, n: int, rule: dict[str, Any], min_px: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept large pieces, all small pieces) of one disagreement kind."""
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    keep = np.zeros(n + 1, bool)
    default = rule.get("default", "drop") == "keep"
    exc = set(int(i) for i in rule.get("except", []))
    for i in range(1, n + 1):
        if sizes[i] >= min_px:
            keep[i] = default != (i in exc)
    small = (sizes < min_px) & (np.arange(n + 1) > 0)
    return keep[lab], small[lab]


def build(name: str, hu: np.ndarray, row_mm: float, col_mm: float, dec: dict[str, Any]) -> np.ndarray:
    px_cm2 = row_mm * col_mm / 100.0
    t, m = candidates(name, hu)
    pc = pieces(t, m)
    min_px, small = int(dec.get("min_px", 20)), str(dec.get("small", "keep"))
    a_lab, _ = pc["a"]
    out = (a_lab > 0) & ~np.isin(a_lab, [int(i) for i in dec.get("a_drop", [])])
    big_t, small_t = _choose(*pc["t"], dec.get("t", {}), min_px)
    big_m, small_m = _choose(*pc["m"], dec.get("m", {}), min_px)
    out |= big_t | big_m
    if small == "keep":  # boundary slivers: kept where they touch the chosen muscle
        sl, ns = ndi.label(small_t | small_m, structure=EIGHT)
        touch = np.unique(sl[ndi.binary_dilation(out, structure=EIGHT) & (sl > 0)])
        out |= np.isin(sl, touch[touch > 0])
    g = in_muscle_gate(hu)
    for e in dec.get("edits", []):
        p = poly_mask(hu.shape, e["poly"])
        if e["op"] == "max_depth":  # a wall band of known thickness where an organ lies against it
            out &= ~(p & (sat_depth_mm(hu, row_mm, col_mm) > float(e["mm"])))
            continue
        mode = e.get("mode", "gated")
        if mode == "gated":
            p &= g
        elif mode == "smooth_above":  # organ edge: pixels whose 1-px Gaussian mean HU exceeds e["hu"]
            p &= ndi.gaussian_filter(hu, 1.0) > float(e["hu"])
        elif mode != "all":
            raise ValueError(f"unknown mode {mode!r}")
        if "max_smooth_hu" in e:  # keep cartilage / bone / enhanced organ out of an added region
            p &= ndi.gaussian_filter(hu, 1.0) <= float(e["max_smooth_hu"])
        if e["op"] == "add":
            out |= p
        elif e["op"] == "remove":
            out &= ~p
        else:
            raise ValueError(f"unknown op {e['op']!r}")
    out &= hu > -500  # never air
    return _finish(out, hu, px_cm2, dec)


def _finish(out: np.ndarray, hu: np.ndarray, px_cm2: float, dec: dict[str, Any]) -> np.ndarray:
    """Bone interiors out; small holes of out-of-gate pixels (fat, IMAT, noise; no bone) filled, so the compartment
    is solid and its gated area unchanged; tiny islands dropped."""
    if dec.get("exclude_bone_interior", True):  # rib marrow, vertebral body, spinal canal inside a closed cortex
        out &= ~bone_interior(hu, px_cm2)
    lim = float(dec.get("fill_fat_holes_cm2", 1.0)) / px_cm2
    holes, nh = ndi.label(ndi.binary_fill_holes(out) & ~out)
    if nh:
        sizes = np.bincount(holes.ravel(), minlength=nh + 1)
        idx = np.arange(1, nh + 1)
        # fat / noise only: the SMA does not change
        out_of_gate = ndi.maximum(in_muscle_gate(hu), holes, index=idx) == 0
        no_bone = ndi.sum(ndi.gaussian_filter(hu, 1.0) > 200, holes, index=idx) < 4
        fill = np.zeros(nh + 1, bool)
        fill[1:] = (sizes[1:] <= lim) & out_of_gate & no_bone
        out |= fill[holes]
    isl, ni = ndi.label(out, structure=EIGHT)
    if ni:
        sizes = np.bincount(isl.ravel(), minlength=ni + 1)
        sizes[0] = 0
        out = sizes[isl] >= int(dec.get("min_island_px", 10))
    return out


def sat_depth_mm(hu: np.ndarray, row_mm: float, col_mm: float) -> np.ndarray:
    """Distance (mm) from the subcutaneous fat: fat (Gaussian-smoothed 1.5 px HU < -40) connected to the skin
    (the outer 4 px of the body)."""
    body = ndi.binary_fill_holes(ndi.binary_opening(hu > -500, iterations=2))
    skin = body & ~ndi.binary_erosion(body, iterations=4)
    fat = body & (ndi.gaussian_filter(hu, 1.5) < -40)
    lab, n = ndi.label(fat | skin)
    keep = np.unique(lab[skin])
    sat = np.isin(lab, keep[keep > 0]) & fat
    return np.asarray(ndi.distance_transform_edt(~sat, sampling=(row_mm, col_mm)))


def bone_interior(hu: np.ndarray, px_cm2: float, max_cm2: float = 20.0) -> np.ndarray:
    """Pixels enclosed by bone (> 200 HU, closed by 1 px) in holes up to ``max_cm2``: marrow and the canal."""
    bone = ndi.binary_closing(hu > 200, structure=EIGHT)
    holes, n = ndi.label(ndi.binary_fill_holes(bone) & ~bone)
    if n == 0:
        return np.zeros(hu.shape, bool)
    sizes = np.bincount(holes.ravel(), minlength=n + 1)
    ok = sizes * px_cm2 <= max_cm2
    ok[0] = False
    return ok[holes] | (bone & ndi.binary_fill_holes(bone) & (hu <= 200))


def load_decisions(name: str) -> dict[str, Any]:
    p = DECISIONS / f"{name}.json"
    return json.loads(p.read_text()) if p.is_file() else {}


def cmd_build(names: list[str]) -> None:
    for name in names:
        hu, rmm, cmm = load_slice(name)
        px = rmm * cmm / 100.0
        final = build(name, hu, rmm, cmm, load_decisions(name))
        write_mask(mask_path(name), final)
        t, m = candidates(name, hu)
        f = final & in_muscle_gate(hu)
        print(
            f"{name}: reviewed SMA {f.sum() * px:.1f} cm² (teacher {t.sum() * px:.1f}, model {m.sum() * px:.1f}); "
            f"added vs teacher {(f & ~t).sum() * px:.1f}, removed {(t & ~f).sum() * px:.1f}; "
            f"added vs model {(f & ~m).sum() * px:.1f}, removed {(m & ~f).sum() * px:.1f}; "
            f"muscle HU {hu[f].mean():.1f}"
        )


def cmd_stats(name: str, min_px: int) -> None:
    hu, rmm, cmm = load_slice(name)
    px = rmm * cmm / 100.0
    t, m = candidates(name, hu)
    print(f"T {t.sum() * px:.1f} cm², M {m.sum() * px:.1f} cm², A {(t & m).sum() * px:.1f} cm²")
    for key, (lab, n) in pieces(t, m).items():
        if n == 0:
            continue
        idx = np.arange(1, n + 1)
        sizes = ndi.sum(np.ones_like(hu), lab, idx)
        cms = ndi.center_of_mass(np.ones_like(hu), lab, idx)
        mhu = ndi.mean(hu, lab, idx)
        for i in np.argsort(-sizes):
            if sizes[i] < min_px:
                continue
            r, c = cms[i]
            print(f"  {key}{i + 1:<4d} {sizes[i] * px:6.2f} cm²  centre r{r:5.0f} c{c:5.0f}  HU {mhu[i]:5.1f}")
        small = sizes < min_px
        print(f"  {key}: {n} pieces, {small.sum()} below {min_px} px ({sizes[small].sum() * px:.2f} cm²)")


# ---------------------------------------------------------------------------------------------- render
def _font(size: int) -> Any:
    from PIL import ImageFont

    for f in ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(f, size)
        except OSError:
            continue
    return ImageFont.load_default()


def body_box(hu: np.ndarray, cand: np.ndarray, margin: int = 16) -> tuple[int, int, int, int]:
    """Bounding box of the teacher muscle (arms left out) plus a margin; the overview shows the rest."""
    if not cand.any():
        return 0, hu.shape[0], 0, hu.shape[1]
    rr, cc = np.nonzero(cand)
    return (
        max(0, rr.min() - margin),
        min(hu.shape[0], rr.max() + margin + 1),
        max(0, cc.min() - margin),
        min(hu.shape[1], cc.max() + margin + 1),
    )


def tiles(box: tuple[int, int, int, int], size: int, overlap: int = 16) -> list[tuple[int, int, int, int]]:
    r0, r1, c0, c1 = box

    def cuts(a: int, b: int) -> list[tuple[int, int]]:
        n = max(1, int(np.ceil((b - a - overlap) / (size - overlap))))
        step = (b - a - size) / max(1, n - 1) if n > 1 else 0
        return [(int(round(a + i * step)), int(round(a + i * step)) + min(size, b - a)) for i in range(n)]

    return [(a, b, c, d) for a, b in cuts(r0, r1) for c, d in cuts(c0, c1)]


def _edge(mask: np.ndarray) -> np.ndarray:
    return mask & ~ndi.binary_erosion(mask, structure=np.ones((3, 3), bool), border_value=0)


def _panel(
    hu: np.ndarray,
    box: tuple[int, int, int, int],
    z: int,
    layers: list[tuple[str, Any]],
    labels: list[tuple[float, float, str, tuple[int, int, int]]],
    grid: int,
    window: tuple[float, float] = WINDOW,
) -> Any:
    """One zoomed panel: gray image + layers ("fill", mask, rgb, alpha) / ("edge", mask, rgb) + grid + labels."""
    from PIL import Image, ImageDraw

    r0, r1, c0, c1 = box
    g = np.kron(np.clip((hu[r0:r1, c0:c1] - window[0]) / (window[1] - window[0]), 0, 1), np.ones((z, z)))
    rgb = np.stack([g, g, g], -1)
    for kind, spec in layers:
        mk = np.kron(spec[0][r0:r1, c0:c1].astype(np.uint8), np.ones((z, z), np.uint8)).astype(bool)
        rgb_c = np.array(spec[1], float) / 255.0
        if kind == "fill":
            rgb[mk] = (1 - spec[2]) * rgb[mk] + spec[2] * rgb_c
        else:
            rgb[_edge(mk)] = rgb_c
    im = Image.fromarray((rgb * 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    h, w = im.height, im.width
    for r in range((r0 // grid + 1) * grid, r1, grid):
        y = (r - r0) * z + z // 2
        for x in range(0, w, 6):
            d.point((x, y), fill=(90, 200, 255))
    for c in range((c0 // grid + 1) * grid, c1, grid):
        x = (c - c0) * z + z // 2
        for y in range(0, h, 6):
            d.point((x, y), fill=(90, 200, 255))
    f = _font(max(10, 4 * z))
    for lr, lc, text, lcol in labels:
        if r0 <= lr < r1 and c0 <= lc < c1:
            tx, ty = (lc - c0) * z + z // 2, (lr - r0) * z + z // 2
            d.text((tx + 3, ty - 6), text, fill=lcol, font=f, stroke_width=2, stroke_fill=(0, 0, 0))
    return im


def _framed(panels: list[Any], box: tuple[int, int, int, int], z: int, grid: int, title: str) -> Any:
    from PIL import Image, ImageDraw

    r0, r1, c0, c1 = box
    ml, mt, gap = 34, 34, 40
    w = ml + sum(p.width for p in panels) + gap * (len(panels) - 1) + 8
    h = mt + panels[0].height + 24
    out = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(out)
    f = _font(12)
    d.text((ml, 2), title, fill=(0, 0, 0), font=f)
    x = ml
    for p in panels:
        out.paste(p, (x, mt))
        for c in range((c0 // grid + 1) * grid, c1, grid):
            xx = x + (c - c0) * z + z // 2
            d.line([(xx, mt - 5), (xx, mt)], fill=(0, 0, 0))
            d.text((xx - 10, mt - 18), str(c), fill=(0, 0, 180), font=f)
            d.text((xx - 10, mt + p.height + 3), str(c), fill=(0, 0, 180), font=f)
        for r in range((r0 // grid + 1) * grid, r1, grid):
            yy = mt + (r - r0) * z + z // 2
            d.line([(x - 5, yy), (x, yy)], fill=(0, 0, 0))
            d.text((x - 32, yy - 7), str(r), fill=(180, 0, 0), font=f)
        x += p.width + gap
    return out


def _label_points(
    lab: np.ndarray, n: int, min_px: int, prefix: str, col: tuple[int, int, int]
) -> list[tuple[float, float, str, tuple[int, int, int]]]:
    out: list[tuple[float, float, str, tuple[int, int, int]]] = []
    if n == 0:
        return out
    idx = np.arange(1, n + 1)
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    cms = ndi.center_of_mass(np.ones(lab.shape), lab, idx)
    for i, (r, c) in zip(idx, cms, strict=True):
        if sizes[i] < min_px:
            continue
        rr, cc = np.nonzero(lab == i)
        j = np.argmin((rr - r) ** 2 + (cc - c) ** 2)  # a pixel of the piece nearest its centre
        out.append((float(rr[j]), float(cc[j]), f"{prefix}{i}", col))
    return out


def cmd_render(
    name: str,
    what: str,
    box_arg: list[int] | None,
    zoom: int,
    tile: int,
    grid: int,
    out_dir: Path,
    min_px: int,
    narrow: bool = False,
    smooth: bool = False,
) -> list[Path]:
    hu, _, _ = load_slice(name)
    t, m = candidates(name, hu)
    g = in_muscle_gate(hu)
    layers: list[tuple[str, Any]]
    labels: list[tuple[float, float, str, tuple[int, int, int]]] = []
    if what == "cand":
        pc = pieces(t, m)
        layers = [
            ("fill", (pc["t"][0] > 0, (0, 200, 255), 0.55)),
            ("fill", (pc["m"][0] > 0, (255, 0, 220), 0.55)),
            ("edge", (t & m, (255, 230, 0))),
        ]
        labels = (
            _label_points(*pc["t"], min_px, "t", (0, 230, 255))
            + _label_points(*pc["m"], min_px, "m", (255, 90, 240))
            + _label_points(*pc["a"], 4 * min_px, "a", (255, 240, 60))
        )
    else:
        final = read_mask(mask_path(name))
        fg = final & g
        layers = [("fill", (fg, (255, 0, 0), 0.30)), ("edge", (final, (255, 40, 40)))]
        if what == "diff":  # final vs teacher (t-, t+) and model; bright pixels (cartilage, bone, vessel?) in yellow
            layers += [
                ("edge", (t & ~final, (0, 200, 255))),
                ("edge", (m & ~final, (255, 0, 220))),
                ("fill", (fg & (ndi.gaussian_filter(hu, 1.0) > 85), (255, 255, 0), 0.7)),
            ]
    box: tuple[int, int, int, int] = (box_arg[0], box_arg[1], box_arg[2], box_arg[3]) if box_arg else body_box(hu, t)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    tl = [box] if box_arg else tiles(box, tile)
    for i, b in enumerate(tl):
        panels = [_panel(hu, b, zoom, [], [], grid)]
        if narrow:  # W160 / L50: muscle vs liver / kidney / bowel
            panels.append(_panel(hu, b, zoom, [], [], grid, (-30.0, 130.0)))
        if smooth:  # Gaussian 1.2 px, 10..80 HU: muscle (~35 HU) darker than liver / spleen / kidney
            panels.append(_panel(ndi.gaussian_filter(hu, 1.2), b, zoom, [], [], grid, (10.0, 80.0)))
        panels.append(_panel(hu, b, zoom, layers, labels, grid))
        title = (
            f"{name} [{what}] rows {b[0]}-{b[1]} cols {b[2]}-{b[3]} x{zoom}"
            + (" | W160/L50" if narrow else "")
            + (" | smoothed 10..80 HU" if smooth else "")
        )
        im = _framed(panels, b, zoom, grid, title)
        p = out_dir / f"{name}_{what}_{i}.png"
        im.save(p)
        paths.append(p)
    # overview: whole body at x2, overlay only, with the tile boxes
    if not box_arg:
        from PIL import ImageDraw

        ov = _panel(hu, box, 2, layers, [], 40)
        d = ImageDraw.Draw(ov)
        for i, b in enumerate(tl):
            d.rectangle(
                [(b[2] - box[2]) * 2, (b[0] - box[0]) * 2, (b[3] - box[2]) * 2, (b[1] - box[0]) * 2],
                outline=(0, 255, 0),
            )
            d.text(((b[2] - box[2]) * 2 + 4, (b[0] - box[0]) * 2 + 4), str(i), fill=(0, 255, 0), font=_font(14))
        p = out_dir / f"{name}_{what}_overview.png"
        _framed([_panel(hu, box, 2, [], [], 40), ov], box, 2, 40, f"{name} [{what}] overview").save(p)
        paths.append(p)
    return paths


def cmd_montage(out: Path, width: int = 380) -> Path:
    """All finished masks (red = mask within -29..150 HU) over their slices, 3 per row, into one PNG."""
    from PIL import Image, ImageDraw

    from validation.reviewed import names

    cells = []
    for name in names():
        hu, rmm, cmm = load_slice(name)
        mask = read_mask(mask_path(name))
        r0, r1, c0, c1 = body_box(hu, mask, margin=12)
        g = np.clip((hu[r0:r1, c0:c1] - WINDOW[0]) / (WINDOW[1] - WINDOW[0]), 0, 1)
        rgb = np.stack([g, g, g], -1)
        fg = (mask & in_muscle_gate(hu))[r0:r1, c0:c1]
        rgb[fg] = 0.45 * rgb[fg] + 0.55 * np.array([1.0, 0.0, 0.0])
        im = Image.fromarray((rgb * 255).astype(np.uint8))
        im = im.resize((width, max(1, round(im.height * width / im.width))), Image.Resampling.LANCZOS)
        sma = float(fg.sum()) * rmm * cmm / 100.0
        cells.append((im, f"{name}  SMA {sma:.1f} cm²"))
    cols = 3
    rows = (len(cells) + cols - 1) // cols
    hmax = max(c[0].height for c in cells) + 22
    sheet = Image.new("RGB", (cols * (width + 6) + 6, rows * hmax + 6), (255, 255, 255))
    d = ImageDraw.Draw(sheet)
    f = _font(13)
    for i, (im, label) in enumerate(cells):
        x, y = 6 + (i % cols) * (width + 6), 6 + (i // cols) * hmax
        d.text((x, y), label, fill=(0, 0, 0), font=f)
        sheet.paste(im, (x, y + 20))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)  # < 1 MB
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("cand")
    s.add_argument("names", nargs="+")
    s = sub.add_parser("build")
    s.add_argument("names", nargs="+")
    s = sub.add_parser("stats")
    s.add_argument("name")
    s.add_argument("--min-px", type=int, default=20)
    s = sub.add_parser("montage")
    s.add_argument("--out", type=Path, default=REPO / "docs" / "img" / "reviewed_set.png")
    s = sub.add_parser("render")
    s.add_argument("name")
    s.add_argument("--what", choices=["cand", "final", "diff"], default="cand")
    s.add_argument("--box", type=int, nargs=4, metavar=("R0", "R1", "C0", "C1"))
    s.add_argument("--zoom", type=int, default=3)
    s.add_argument("--tile", type=int, default=180)
    s.add_argument("--grid", type=int, default=20)
    s.add_argument("--min-px", type=int, default=20)
    s.add_argument("--out", type=Path, default=RENDERS)
    s.add_argument("--narrow", action="store_true", help="add a W160/L50 panel")
    s.add_argument("--smooth", action="store_true", help="add a smoothed 10..80 HU panel (muscle vs organ)")
    a = ap.parse_args(argv)
    names: list[str] = list(getattr(a, "names", None) or [])
    if names == ["all"]:
        names = list(SLICES)
    if a.cmd == "cand":
        cmd_cand(names)
    elif a.cmd == "build":
        cmd_build(names)
    elif a.cmd == "montage":
        print(cmd_montage(a.out))
    elif a.cmd == "stats":
        cmd_stats(a.name, a.min_px)
    else:
        for p in cmd_render(a.name, a.what, a.box, a.zoom, a.tile, a.grid, a.out, a.min_px, a.narrow, a.smooth):
            print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
