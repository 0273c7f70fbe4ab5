"""Reader variability of the blinded reference: two passes of ``tools.blinded_tool`` compared slice by slice.

``python -m tools.blinded_tool compare-passes [--a 1] [--b 2] [--json OUT]`` (run only after both passes are
committed). Per slice present in both passes: the gated Dice of the two masks, the gated SMA of each, the
difference ``b - a`` in cm² and in % of the two readers' mean SMA (symmetric: neither pass is taken as the truth),
and the same per reporting region of :mod:`sarco_core.regions` (diagnostic borders; the same for both masks).
The summary (medians over the slices) is the reader variability a model difference must exceed to be measurable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sarco_core.metrics import dice
from tools.blinded_build import build, read_selection, selection_path
from validation.reviewed import SLICES, in_muscle_gate, load_slice


def _pct(diff: float, sma_a: float, sma_b: float) -> float:
    mean = 0.5 * (sma_a + sma_b)
    return 0.0 if mean == 0 else 100.0 * diff / mean


def pass_masks(name: str, pass_no: int) -> np.ndarray:
    """The gated mask (bool, native grid) of one pass on one slice, rebuilt from its selection."""
    hu, row_mm, col_mm = load_slice(name)
    return np.asarray(build(hu, row_mm, col_mm, read_selection(name, pass_no)) & in_muscle_gate(hu), bool)


def compare_pair(hu: np.ndarray, row_mm: float, col_mm: float, a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    """Agreement of two gated masks of one slice: Dice, SMA of each, b - a (cm², % of the mean), per region."""
    from sarco_core.regions import REGION_ORDER, slice_regions

    px = row_mm * col_mm / 100.0
    sma_a, sma_b = float(a.sum()) * px, float(b.sum()) * px
    regs = slice_regions(hu, row_mm=row_mm, col_mm=col_mm)
    regions = {}
    for r in REGION_ORDER:
        ra, rb = a & regs.mask(r), b & regs.mask(r)
        ca, cb = float(ra.sum()) * px, float(rb.sum()) * px
        regions[r.value] = {"dice": dice(ra, rb), "sma_a_cm2": ca, "sma_b_cm2": cb, "diff_cm2": cb - ca}
    return {
        "dice": dice(a, b),
        "sma_a_cm2": sma_a,
        "sma_b_cm2": sma_b,
        "diff_cm2": sma_b - sma_a,
        "diff_pct": _pct(sma_b - sma_a, sma_a, sma_b),
        "regions": regions,
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the slices (empty dict for no slices)."""
    if not rows:
        return {}
    out: dict[str, Any] = {
        "median_dice": float(np.median([r["dice"] for r in rows])),
        "min_dice": float(np.min([r["dice"] for r in rows])),
        "median_abs_diff_pct": float(np.median([abs(r["diff_pct"]) for r in rows])),
        "max_abs_diff_pct": float(np.max([abs(r["diff_pct"]) for r in rows])),
        "median_signed_diff_pct": float(np.median([r["diff_pct"] for r in rows])),
    }
    regions = rows[0]["regions"]
    out["regions_median_abs_diff_cm2"] = {
        k: float(np.median([abs(r["regions"][k]["diff_cm2"]) for r in rows])) for k in regions
    }
    out["regions_median_signed_diff_cm2"] = {
        k: float(np.median([r["regions"][k]["diff_cm2"] for r in rows])) for k in regions
    }
    return out


def compare_passes(pass_a: int = 1, pass_b: int = 2, names: list[str] | None = None) -> dict[str, Any]:
    """Pass ``b`` against pass ``a`` on every slice (of ``names``, default the registry) that has a selection in
    both (see the module docstring)."""
    rows = []
    for name in names or list(SLICES):
        if not (selection_path(name, pass_a).is_file() and selection_path(name, pass_b).is_file()):
            continue
        hu, row_mm, col_mm = load_slice(name)
        row = compare_pair(hu, row_mm, col_mm, pass_masks(name, pass_a), pass_masks(name, pass_b))
        rows.append({"name": name, **row})
    return {
        "pass_a": pass_a,
        "pass_b": pass_b,
        "diff": "b - a; % of the mean of the two SMAs",
        "n_slices": len(rows),
        "per_slice": rows,
        "summary": summarize(rows),
    }


def report_lines(rep: dict[str, Any]) -> list[str]:
    """Plain-text table of :func:`compare_passes`."""
    a, b = rep["pass_a"], rep["pass_b"]
    lines = [f"{'slice':<28} pass{a} cm2  pass{b} cm2   diff %   Dice   per region (b - a, cm2)"]
    for r in rep["per_slice"]:
        regs = "  ".join(
            f"{k} {v['diff_cm2']:+.1f}" for k, v in r["regions"].items() if v["sma_a_cm2"] + v["sma_b_cm2"]
        )
        lines.append(
            f"{r['name']:<28} {r['sma_a_cm2']:9.1f} {r['sma_b_cm2']:9.1f} {r['diff_pct']:+7.1f} {r['dice']:6.3f}"
            f"   {regs}"
        )
    s = rep["summary"]
    if s:
        lines.append(
            f"pass {b} vs pass {a} ({rep['n_slices']} slices): median Dice {s['median_dice']:.3f}"
            f" (min {s['min_dice']:.3f}), median |SMA diff| {s['median_abs_diff_pct']:.1f} %"
            f" (max {s['max_abs_diff_pct']:.1f} %,"
            f" signed {s['median_signed_diff_pct']:+.1f} %)"
        )
    return lines
