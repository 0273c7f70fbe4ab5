"""Reference cases: one CT slice (HU), its pixel size and an expert mask on the same grid, with patient data.

:class:`ReferenceCase` is the input of ``sarco validate`` and ``sarco finetune``; any importer (NIfTI, TAG,
DICOM-SEG, PNG) only has to produce these. :func:`load_manifest` reads a CSV manifest
``case_id, image, mask[, height_m, weight_kg, sex, patient_id]`` (paths relative to the manifest) with the
images read by :func:`sarco_core.io.load` and masks by :func:`sarco_core.io.load_mask` (NIfTI).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from sarco_core.cutoffs import normalise_sex, validate_height_m, validate_weight_kg
from sarco_core.errors import GridMismatchError, InputNotFoundError, InvalidMaskError, PatientDataError
from sarco_core.metrics import mask_kind, nonempty_slices, reference_muscle
from sarco_core.volume import Volume

MANIFEST_COLUMNS = ("case_id", "image", "mask")
OPTIONAL_COLUMNS = ("height_m", "weight_kg", "sex", "patient_id")


@dataclass(frozen=True, eq=False)
class ReferenceCase:
    """One expert-traced slice. ``reference``: 0/1 muscle, or labels 0-3 (1 muscle, 2 SAT, 3 VAT)."""

    case_id: str
    patient_id: str
    hu: np.ndarray  # (rows, cols) float32 HU
    reference: np.ndarray  # (rows, cols) uint8
    row_mm: float
    col_mm: float
    height_m: float | None
    weight_kg: float | None
    sex: str | None
    reference_kind: Literal["binary", "labels"]

    @classmethod
    def of(
        cls,
        *,
        case_id: str,
        hu: np.ndarray,
        reference: np.ndarray,
        spacing_mm: tuple[float, float],
        patient_id: str | None = None,
        height_m: float | None = None,
        weight_kg: float | None = None,
        sex: str | None = None,
    ) -> ReferenceCase:
        hu = np.asarray(hu)
        ref = np.asarray(reference)
        if hu.ndim != 2 or ref.ndim != 2:
            raise InvalidMaskError(
                f"Case {case_id}: expected one 2-D slice and one 2-D mask, got shapes {hu.shape} and {ref.shape}."
            )
        if hu.shape != ref.shape:
            raise GridMismatchError(
                f"Case {case_id}: the mask has shape {ref.shape}, the CT slice {hu.shape}. "
                "Give the mask on the slice's own pixel grid."
            )
        kind = mask_kind(ref)
        if not reference_muscle(ref, kind).any():
            raise InvalidMaskError(f"Case {case_id}: the reference mask has no muscle; trace it or drop the case.")
        r, c = (float(v) for v in spacing_mm)
        if not (r > 0 and c > 0):
            raise InvalidMaskError(f"Case {case_id}: pixel spacing {spacing_mm} mm is not positive.")
        return cls(
            case_id=str(case_id),
            patient_id=str(patient_id or case_id),
            hu=hu.astype(np.float32),
            reference=ref.astype(np.uint8),
            row_mm=r,
            col_mm=c,
            height_m=validate_height_m(height_m),
            weight_kg=validate_weight_kg(weight_kg),
            sex=normalise_sex(sex),
            reference_kind=kind,
        )

    @property
    def muscle(self) -> np.ndarray:
        return reference_muscle(self.reference, self.reference_kind)

    def volume(self) -> Volume:
        """A one-slice :class:`Volume` of the CT slice (for the segmenters)."""
        return Volume.from_array(hu=self.hu[None], spacing_mm=(1.0, self.row_mm, self.col_mm))


def _num(row: dict[str, str], key: str, case_id: str) -> float | None:
    v = (row.get(key) or "").strip()
    if not v:
        return None
    try:
        return float(v)
    except ValueError:
        raise PatientDataError(f"Manifest case {case_id}: {key} = {v!r} is not a number.") from None


def cases_from_volumes(
    *,
    case_id: str,
    image: Volume,
    mask: np.ndarray,
    patient_id: str | None = None,
    height_m: float | None = None,
    weight_kg: float | None = None,
    sex: str | None = None,
) -> list[ReferenceCase]:
    """Every slice of ``image`` where ``mask`` (same (slices, rows, cols) grid) has muscle, as cases
    (``case_id`` alone for a single traced slice, else ``case_id#k``)."""
    image.require_hu("Validating against expert masks")
    m = np.asarray(mask)
    if m.shape != image.shape:
        raise GridMismatchError(
            f"Case {case_id}: the mask's grid {m.shape} (slices, rows, cols) differs from the image's {image.shape}. "
            "Export the mask from the same image."
        )
    kind = mask_kind(m)
    idx = nonempty_slices(reference_muscle(m, kind))
    if not idx:
        raise InvalidMaskError(f"Case {case_id}: the reference mask has no muscle on any slice.")
    sp = image.spacing_mm
    return [
        ReferenceCase.of(
            case_id=case_id if len(idx) == 1 else f"{case_id}#{k}",
            hu=np.asarray(image.hu[k]),
            reference=m[k],
            spacing_mm=(sp.row, sp.col),
            patient_id=patient_id or case_id,
            height_m=height_m,
            weight_kg=weight_kg,
            sex=sex,
        )
        for k in idx
    ]


def load_manifest(path: str | Path) -> list[ReferenceCase]:
    """Read a CSV manifest of image + NIfTI mask pairs (see module docstring)."""
    from sarco_core.io import load, load_mask
    from sarco_core.metrics import check_same_grid

    p = Path(path)
    if not p.is_file():
        raise InputNotFoundError(f"Manifest {p} does not exist. Give a CSV with columns {', '.join(MANIFEST_COLUMNS)}.")
    with p.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise PatientDataError(f"Manifest {p} has no cases.")
    missing = [c for c in MANIFEST_COLUMNS if c not in rows[0]]
    if missing:
        raise PatientDataError(f"Manifest {p} lacks the column(s) {', '.join(missing)}; it has {', '.join(rows[0])}.")
    out: list[ReferenceCase] = []
    seen: set[str] = set()
    for row in rows:
        cid = row["case_id"].strip()
        if not cid or cid in seen:
            raise PatientDataError(f"Manifest {p}: case_id {cid!r} is empty or repeated; give each case its own id.")
        seen.add(cid)
        img = load(p.parent / row["image"].strip())
        mvol = load_mask(p.parent / row["mask"].strip())
        check_same_grid(img, mvol)
        out += cases_from_volumes(
            case_id=cid,
            image=img,
            mask=np.asarray(mvol.hu),
            patient_id=(row.get("patient_id") or "").strip() or None,
            height_m=_num(row, "height_m", cid),
            weight_kg=_num(row, "weight_kg", cid),
            sex=(row.get("sex") or "").strip() or None,
        )
    return out


def cases_from_import_set(folder: str | Path) -> list[ReferenceCase]:
    """The cases of an import set written by ``sarco import-masks --out DIR`` (:mod:`sarco_core.masks.importset`;
    checksums verified there). Each case is its own patient (import sets carry no patient id)."""
    from sarco_core.masks import read_import_set

    out = []
    for c in read_import_set(folder):
        sp = c.volume.spacing_mm
        out.append(
            ReferenceCase.of(
                case_id=c.case_id,
                hu=np.asarray(c.volume.hu[0]),
                reference=np.asarray(c.mask.labels),
                spacing_mm=(sp.row, sp.col),
                height_m=c.patient.height_m,
                weight_kg=c.patient.weight_kg,
                sex=c.patient.sex,
            )
        )
    if not out:
        raise InvalidMaskError(f"The import set {folder} holds no imported case; check its import_report.csv.")
    return out


def load_cases(cohort: str | Path) -> list[ReferenceCase]:
    """An import set folder (``import.json`` inside) or a CSV manifest of image + NIfTI mask pairs."""
    p = Path(cohort)
    if p.is_dir():
        if not (p / "import.json").is_file():
            raise InputNotFoundError(
                f"{p} is a folder but not an import set (no import.json). Run `sarco import-masks ... --out {p}` "
                "first, or give a CSV manifest."
            )
        return cases_from_import_set(p)
    return load_manifest(p)
