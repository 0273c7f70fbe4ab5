"""Blinded reference tool: muscle masks drawn from the IMAGE ALONE (never from a teacher / model mask).

Workflow per slice (``NAME`` from :data:`validation.reviewed.SLICES`, pass ``P`` = 1, 2, ...)::

    python -m tools.blinded_tool render NAME [--pass P] [--box r0 r1 c0 c1] [--zoom Z]
        # -> /tmp/blinded_renders/NAME_pP.png: W400/L40 | W160/L50 | HU-gated components with ids + a row/col grid
    # write validation/reviewed/blinded/passP/NAME.json (the selection; see below), render again, repeat
    python -m tools.blinded_tool build NAME [--pass P]    # selection -> mask (in memory) + its figures
    python -m tools.blinded_tool compare [--pass P] [--json OUT]
        # the pass against the earlier reviewed set (and the stored v1 model / a4b5dbf teacher candidates)
    python -m tools.blinded_tool compare-passes [--a 1] [--b 2] [--json OUT]
        # reader variability: pass b against pass a (tools/blinded_passes.py)

What the reader sees is the CT only: two windows and the connected components of the HU-gated soft tissue of the
trunk (−29..150 HU on a 3×3 median-filtered slice, inside the body outline of :func:`find_body`, bone enclosed
by cortex, the vertebral body and the spinal canal taken out), split at thin
bridges by an opening of ``open_mm`` and by the reader's ``cuts``, numbered by size (1 = largest). Nothing in this
module reads the reviewed masks, the candidates or a segmenter except ``compare``, which runs after the selection.

Selection file (JSON, a few hundred bytes: the data are never copied)::

    {"name": NAME, "pass": 1, "date": "YYYY-MM-DD", "reader": "...", "convention": "docs/convention.md",
     "open_mm": 1.0,                       # bridges narrower than ~2 x this split components
     "smooth_mm": 0,                       # optional: gate a Gaussian-smoothed slice (sigma mm; low-dose noise)
     "cuts": [[[r, c], [r, c], ...], ...], # polylines (native row, col) drawn as 2-px barriers before numbering
     "keep": [ids],                        # components that are skeletal muscle (docs/convention.md)
     "max_depth": [{"ids": [ids], "mm": 9, "poly": [[r, c], ...]}],   # optional: inside poly, pixels of these
                                           # components deeper than mm under the outer surface of the muscle ring
                                           # are dropped - a wall band of the thickness seen where its inner
                                           # boundary is visible, where an organ of the same density lies against it
     "remove": [[[r, c], ...], ...],       # polygons removed from the result (e.g. skin, crus), optional
     "add": [[[r, c], ...], ...],          # polygons whose gated pixels are added, optional
     "notes": ["..."]}

The mask is the chosen components grown back over the pixels the opening took (every gated pixel goes to its nearest
component; a pixel of a chosen one is kept), holes ≤ 1 cm² of out-of-gate pixels filled (a compartment, like the
reviewed set; the gated area is unchanged), polygons applied. It is rebuilt the same from the JSON every time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from sarco_core.metrics import DEFAULT_GATES
from validation.reviewed import HERE, SLICES, data_dir, in_muscle_gate, load_slice, mask_path, read_mask

GATE = DEFAULT_GATES.muscle  # Alberta protocol skeletal-muscle range (Mourtzakis et al. 2008; docs/convention.md)
MIN_COMPONENT_PX = 20
HOLE_MAX_CM2 = 1.0
BLINDED = HERE / "blinded"
RENDERS = Path("/tmp/blinded_renders")
EIGHT = np.ones((3, 3), bool)


def selection_path(name: str, pass_no: int) -> Path:
    return BLINDED / f"pass{pass_no}" / f"{name}.json"


def poly_mask(shape: tuple[int, ...], poly: list[list[float]], *, line_px: int = 0) -> np.ndarray:
    """Filled polygon (``line_px`` = 0) or a polyline ``line_px`` wide, vertices (row, col)."""
    from PIL import Image, ImageDraw

    im = Image.new("1", (shape[1], shape[0]), 0)
    pts = [(float(c), float(r)) for r, c in poly]
    if line_px:
        ImageDraw.Draw(im).line(pts, fill=1, width=line_px)
    else:
        ImageDraw.Draw(im).polygon(pts, fill=1, outline=1)
    return np.array(im, dtype=bool)


def components(hu: np.ndarray, row_mm: float, col_mm: float, sel: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(component ids per pixel (0 = none), the gated soft tissue of the trunk: the median-filtered gate the
    components were cut from, plus the pixels of the raw gate - what the SMA counts - not in bone)."""
    from sarco_core.body import find_body, opening
    from sarco_core.segment.teacher.anatomy import bone_mask, find_vertebra

    px_mm = float(np.sqrt(row_mm * col_mm))
    trunk = find_body(hu, px_mm).trunk
    hs = ndi.median_filter(hu, size=3)
    if sel.get("smooth_mm"):  # low-dose noise: components of a Gaussian-smoothed slice (bone still from hs)
        soft_hu = ndi.gaussian_filter(hu, float(sel["smooth_mm"]) / px_mm)
    else:
        soft_hu = hs
    # bone: dense cortex closed and filled, so marrow (often < 150 HU) enclosed by cortex is never a component
    bone = bone_mask(hs, trunk, px_mm)
    vert = find_vertebra(bone, trunk, px_mm, hs)  # the vertebral body (convex hull of its bone) and the canal
    soft = in_muscle_gate(soft_hu) & trunk & ~bone & ~(vert.mask if vert is not None else False)
    core = opening(soft, float(sel.get("open_mm", 1.0)) / px_mm)
    for cut in sel.get("cuts", []):
        core &= ~poly_mask(hu.shape, cut, line_px=2)
    lab, n = ndi.label(core, structure=EIGHT)
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    order = [k for k in np.argsort(-sizes[1:], kind="stable") + 1 if sizes[k] >= MIN_COMPONENT_PX]
    ids = np.zeros(n + 1, np.int32)
    ids[order] = np.arange(1, len(order) + 1)
    if sel.get("smooth_mm"):  # low-dose: raw-gate pixels are mostly noise at the edges; the compartment is smooth
        return ids[lab], soft
    return ids[lab], soft | (in_muscle_gate(hu) & trunk & ~bone & ~(vert.mask if vert is not None else False))


def build(hu: np.ndarray, row_mm: float, col_mm: float, sel: dict[str, Any]) -> np.ndarray:
    """The reference mask (bool, native grid) of a selection (see the module docstring)."""
    comp, soft = components(hu, row_mm, col_mm, sel)
    keep = np.isin(comp, np.asarray(sel.get("keep", []), np.int32)) & (comp > 0)
    # the pixels the opening and the cuts took come back to their nearest component (within the opening radius +
    # 1.5 px: thin tissue the opening removed entirely, such as skin without fat under it, stays out)
    dist, (ir, ic) = ndi.distance_transform_edt(comp == 0, return_indices=True)
    reach_px = float(sel.get("open_mm", 1.0)) / float(np.sqrt(row_mm * col_mm)) + 1.5
    mask = soft & keep[ir, ic] & (dist <= reach_px)
    if sel.get("max_depth"):
        from sarco_core.body import find_body
        from sarco_core.segment.teacher.anatomy import fascia_interior

        px_mm = float(np.sqrt(row_mm * col_mm))
        hs = ndi.median_filter(hu, size=3)
        ring = fascia_interior(hs, find_body(hu, px_mm).trunk, px_mm).mask
        depth_mm = ndi.distance_transform_edt(ring, sampling=(row_mm, col_mm))
        owner = comp[ir, ic]
        for op in sel["max_depth"]:
            inside = poly_mask(hu.shape, op["poly"]) & np.isin(owner, np.asarray(op["ids"], np.int32))
            mask &= ~(inside & (depth_mm > float(op["mm"])))
    for poly in sel.get("add", []):
        mask |= poly_mask(hu.shape, poly) & in_muscle_gate(hu)
    for poly in sel.get("remove", []):
        mask &= ~poly_mask(hu.shape, poly)
    holes = ndi.binary_fill_holes(mask) & ~mask
    lab, n = ndi.label(holes)
    if n:
        sizes = np.bincount(lab.ravel()) * row_mm * col_mm / 100.0
        bone = np.bincount(lab.ravel(), weights=(hu > GATE[1]).ravel())
        small = (sizes <= HOLE_MAX_CM2) & (bone == 0)
        small[0] = False
        mask |= small[lab]
    return np.asarray(mask, bool)


def read_selection(name: str, pass_no: int) -> dict[str, Any]:
    p = selection_path(name, pass_no)
    if not p.is_file():
        return {"name": name, "pass": pass_no, "open_mm": 1.0, "cuts": [], "keep": []}
    return dict(json.loads(p.read_text()))


# ---------------------------------------------------------------------------------------------- figures
def _window(hu: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (np.clip((hu - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def render(name: str, pass_no: int, box: tuple[int, int, int, int] | None, zoom: int, final: bool) -> Path:
    from PIL import Image, ImageDraw

    hu, row_mm, col_mm = load_slice(name)
    sel = read_selection(name, pass_no)
    comp, _ = components(hu, row_mm, col_mm, sel)
    if box is None:
        rr, cc = np.nonzero(comp > 0)
        box = (max(0, rr.min() - 5), rr.max() + 6, max(0, cc.min() - 5), cc.max() + 6)
    r0, r1, c0, c1 = box
    sub = (slice(r0, r1), slice(c0, c1))
    w1 = _window(hu, -160, 240)[sub]
    w2 = _window(hu, -30, 130)[sub]
    rng = np.random.default_rng(0)
    pal = rng.integers(60, 255, size=(int(comp.max()) + 1, 3)).astype(np.uint8)
    base = np.stack([w1] * 3, -1).astype(np.float32)
    c = comp[sub]
    if final:
        m = build(hu, row_mm, col_mm, sel)[sub]
        over = base.copy()
        over[m] = 0.55 * over[m] + 0.45 * np.array([255, 40, 40])
        edge = m & ~ndi.binary_erosion(m)
        over[edge] = [255, 255, 0]
    else:
        over = base.copy()
        col = pal[c].astype(np.float32)
        over[c > 0] = 0.45 * over[c > 0] + 0.55 * col[c > 0]
    panels = [np.stack([w1] * 3, -1), np.stack([w2] * 3, -1), over.astype(np.uint8)]
    ims = [Image.fromarray(p).resize((p.shape[1] * zoom, p.shape[0] * zoom), Image.Resampling.NEAREST) for p in panels]
    d = ImageDraw.Draw(ims[2])
    step = 20 if (r1 - r0) < 200 else 50
    for r in range((r0 // step + 1) * step, r1, step):
        d.line([(0, (r - r0) * zoom), (8, (r - r0) * zoom)], fill=(0, 255, 255))
        d.text((10, (r - r0) * zoom - 5), str(r), fill=(0, 255, 255))
    for cc_ in range((c0 // step + 1) * step, c1, step):
        d.line([((cc_ - c0) * zoom, 0), ((cc_ - c0) * zoom, 8)], fill=(0, 255, 255))
        d.text(((cc_ - c0) * zoom - 8, 10), str(cc_), fill=(0, 255, 255))
    if not final:
        for k in range(1, int(c.max()) + 1):
            m = c == k
            if m.sum() < MIN_COMPONENT_PX:
                continue
            pr, pc = np.nonzero(m)
            j = int(np.argmin((pr - pr.mean()) ** 2 + (pc - pc.mean()) ** 2))  # a pixel of the piece near its centre
            d.text(
                (pc[j] * zoom - 4, pr[j] * zoom - 5),
                str(k),
                fill=(255, 255, 255),
                stroke_width=2,
                stroke_fill=(0, 0, 0),
            )
    for cut in sel.get("cuts", []):
        d.line([((cc_ - c0) * zoom, (r - r0) * zoom) for r, cc_ in cut], fill=(255, 0, 255), width=1)
    out = Image.new("RGB", (sum(i.width for i in ims) + 8, ims[0].height), (0, 0, 0))
    x = 0
    for i in ims:
        out.paste(i, (x, 0))
        x += i.width + 4
    RENDERS.mkdir(parents=True, exist_ok=True)
    p = RENDERS / f"{name}_p{pass_no}{'_final' if final else ''}.png"
    out.save(p)
    return p


# ---------------------------------------------------------------------------------------------- comparison
def _dice(a: np.ndarray, b: np.ndarray) -> float:
    s = int(a.sum()) + int(b.sum())
    return 1.0 if s == 0 else 2.0 * float((a & b).sum()) / s


def run_methods(name: str, methods: list[str]) -> dict[str, np.ndarray]:
    """Muscle masks of the current segmenters on one slice (only after a pass is fixed: ``compare --run``)."""
    from sarco_core.io import load
    from sarco_core.segment.registry import get_segmenter

    rel, k = SLICES[name]
    vol = load(data_dir() / rel)
    out = {}
    for m in methods:
        res = get_segmenter(m).segment(vol, [k])[0]
        out[m] = np.asarray(res.labels) == 1
    return out


def compare(pass_no: int, methods: list[str] | None = None) -> dict[str, Any]:
    """The pass against the reviewed set (and the stored candidates the reviewed set started from, and with
    ``methods`` the current segmenters): gated Dice, gated SMA difference (cm², % of the blinded SMA), per slice
    and medians."""
    from sarco_core.regions import REGION_ORDER, slice_regions

    rows = []
    for name in SLICES:
        if not selection_path(name, pass_no).is_file():
            continue
        hu, row_mm, col_mm = load_slice(name)
        px = row_mm * col_mm / 100.0
        g = in_muscle_gate(hu)
        blind = build(hu, row_mm, col_mm, read_selection(name, pass_no)) & g
        others = {"reviewed": read_mask(mask_path(name)) & g}
        for kind in ("model", "teacher"):
            p = HERE / "candidates" / f"{name}_{kind}.png"
            if p.is_file():
                others[f"cand_{kind}"] = read_mask(p) & g
        for m, mask in run_methods(name, methods or []).items():
            others[m] = mask & g
        regs = slice_regions(hu, row_mm=row_mm, col_mm=col_mm)
        row: dict[str, Any] = {"name": name, "sma_blinded_cm2": float(blind.sum()) * px}
        for k, m in others.items():
            sma = float(m.sum()) * px
            row[k] = {
                "dice": _dice(blind, m),
                "sma_cm2": sma,
                "diff_cm2": sma - row["sma_blinded_cm2"],
                "diff_pct": 100.0 * (sma - row["sma_blinded_cm2"]) / row["sma_blinded_cm2"],
            }
        row["regions_reviewed_minus_blinded_cm2"] = {
            r.value: float((others["reviewed"] & regs.mask(r)).sum() - (blind & regs.mask(r)).sum()) * px
            for r in REGION_ORDER
        }
        rows.append(row)
    summary: dict[str, Any] = {}
    for k in ("reviewed", "cand_model", "cand_teacher", *(methods or [])):
        vals = [r[k] for r in rows if k in r]
        if vals:
            summary[k] = {
                "median_dice": float(np.median([v["dice"] for v in vals])),
                "min_dice": float(np.min([v["dice"] for v in vals])),
                "median_abs_diff_pct": float(np.median([abs(v["diff_pct"]) for v in vals])),
                "median_signed_diff_pct": float(np.median([v["diff_pct"] for v in vals])),
            }
    return {"pass": pass_no, "n_slices": len(rows), "per_slice": rows, "summary": summary}


def export(pass_no: int, out: Path) -> Path:
    """Every mask of a pass as a 1-bit PNG in ``out`` plus ``out/index.json`` (what ``data.reference_dir`` of a
    training config reads: :func:`sarco_core.train.data.load_references`). Built data: keep it out of git."""
    from validation.reviewed import write_mask

    entries = []
    for name in SLICES:
        if not selection_path(name, pass_no).is_file():
            continue
        hu, row_mm, col_mm = load_slice(name)
        write_mask(out / f"{name}.png", build(hu, row_mm, col_mm, read_selection(name, pass_no)))
        rel, k = SLICES[name]
        entries.append({"name": name, "ct": rel, "k": k, "mask": f"{name}.png", "row_mm": row_mm, "col_mm": col_mm})
    idx = out / "index.json"
    idx.write_text(json.dumps({"pass": pass_no, "slices": entries}, indent=1) + "\n")
    return idx


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.blinded_tool", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for c in ("render", "build"):
        s = sub.add_parser(c)
        s.add_argument("name", choices=list(SLICES))
        s.add_argument("--pass", dest="pass_no", type=int, default=1)
        s.add_argument("--box", type=int, nargs=4, default=None)
        s.add_argument("--zoom", type=int, default=2)
    s = sub.add_parser("compare")
    s.add_argument("--pass", dest="pass_no", type=int, default=1)
    s.add_argument("--json", default=None)
    s.add_argument(
        "--run",
        nargs="*",
        default=[],
        choices=["model", "teacher", "threshold"],
        help="also run these current segmenters on the slices (after the pass is fixed)",
    )
    s = sub.add_parser("export", help="masks of a pass as 1-bit PNGs + index.json (data.reference_dir of training)")
    s.add_argument("--pass", dest="pass_no", type=int, default=1)
    s.add_argument("--out", required=True)
    s = sub.add_parser("compare-passes", help="reader variability: pass b vs pass a (Dice, SMA %, per region)")
    s.add_argument("--a", type=int, default=1)
    s.add_argument("--b", type=int, default=2)
    s.add_argument("--json", default=None)
    s = sub.add_parser("new")
    s.add_argument("name", choices=list(SLICES))
    s.add_argument("--pass", dest="pass_no", type=int, default=1)
    s.add_argument("--reader", default="developer")
    a = ap.parse_args(argv)
    if a.cmd == "render":
        print(render(a.name, a.pass_no, tuple(a.box) if a.box else None, a.zoom, final=False))
    elif a.cmd == "build":
        hu, row_mm, col_mm = load_slice(a.name)
        m = build(hu, row_mm, col_mm, read_selection(a.name, a.pass_no))
        print(f"{a.name}: gated SMA {float((m & in_muscle_gate(hu)).sum()) * row_mm * col_mm / 100:.1f} cm2")
        print(render(a.name, a.pass_no, tuple(a.box) if a.box else None, a.zoom, final=True))
    elif a.cmd == "export":
        print(export(a.pass_no, Path(a.out)))
    elif a.cmd == "compare-passes":
        from tools.blinded_passes import compare_passes, report_lines

        rep = compare_passes(a.a, a.b)
        print("\n".join(report_lines(rep)))
        if a.json:
            Path(a.json).write_text(json.dumps(rep, indent=1) + "\n")
    elif a.cmd == "new":
        p = selection_path(a.name, a.pass_no)
        if p.exists():
            print(f"{p} exists: not overwritten", file=sys.stderr)
            return 2
        p.parent.mkdir(parents=True, exist_ok=True)
        sel = {
            "name": a.name,
            "pass": a.pass_no,
            "date": dt.date.today().isoformat(),
            "reader": a.reader,
            "convention": "docs/convention.md",
            "open_mm": 1.0,
            "cuts": [],
            "keep": [],
            "remove": [],
            "add": [],
            "notes": [],
        }
        p.write_text(json.dumps(sel, indent=1) + "\n")
        print(p)
    else:
        rep = compare(a.pass_no, a.run)
        for r in rep["per_slice"]:
            rv = r["reviewed"]
            print(
                f"{r['name']:<28} blinded {r['sma_blinded_cm2']:6.1f}  reviewed {rv['sma_cm2']:6.1f} "
                f"({rv['diff_pct']:+5.1f} %)  Dice {rv['dice']:.3f}"
                + "".join(
                    f"  {k} Dice {r[k]['dice']:.3f} ({r[k]['diff_pct']:+5.1f} %)"
                    for k in ("cand_model", "cand_teacher", *a.run)
                    if k in r
                )
            )
        for k, v in rep["summary"].items():
            print(
                f"{k:<13} vs blinded: median Dice {v['median_dice']:.3f} (min {v['min_dice']:.3f}), median |SMA "
                f"diff| {v['median_abs_diff_pct']:.1f} % (signed {v['median_signed_diff_pct']:+.1f} %)"
            )
        if a.json:
            Path(a.json).write_text(json.dumps(rep, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
