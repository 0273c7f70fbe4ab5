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

import numpy as np
from scipy import ndimage as ndi

from tools.reviewed_build import CAND, build, candidates, load_decisions, pieces
from tools.reviewed_render import montage, render
from validation.reviewed import (
    REPO,
    SLICES,
    data_dir,
    in_muscle_gate,
    load_slice,
    mask_path,
    write_mask,
)

RENDERS = Path("/tmp/reviewed_renders")
MODEL_DIR = REPO / "models" / "sarco-unet-v1"


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
        print(montage(a.out))
    elif a.cmd == "stats":
        cmd_stats(a.name, a.min_px)
    else:
        for p in render(a.name, a.what, a.box, a.zoom, a.tile, a.grid, a.out, a.min_px, a.narrow, a.smooth):
            print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
