"""``sarco measure IMAGE MASK [--slice K] [--json]``: areas and muscle HU of a mask on its image."""

from __future__ import annotations

import argparse

from sarco_core.cli import print_json
from sarco_core.errors import GridMismatchError, InvalidMaskError
from sarco_core.io import load, load_mask
from sarco_core.metrics import check_same_grid, measure_volume

NAME = "measure"
HELP = "Measure SMA, muscle HU, IMAT, SAT and VAT of a mask (NIfTI, on the image's grid) per slice."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", help="CT image: DICOM folder/file/zip or NIfTI")
    p.add_argument("mask", help="mask NIfTI on the image's grid: 0/1 muscle, or labels 1 muscle, 2 SAT, 3 VAT")
    p.add_argument(
        "--slice",
        type=int,
        action="append",
        dest="slices",
        metavar="K",
        help="canonical slice index (0 = most inferior); repeatable; default: every slice with muscle",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    volume = load(args.image)
    mask_vol = load_mask(args.mask)
    check_same_grid(volume, mask_vol)
    if args.slices:
        bad = [k for k in args.slices if not 0 <= k < volume.n_slices]
        if bad:
            raise GridMismatchError(
                f"--slice {bad[0]} is outside the image's slices 0..{volume.n_slices - 1} (0 = most inferior)."
            )
    rows = measure_volume(volume, mask_vol.hu, slices=args.slices)
    if not rows and not args.slices:
        raise InvalidMaskError("The mask has no muscle (label 1 or non-zero) on any slice; nothing to measure.")
    if args.json:
        print_json({"slices": [r.to_dict() for r in rows], "warnings": list(volume.warnings)})
        return 0
    print(f"{'index':>5} {'z_mm':>9} {'SMA cm2':>8} {'HU':>6} {'IMAT':>6} {'SAT':>7} {'VAT':>7}")

    def f(v: float | None, w: int, p: int = 1) -> str:
        return f"{v:>{w}.{p}f}" if v is not None else f"{'-':>{w}}"

    for r in rows:
        print(
            f"{r.index:>5} {r.z_mm:>9.1f} {f(r.sma_cm2, 8)} {f(r.muscle_hu_mean, 6)} {f(r.imat_cm2, 6)} "
            f"{f(r.sat_cm2, 7)} {f(r.vat_cm2, 7)}"
        )
    return 0
