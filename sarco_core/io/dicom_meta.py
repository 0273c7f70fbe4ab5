"""Source metadata of a DICOM series (:class:`SourceMeta`): what the file says about itself, minus anything
identifying (the patient ID only as a salted hash; never name or birth date)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from sarco_core.io.dicom_headers import SliceHeader
from sarco_core.privacy import salted_id_hash
from sarco_core.volume import SourceMeta


def _opt_float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def _opt_str(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, list | tuple | pydicom.multival.MultiValue):
        v = "\\".join(str(x) for x in v)
    s = str(v).strip()
    return s or None


def parse_age_years(age: Any) -> float | None:
    """DICOM AgeString ('065Y', '006M', '010W', '003D') in years."""
    m = re.fullmatch(r"\s*(\d{1,3})\s*([DWMY]?)\s*", str(age or ""))
    if not m:
        return None
    n = float(m.group(1))
    return {"Y": n, "": n, "M": n / 12, "W": n * 7 / 365.25, "D": n / 365.25}[m.group(2)]


def source_meta(
    ds: Dataset,
    h: SliceHeader,
    *,
    kind: str,
    sop_uids: tuple[str, ...],
    axcodes: tuple[str, str, str],
    n_files: int,
) -> SourceMeta:
    """What the file says about itself, minus anything identifying (patient ID only as a salted hash)."""
    contrast = _opt_str(ds.get("ContrastBolusAgent"))
    if contrast is not None and contrast.upper() == "NONE":
        contrast = None
    sex = _opt_str(ds.get("PatientSex"))
    height = _opt_float(ds.get("PatientSize"))
    weight = _opt_float(ds.get("PatientWeight"))
    return SourceMeta(
        kind=kind,
        modality=h.modality or ("CT" if h.is_ct else None),
        manufacturer=_opt_str(ds.get("Manufacturer")),
        manufacturer_model=_opt_str(ds.get("ManufacturerModelName")),
        study_uid=_opt_str(ds.get("StudyInstanceUID")),
        series_uid=_opt_str(ds.get("SeriesInstanceUID")),
        frame_of_reference_uid=_opt_str(ds.get("FrameOfReferenceUID")),
        sop_class_uid=h.sop_class_uid or None,
        sop_uids=sop_uids,
        series_description=_opt_str(ds.get("SeriesDescription")),
        image_type=h.image_type,
        rescale_type=h.rescale_type or None,
        contrast_agent=contrast,
        kvp=_opt_float(ds.get("KVP")),
        slice_thickness_mm=h.slice_thickness if h.slice_thickness and h.slice_thickness > 0 else None,
        convolution_kernel=_opt_str(ds.get("ConvolutionKernel")),
        patient_sex=sex.upper()[0] if sex and sex.upper()[0] in "FM" else None,
        patient_age_years=parse_age_years(ds.get("PatientAge")),
        patient_height_m=height if height and 0.3 <= height <= 2.8 else None,
        patient_weight_kg=weight if weight and 0 < weight <= 500 else None,
        patient_id_hash=salted_id_hash(_opt_str(ds.get("PatientID"))),
        source_axcodes=axcodes,
        n_files=n_files,
    )


def meta_warnings(ds: Dataset) -> list[str]:
    """Header values that were present but ignored as implausible."""
    out = []
    height = _opt_float(ds.get("PatientSize"))
    if height and not 0.3 <= height <= 2.8:
        hint = " (looks like centimetres)" if 100 <= height <= 250 else ""
        out.append(f"PatientSize {height:g} is not a height in metres{hint}; it was ignored. Enter the height by hand.")
    weight = _opt_float(ds.get("PatientWeight"))
    if weight and not 0 < weight <= 500:
        out.append(f"PatientWeight {weight:g} is not a weight in kg; it was ignored. Enter the weight by hand.")
    return out
