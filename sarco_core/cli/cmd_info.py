"""``sarco info PATH [--json]``: what an image is (modality, shape, spacing, z range, series, warnings)."""

from __future__ import annotations

import argparse

from sarco_core.cli import print_json
from sarco_core.io import load

NAME = "info"
HELP = "Describe a CT image (DICOM folder/file/zip or NIfTI): shape, spacing, z range, series and warnings."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="DICOM folder, .dcm file, .zip or .nii/.nii.gz")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _num(v: float | None, unit: str = " mm") -> str:
    return "-" if v is None else f"{v:.4g}{unit}"


def run(args: argparse.Namespace) -> int:
    volume = load(args.path, require_axial=False)  # reformats can be described, not measured
    info = volume.info_dict()
    if args.json:
        print_json(info)
        return 0
    m = volume.meta
    sp = volume.spacing_mm
    k, r, c = volume.shape
    lines = [
        f"{args.path}",
        f"  modality      {m.modality or '-'} ({m.kind}{', ' + str(m.n_files) + ' files' if m.n_files > 1 else ''})",
        f"  scanner       {' '.join(x for x in (m.manufacturer, m.manufacturer_model) if x) or '-'}",
        f"  series        {m.series_description or '-'}",
        f"  shape         {k} slices x {r} rows x {c} cols",
        f"  spacing       slice {_num(sp.slice)}, row {_num(sp.row)}, col {_num(sp.col)}",
        f"  z range       {volume.z_mm[0]:.1f} .. {volume.z_mm[-1]:.1f} mm (inferior -> superior)",
        f"  values        {'HU' if volume.is_hu else 'NOT HU (cannot be measured)'}, "
        f"{float(volume.hu.min()):.0f} .. {float(volume.hu.max()):.0f}",
        f"  orientation   file axes {''.join(m.source_axcodes) if m.source_axcodes else '-'}",
        f"  contrast      {m.contrast_agent or '-'}; kVp {_num(m.kvp, '')}; kernel {m.convolution_kernel or '-'}; "
        f"slice thickness {_num(m.slice_thickness_mm)}",
        f"  patient       sex {m.patient_sex or '-'}, age {_num(m.patient_age_years, ' y')}, "
        f"height {_num(m.patient_height_m, ' m')}, weight {_num(m.patient_weight_kg, ' kg')}",
    ]
    for w in volume.warnings:
        lines.append(f"  warning: {w}")
    print("\n".join(lines))
    return 0
