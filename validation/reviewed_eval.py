"""Threshold, teacher and model against the reviewed real-CT muscle reference (``validation/reviewed/``).

``python -m validation.reviewed_eval [--methods threshold,teacher,model] [--json OUT]`` prints, per slice and method,
the HU-gated Dice, the gated SMA of the reference and of the method (cm², mask ∩ -29..150 HU) and the signed SMA
error ((method - reference) / reference × 100), then per method the median Dice and the median absolute SMA error.
The teacher runs as the code is now (its last commit is printed); the model is ``models/sarco-unet-v1``;
``cand_teacher`` / ``cand_model`` score the stored candidate masks the review started from (teacher a4b5dbf,
sarco-unet-v1 1.0.0; see ``validation/reviewed/candidates/candidates.json``). The reference was made from those
candidates, so every figure here is optimistic for them (see the README of the set).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from validation.reviewed import REPO, SLICES, load_reviewed, names

GATE = (-29.0, 150.0)
METHODS = ("threshold", "teacher", "model")
CANDIDATES = ("cand_teacher", "cand_model")  # the stored candidate masks the review started from (candidates.json)
MODEL_DIR = REPO / "models" / "sarco-unet-v1"


def teacher_commit() -> str:
    files = [str(p) for p in sorted((REPO / "sarco_core" / "segment").glob("teacher*.py"))]
    try:
        commit = subprocess.run(
            ["git", "log", "-1", "--format=%h", "--", *files], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *files], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):  # pragma: no cover - no git
        return "unknown"
    return commit + ("+uncommitted changes" if dirty else "")


def coarse_case(
    hu: np.ndarray, ref: np.ndarray, row_mm: float, col_mm: float, pixel_mm: float
) -> tuple[Any, np.ndarray]:
    """The slice re-acquired at ``pixel_mm`` (area average) as a one-slice Volume, and the reference on that grid
    by the gated-area convention of the training copies (``sarco_core.train.coarse``)."""
    from sarco_core.segment.model.prep import scaled_shape
    from sarco_core.train.coarse import coarse_labels
    from sarco_core.volume import Volume

    shape = scaled_shape((hu.shape[0], hu.shape[1]), row_mm, col_mm, pixel_mm)
    hc, rc = coarse_labels(hu, ref.astype(np.uint8), shape)
    pr, pc = hu.shape[0] * row_mm / shape[0], hu.shape[1] * col_mm / shape[1]
    aff = np.array([[0, 0, pc, 0], [0, pr, 0, 0], [pixel_mm, 0, 0, 0], [0, 0, 0, 1.0]])
    vol = Volume.from_canonical(hu=np.round(hc)[None].astype(np.int16), affine=aff, single_slice_thickness_mm=pixel_mm)
    return vol, rc == 1


def _methods(which: list[str], model_dir: Path = MODEL_DIR) -> dict[str, Callable[[str, Any, int], np.ndarray]]:
    """method -> f(slice name, volume, canonical index) -> bool muscle mask."""
    out: dict[str, Callable[[str, Any, int], np.ndarray]] = {}
    if "threshold" in which:
        from sarco_core.segment.threshold import ThresholdSegmenter

        thr = ThresholdSegmenter()
        out["threshold"] = lambda name, vol, k: np.asarray(thr.segment(vol, [k])[0].labels == 1)
    if "teacher" in which:
        from sarco_core.segment.teacher import segment_slice

        def teacher(name: str, vol: Any, k: int) -> np.ndarray:
            sp = vol.spacing_mm
            return np.asarray(segment_slice(np.asarray(vol.hu[k], np.float32), sp.row, sp.col)[0] == 1)

        out["teacher"] = teacher
    if "model" in which:
        from sarco_core.segment.model import Segmenter

        seg = Segmenter.from_dir(model_dir)
        out["model"] = lambda name, vol, k: np.asarray(seg.segment(vol, [k])[0].labels == 1)
    for c in CANDIDATES:
        if c in which:
            out[c] = _stored(c.split("_")[1])
    return out


def _stored(kind: str) -> Callable[[str, Any, int], np.ndarray]:
    from validation.reviewed import HERE, read_mask

    return lambda name, vol, k: read_mask(HERE / "candidates" / f"{name}_{kind}.png")


def evaluate(
    which: tuple[str, ...] | list[str] = METHODS,
    only: list[str] | None = None,
    model_dir: Path = MODEL_DIR,
    pixel_mm: float | None = None,
) -> dict[str, Any]:
    """Score the methods on every reviewed slice; ``pixel_mm``: on the slices re-acquired at that pixel size."""
    from sarco_core.io import load

    fns = _methods(list(which), model_dir)
    if pixel_mm is not None and any(m in fns for m in CANDIDATES):
        raise ValueError("the stored candidates exist on the native grid only: drop cand_* with --pixel-mm")
    rows: list[dict[str, Any]] = []
    for name in only or names():
        path, k, ref = load_reviewed(name)
        vol = load(path)
        hu = np.asarray(vol.hu[k], np.float32)
        if ref.shape != hu.shape:
            raise ValueError(f"{name}: mask {ref.shape} is not on the CT grid {hu.shape}")
        if pixel_mm is not None:
            vol, ref = coarse_case(hu, ref, vol.spacing_mm.row, vol.spacing_mm.col, pixel_mm)
            hu, k = np.asarray(vol.hu[0], np.float32), 0
        px = vol.spacing_mm.row * vol.spacing_mm.col / 100.0
        g = (hu >= GATE[0]) & (hu <= GATE[1])
        rg = ref & g
        ref_sma = float(rg.sum() * px)
        row: dict[str, Any] = {
            "name": name,
            "source": SLICES[name][0],
            "index": k,
            "sma_ref_cm2": round(ref_sma, 2),
            "muscle_hu_ref": round(float(hu[rg].mean()), 1),
        }
        for meth, fn in fns.items():
            pg = fn(name, vol, k) & g
            sma = float(pg.sum() * px)
            dice = 2.0 * float((pg & rg).sum()) / max(1.0, float(pg.sum() + rg.sum()))
            row[meth] = {
                "dice": round(dice, 4),
                "sma_cm2": round(sma, 2),
                "error_pct": round((sma - ref_sma) / ref_sma * 100.0, 2),
            }
        rows.append(row)
    summary = {}
    for meth in fns:
        d = [r[meth]["dice"] for r in rows]
        e = [r[meth]["error_pct"] for r in rows]
        summary[meth] = {
            "median_dice": round(float(np.median(d)), 4),
            "min_dice": round(float(np.min(d)), 4),
            "median_abs_sma_error_pct": round(float(np.median(np.abs(e))), 2),
            "median_signed_sma_error_pct": round(float(np.median(e)), 2),
            "max_abs_sma_error_pct": round(float(np.max(np.abs(e))), 2),
        }
    model = None
    if "model" in fns:
        cfg = json.loads((model_dir / "config.json").read_text())
        model = f"{cfg.get('name', 'sarco-unet-v1')} {cfg.get('version', '')}".strip()
    return {
        "n_slices": len(rows),
        "teacher_commit": teacher_commit() if "teacher" in fns else None,
        "model": model,
        "pixel_mm": pixel_mm,
        "gate_hu": list(GATE),
        "per_slice": rows,
        "summary": summary,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--methods",
        default=",".join(METHODS),
        help="comma-separated: threshold,teacher,model (the code as it is now) and/or cand_teacher,"
        "cand_model (the stored candidate masks the review started from)",
    )
    ap.add_argument("--names", default="", help="comma-separated slice names (default: every finished mask)")
    ap.add_argument("--model-dir", type=Path, default=MODEL_DIR, help="model folder (default: the shipped model)")
    ap.add_argument(
        "--pixel-mm",
        type=float,
        help="score on the slices re-acquired at this pixel size (area "
        "average; reference by the gated-area convention of sarco_core.train.coarse), e.g. 3",
    )
    ap.add_argument("--json", type=Path, help="write the report here")
    a = ap.parse_args(argv)
    which = [m for m in a.methods.split(",") if m]
    bad = [m for m in which if m not in METHODS + CANDIDATES]
    if bad:
        ap.error(f"unknown method(s) {bad}")
    rep = evaluate(which, [n for n in a.names.split(",") if n] or None, a.model_dir, a.pixel_mm)
    grid = f"re-acquired at {a.pixel_mm} mm" if a.pixel_mm else "native pixels"
    print(
        f"reviewed set: {rep['n_slices']} slices ({grid}); teacher commit {rep['teacher_commit']}; model {rep['model']}"
    )
    head = f"{'slice':30s} {'ref cm²':>8s}" + "".join(f" | {m:>9s} dice  cm²    err%" for m in which)
    print(head)
    for r in rep["per_slice"]:
        line = f"{r['name']:30s} {r['sma_ref_cm2']:8.1f}"
        for m in which:
            x = r[m]
            line += f" | {x['dice']:14.3f} {x['sma_cm2']:6.1f} {x['error_pct']:+7.1f}"
        print(line)
    for m, s in rep["summary"].items():
        print(
            f"{m:9s}: median Dice {s['median_dice']:.3f} (min {s['min_dice']:.3f}), median |SMA error| "
            f"{s['median_abs_sma_error_pct']:.1f} % (signed median {s['median_signed_sma_error_pct']:+.1f} %, "
            f"max {s['max_abs_sma_error_pct']:.1f} %)"
        )
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(rep, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
