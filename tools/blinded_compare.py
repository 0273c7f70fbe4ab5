"""A blinded pass against the reviewed set, the stored candidates it started from and (``compare --run``) the
current segmenters: gated Dice and SMA difference per slice, and medians (used by :mod:`tools.blinded_tool`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from sarco_core.metrics import dice
from tools.blinded_build import build, read_selection, selection_path
from validation.reviewed import HERE, SLICES, data_dir, in_muscle_gate, load_slice, mask_path, read_mask


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
                "dice": dice(blind, m),
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
