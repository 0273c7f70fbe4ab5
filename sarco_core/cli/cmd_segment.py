"""``sarco segment IMAGE [--slice K | --all] --out MASK.nii.gz [--json] [--method ...]``.

Writes a label map (1 muscle, 2 SAT, 3 VAT; 0 elsewhere and on slices not segmented) on the image's own
voxel grid. The default slice is L3 (``sarco_core.l3.find_l3``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from sarco_core.cli import print_json
from sarco_core.errors import InputNotFoundError
from sarco_core.segment.base import METHODS

NAME = "segment"
HELP = "Segment muscle/SAT/VAT on the L3 slice (or --slice K / --all) and write a NIfTI label mask."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", help="DICOM folder/zip/file or NIfTI")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--slice", type=int, default=None, help="canonical slice index (0 = most inferior)")
    g.add_argument("--all", action="store_true", help="segment every slice")
    p.add_argument("--out", required=True, help="output mask path (.nii.gz)")
    p.add_argument("--method", choices=METHODS, default=None, help="model (default when installed), teacher, threshold")
    p.add_argument("--json", action="store_true", help="print the per-slice results as JSON")


def _indices(volume: Any, args: argparse.Namespace) -> tuple[list[int], dict[str, Any] | None]:
    if args.all:
        return list(range(volume.n_slices)), None
    if args.slice is not None:
        if not 0 <= args.slice < volume.n_slices:
            raise InputNotFoundError(
                f"--slice {args.slice} is outside this image's slices 0..{volume.n_slices - 1} (0 = most inferior)."
            )
        return [int(args.slice)], None
    if volume.n_slices == 1:
        return [0], None
    from sarco_core.l3 import find_l3

    l3 = find_l3(volume)
    return [int(l3.index)], {"index": int(l3.index), "z_mm": float(l3.z_mm), "confidence": float(l3.confidence)}


def run(args: argparse.Namespace) -> int:
    from sarco_core.io.loader import load
    from sarco_core.io.nifti import save_nifti
    from sarco_core.segment.registry import get_segmenter

    volume = load(args.image)
    volume.require_hu("Muscle segmentation")
    idx, l3 = _indices(volume, args)
    seg = get_segmenter(args.method)
    results = seg.segment(volume, idx)
    mask = np.zeros(volume.shape, dtype=np.uint8)
    for r in results:
        mask[r.index] = r.labels
    out = save_nifti(volume, mask, Path(args.out))
    from sarco_core.metrics import measure_slice

    sp = volume.spacing_mm
    rows: list[dict[str, Any]] = []
    for r in results:
        m = measure_slice(
            volume.hu[r.index],
            r.labels,
            row_mm=sp.row,
            col_mm=sp.col,
            kind="labels",
            index=r.index,
            z_mm=float(volume.z_mm[r.index]),
        )
        rows.append(
            {
                "index": r.index,
                "z_mm": float(volume.z_mm[r.index]),
                "confidence": float(r.confidence),
                "qc_flags": list(r.qc_flags),
                "areas_cm2": {"sma": m.sma_cm2, "imat": m.imat_cm2, "sat": m.sat_cm2, "vat": m.vat_cm2},
                "muscle_hu_mean": m.muscle_hu_mean,
            }
        )
    info = seg.model.to_dict() if seg.model is not None else None
    if args.json:
        print_json({"method": seg.method, "model": info, "out": str(out), "l3": l3, "slices": rows})
    else:
        for row in rows:
            flags = ",".join(row["qc_flags"]) or "-"
            print(
                f"slice {row['index']} z={row['z_mm']:.1f} mm  SMA {row['areas_cm2']['sma']:.1f} cm2  "
                f"confidence {row['confidence']:.2f}  flags {flags}"
            )
        print(f"mask written to {out}")
    return 0
