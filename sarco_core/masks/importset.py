"""The import set: the folder ``sarco import-masks --out DIR`` writes and ``sarco validate`` reads.

Layout (all masks in our labels: 0 background, 1 muscle compartment, 2 SAT, 3 VAT)::

    DIR/import_report.csv          one line per manifest row: row, case_id, status (ok/error), format,
                                   slice_index, z_mm, reason, warnings, store_case_id (with --store)
    DIR/import.json                summary: sarco version, time, counts, and every ok case's record
    DIR/cases/<case_id>/image.nii.gz      the traced CT slice alone (int16 HU, its own geometry)
    DIR/cases/<case_id>/reference.nii.gz  the expert mask on that slice's grid (uint8 labels)
    DIR/cases/<case_id>/case.json         ImportedMask.to_dict() + patient data (height_m, weight_kg, sex)

:func:`read_import_set` gives the cases back as :class:`ImportedCase` records (checksums verified).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sarco_core import __version__
from sarco_core.errors import ManifestError
from sarco_core.io.nifti import load_nifti, save_nifti
from sarco_core.masks.records import ImportedCase, ImportedMask, ImportReport, MaskFormat, PatientInfo, ValueMap

REPORT_COLUMNS = ("row", "case_id", "status", "format", "slice_index", "z_mm", "reason", "warnings", "store_case_id")


def case_folder_name(case_id: str) -> str:
    """A file-system-safe folder name for a case id (letters, digits, ``-_.``; others become ``_``)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", case_id).strip("._") or "case"
    return name[:100]


def write_import_set(report: ImportReport, out_dir: str | Path) -> Path:
    """Write the report and every ok case under ``out_dir`` (existing cases of the same id are replaced)."""
    out = Path(out_dir)
    (out / "cases").mkdir(parents=True, exist_ok=True)
    cases = []
    for case in report.cases:
        d = out / "cases" / case_folder_name(case.case_id)
        d.mkdir(parents=True, exist_ok=True)
        save_nifti(case.volume, np.asarray(case.volume.hu), d / "image.nii.gz", dtype=np.int16)
        save_nifti(case.volume, case.mask.labels[None], d / "reference.nii.gz", dtype=np.uint8)
        rec = {**case.mask.to_dict(), "patient": asdict(case.patient), "folder": f"cases/{d.name}"}
        (d / "case.json").write_text(json.dumps(rec, indent=2))
        cases.append(rec)
    with (out / "import_report.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(REPORT_COLUMNS))
        w.writeheader()
        for o in report.outcomes:
            w.writerow(o.to_dict())
    summary = {
        "sarco_version": __version__,
        "created_at": datetime.now(UTC).isoformat(),
        "n_rows": len(report.outcomes),
        "n_ok": report.n_ok,
        "n_error": report.n_error,
        "cases": cases,
    }
    (out / "import.json").write_text(json.dumps(summary, indent=2))
    return out


def read_import_set(folder: str | Path) -> tuple[ImportedCase, ...]:
    """Every case of an import set, in the order of ``import.json``; refuses a damaged set with its fix."""
    root = Path(folder)
    summary_path = root / "import.json"
    if not summary_path.is_file():
        raise ManifestError(
            f"{root} is not an import set (no import.json). Create one with `sarco import-masks ... --out {root}`."
        )
    summary = json.loads(summary_path.read_text())
    out = []
    for rec in summary.get("cases", []):
        d = root / rec["folder"]
        try:
            vol = load_nifti(d / "image.nii.gz")
            ref = load_nifti(d / "reference.nii.gz", is_mask=True)
        except Exception as exc:
            raise ManifestError(
                f"Case {rec.get('case_id')} of the import set {root} cannot be read ({exc}); re-run the import."
            ) from None
        labels = np.ascontiguousarray(np.asarray(ref.hu)[0], dtype=np.uint8)
        vm = rec.get("value_map")
        mask = ImportedMask.build(
            case_id=rec["case_id"],
            format=MaskFormat(rec["format"]),
            mask_path=rec["mask_path"],
            image_path=rec["image_path"],
            volume=vol,
            slice_index=0,
            labels=labels,
            value_map=None if vm is None else ValueMap(name=vm["name"], pairs=tuple(tuple(p) for p in vm["pairs"])),
            warnings=tuple(rec.get("warnings", ())),
        )
        if mask.sha256 != rec["sha256"]:
            raise ManifestError(
                f"The reference mask of case {rec['case_id']} in {root} does not match its checksum (the file was "
                "changed after import); re-run the import."
            )
        mask = replace(mask, slice_index=int(rec["slice_index"]), z_mm=float(rec["z_mm"]))
        p = rec.get("patient") or {}
        out.append(ImportedCase(mask=mask, volume=vol, patient=PatientInfo(**p)))
    return tuple(out)
