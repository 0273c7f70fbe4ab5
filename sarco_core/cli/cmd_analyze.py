"""``sarco analyze PATH [...] --json``: load → L3 → segment → measure → classify one scan."""

from __future__ import annotations

import argparse

from sarco_core.analyze import analyze
from sarco_core.cli import print_json
from sarco_core.cutoffs import RULES
from sarco_core.segment.base import METHODS

NAME = "analyze"
HELP = "Full analysis of one scan at L3: SMA, SMI, muscle HU, fat areas and the CT-defined low-SMI call."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="CT image: DICOM folder/file/zip or NIfTI")
    p.add_argument("--height-m", type=float, default=None, help="height in metres (default: DICOM PatientSize)")
    p.add_argument("--weight-kg", type=float, default=None, help="weight in kg (default: DICOM PatientWeight)")
    p.add_argument("--sex", default=None, help="F or M (default: DICOM PatientSex)")
    p.add_argument(
        "--cutoffs", default=None, metavar="NAME", help=f"cutoff rule: {', '.join(RULES)} (default martin2013)"
    )
    p.add_argument("--slice", type=int, default=None, metavar="K", help="use canonical slice K as L3 (manual override)")
    p.add_argument("--method", choices=METHODS, default=None, help="segmentation method (default: best available)")
    p.add_argument(
        "--out-mask",
        default=None,
        metavar="MASK.nii.gz",
        help="write the labels of the measured slice as NIfTI on the image grid (other slices 0)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    if args.out_mask:
        from sarco_core.io.nifti import check_output_path

        check_output_path(args.out_mask)  # before the analysis, not after it
    res = analyze(
        args.path,
        height_m=args.height_m,
        weight_kg=args.weight_kg,
        sex=args.sex,
        rule=args.cutoffs,
        slice_index=args.slice,
        method=args.method,
    )
    if args.out_mask:
        import numpy as np

        from sarco_core.io.nifti import save_nifti

        assert res.volume is not None and res.labels is not None
        full = np.zeros(res.volume.shape, np.uint8)
        full[res.l3.index] = res.labels
        save_nifti(res.volume, full, args.out_mask)
    d = res.to_dict()
    if args.json:
        print_json(d)
        return 0
    print(f"L3 slice {res.l3.index} (z {res.l3.z_mm:.1f} mm, {res.l3.method}, confidence {res.l3.confidence:.2f})")
    print(f"segmentation: {d['segmentation']['method']} (confidence {d['segmentation']['confidence']})")
    for k in ("sma_cm2", "smi_cm2_m2", "muscle_hu_mean", "imat_cm2", "sat_cm2", "vat_cm2"):
        print(f"  {k:16} {d[k]}")
    print(f"  low SMI: {res.classification.low_smi.note}")
    print(f"  low muscle HU: {res.classification.low_muscle_hu.note}")
    if res.qc_flags:
        print("  QC flags: " + ", ".join(res.qc_flags))
    for w in res.l3.warnings:
        print(f"  warning: {w}")
    return 0
