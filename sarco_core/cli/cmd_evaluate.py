"""``sarco evaluate IMAGE TRUTH_MASK [--method model|teacher|threshold] [--vertebrae LABELS] [--json]``: agreement
with a reference, overall, per anatomical region and per vertebral level. Against a model-made reference (the
TotalSegmentator mask) this is a validation-only diagnostic, not a pass/fail target."""

from __future__ import annotations

import argparse
from typing import Any

from sarco_core.cli import print_json
from sarco_core.evaluate import BASELINE_METHODS, evaluate_paths
from sarco_core.segment.base import METHODS

NAME = "evaluate"
HELP = (
    "Compare a segmentation method with a reference muscle mask (NIfTI on the image's grid) on every slice "
    "where the reference has muscle: HU-gated Dice, raw Dice, SMA error, per region (abdominal wall, back, "
    "psoas-crus zone, inner layer against organs) and per vertebral level; threshold and teacher baselines beside. "
    "A diagnostic of where two masks differ, not a pass/fail test."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", help="CT image: DICOM folder/file/zip or NIfTI")
    p.add_argument("truth", metavar="TRUTH_MASK", help="reference mask NIfTI: 0/1 muscle, or labels (1 = muscle)")
    p.add_argument(
        "--method",
        choices=METHODS,
        default=None,
        help="method to evaluate (default: the shipped model when one exists, else the teacher)",
    )
    p.add_argument(
        "--vertebrae",
        metavar="LABELS",
        default=None,
        help="vertebra label map (NIfTI, TotalSegmentator ids, any grid: matched by world z) to report "
        "per level (T12, L1, ...)",
    )
    p.add_argument("--no-baselines", action="store_true", help="skip the teacher and threshold baselines")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    report = evaluate_paths(
        args.image,
        args.truth,
        method=args.method,
        baselines=() if args.no_baselines else BASELINE_METHODS,
        vertebrae=args.vertebrae,
    )
    d = report.to_dict()
    if args.json:
        print_json(d)
        return 0

    def f(v: float | None, w: int = 7, p: int = 3) -> str:
        return f"{v:>{w}.{p}f}" if v is not None else f"{'-':>{w}}"

    model = f" ({d['model']['name']} {d['model']['version']})" if d["model"] else ""
    print(f"method: {d['method']}{model}   slices: {d['n_slices']}")
    print(f"{'index':>5} {'z_mm':>8} {'level':>7} {'dice':>7} {'SMA true':>9} {'SMA pred':>9} {'err %':>7} {'conf':>5}")
    for s in d["per_slice"]:
        print(
            f"{s['index']:>5} {s['z_mm']:>8.1f} {s['level']:>7} {f(s['dice'])} {f(s['sma_true_cm2'], 9, 1)} "
            f"{f(s['sma_pred_cm2'], 9, 1)} {f(s['error_pct'], 7, 1)} {f(s['confidence'], 5, 2)}"
        )
    print_regions(d)
    rows = [(d["method"], d["dice"], d["sma_error_pct"])]
    rows += [(name, b["dice"], b["sma_error_pct"]) for name, b in d["baselines"].items() if name != d["method"]]
    print("\nsummary (Dice and SMA on HU-gated masks; SMA error = absolute %):")
    print(f"{'method':>10} {'dice med':>8} {'mean':>7} {'min':>7} {'|err| med':>9} {'mean':>7} {'max':>7}")
    for name, dd, ee in rows:
        print(
            f"{name:>10} {f(dd['median'], 8)} {f(dd['mean'])} {f(dd['min'])} {f(ee['median'], 9, 1)} "
            f"{f(ee['mean'], 7, 1)} {f(ee['max'], 7, 1)}"
        )
    print(f"raw (ungated) Dice of {d['method']}: median {f(d['dice_raw']['median'], 0)}")
    return 0


def print_regions(d: dict[str, Any]) -> None:
    """Per level and region: median gated Dice and median signed area difference (method - reference, cm²)."""
    blocks = [(name, lv) for name, lv in d["per_level"].items()] + [
        ("all", {"regions": d["per_region"], "n_slices": d["n_slices"]})
    ]
    regions = list(d["per_region"])
    print("\nper level and region (median gated Dice / median signed SMA difference in cm², method - reference):")
    print(f"{'level':>7} {'n':>3} " + " ".join(f"{r:>19}" for r in regions))
    for name, lv in blocks:
        cells = []
        for r in regions:
            c = lv["regions"][r]
            if c["diff_cm2_median"] is None:
                cells.append(f"{'-':>19}")
            else:
                dd = f"{c['dice_median']:>8.3f}" if c["dice_median"] is not None else f"{'-':>8}"
                cells.append(f"{dd} / {c['diff_cm2_median']:>+7.1f}")
        print(f"{name:>7} {lv['n_slices']:>3} " + " ".join(cells))
