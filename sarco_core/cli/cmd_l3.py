"""``sarco l3 IMAGE [--slice K] [--json]``: find the L3 mid-body slice with confidence and alternatives."""

from __future__ import annotations

import argparse

from sarco_core.cli import print_json
from sarco_core.io import load
from sarco_core.l3 import find_l3

NAME = "l3"
HELP = "Find the slice at the middle of the L3 vertebral body (canonical index, 0 = most inferior)."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", help="CT image: DICOM folder/file/zip or NIfTI")
    p.add_argument(
        "--slice",
        type=int,
        default=None,
        metavar="K",
        help="take canonical slice K as L3 (manual override; the automatic choice is kept)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    volume = load(args.image)
    res = find_l3(volume, override_index=args.slice)
    if args.json:
        d = res.to_dict()
        if args.slice is not None:
            d.update({"auto_index": res.auto_index, "overridden": res.overridden})
        print_json(d)
        return 0
    print(f"L3 slice {res.index} (z {res.z_mm:.1f} mm), confidence {res.confidence:.2f}, method {res.method}")
    for c in res.candidates:
        print(f"  candidate {c.index:>4}  z {c.z_mm:8.1f} mm  score {c.score:.2f}")
    if res.levels:
        print("  levels: " + ", ".join(f"{lv.label} {lv.z_lo_mm:.0f}..{lv.z_hi_mm:.0f}" for lv in res.levels))
    for w in res.warnings:
        print(f"  warning: {w}")
    return 0
