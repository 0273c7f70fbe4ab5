"""DICOM header parsing: one :class:`SliceHeader` per image (per frame for multi-frame). Reading a file's header:
:mod:`.dicom_file`; grouping into series and choosing the one to load: :mod:`.dicom_grouping`. Pixels are not
touched here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset

CT_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.2",  # Legacy Converted Enhanced CT
}
LOCALIZER_WORDS = ("LOCALIZER", "LOCALISER", "SCOUT", "TOPOGRAM", "SURVIEW", "SCANOGRAM", "SCOUTVIEW")
AXIAL_MAX_ANGLE_DEG = 10.0  # slice normal within this angle of the patient z axis counts as axial


def _floats(v: Any, n: int) -> tuple[float, ...] | None:
    if v is None or v == "":
        return None
    try:
        vals = tuple(float(x) for x in (v if isinstance(v, list | tuple | pydicom.multival.MultiValue) else [v]))
    except (TypeError, ValueError):
        return None
    if len(vals) != n or not all(math.isfinite(x) for x in vals):
        return None
    return vals


def _float(v: Any) -> float | None:
    if v is None or v == "":
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def tag_str(v: Any) -> str:
    """A header value as stripped text ("" when absent)."""
    return "" if v is None else str(v).strip()


def _int(ds: Dataset, tag: str, default: int) -> int:
    """A single non-negative integer tag; multi-valued or non-numeric values raise ValueError."""
    v = ds.get(tag)
    if v is None or v == "":
        return default
    if isinstance(v, list | tuple | pydicom.multival.MultiValue):
        raise ValueError(f"{tag} holds {len(v)} values where one number is expected")
    f = float(v)
    if not math.isfinite(f) or f < 0 or f != int(f) or f > 2**31:
        raise ValueError(f"{tag} is {v!r}, not a plausible count")
    return int(f)


def _rescale_problem(raw_slope: Any, raw_intercept: Any, slope: float | None, intercept: float | None) -> str | None:
    from sarco_core.io.limits import RESCALE_INTERCEPT_MAX, RESCALE_SLOPE_MAX

    if raw_slope not in (None, "") and (slope is None or slope == 0 or abs(slope) > RESCALE_SLOPE_MAX):
        return f"RescaleSlope is {raw_slope!s}"
    if raw_intercept not in (None, "") and (intercept is None or abs(intercept) > RESCALE_INTERCEPT_MAX):
        return f"RescaleIntercept is {raw_intercept!s}"
    return None


@dataclass
class SliceHeader:
    """What one image (or one frame) says about itself."""

    index: int  # position in the list of sources
    name: str
    frame: int | None  # frame number (0-based) in a multi-frame file, else None
    ds: Dataset = field(repr=False)
    modality: str
    sop_class_uid: str
    sop_uid: str
    series_uid: str
    image_type: tuple[str, ...]
    rows: int
    cols: int
    iop: tuple[float, ...] | None
    ipp: tuple[float, ...] | None
    pixel_spacing: tuple[float, ...] | None
    slice_thickness: float | None
    slope: float
    intercept: float
    rescale_type: str
    gantry_tilt: float | None
    samples_per_pixel: int
    photometric: str = "MONOCHROME2"
    rescale_problem: str | None = None  # why RescaleSlope/Intercept cannot be used (e.g. slope 0 or NaN)

    @property
    def normal(self) -> np.ndarray | None:
        if self.iop is None:
            return None
        n = np.cross(np.array(self.iop[:3]), np.array(self.iop[3:]))
        norm = float(np.linalg.norm(n))
        return n / norm if norm > 1e-6 else None

    @property
    def is_localizer(self) -> bool:
        words = " ".join(self.image_type).upper()
        desc = (tag_str(self.ds.get("SeriesDescription")) + " " + tag_str(self.ds.get("ImageComments"))).upper()
        return any(w in words for w in LOCALIZER_WORDS) or any(w in desc for w in LOCALIZER_WORDS)

    @property
    def is_ct(self) -> bool:
        if self.modality:
            return self.modality.upper() == "CT"
        return self.sop_class_uid in CT_SOP_CLASSES


def orientation_name(normal: np.ndarray | None) -> str:
    """'axial' | 'coronal' | 'sagittal' | 'oblique' | 'unknown' from a slice normal (LPS)."""
    if normal is None:
        return "unknown"
    a = np.abs(normal)
    axis = int(np.argmax(a))
    angle = math.degrees(math.acos(min(1.0, float(a[axis]))))
    if angle > AXIAL_MAX_ANGLE_DEG:
        return "oblique"
    return ("sagittal", "coronal", "axial")[axis]


def _fg(ds: Dataset, per: Dataset | None, shared: Dataset | None, seq: str, attr: str) -> Any:
    """Attribute from the per-frame, then shared functional group, then the top-level dataset."""
    for grp in (per, shared):
        if grp is not None and seq in grp and len(grp[seq].value) > 0:
            item = grp[seq].value[0]
            if attr in item:
                return item.get(attr)
    return ds.get(attr)


def headers_from_dataset(ds: Dataset, index: int, name: str) -> list[SliceHeader]:
    """One header per frame (enhanced multi-frame) or one for a single-frame image."""
    meta = getattr(ds, "file_meta", None)
    sop_class = tag_str(ds.get("SOPClassUID")) or tag_str(meta.get("MediaStorageSOPClassUID") if meta else None)
    sop_uid = tag_str(ds.get("SOPInstanceUID")) or tag_str(meta.get("MediaStorageSOPInstanceUID") if meta else None)
    n_frames = _int(ds, "NumberOfFrames", 1) or 1
    from sarco_core.io.limits import MAX_FRAMES

    if n_frames > MAX_FRAMES:
        raise ValueError(f"NumberOfFrames is {n_frames}, over the {MAX_FRAMES} frames one CT file may hold")
    rows, cols, spp = _int(ds, "Rows", 0), _int(ds, "Columns", 0), _int(ds, "SamplesPerPixel", 1)
    photometric = tag_str(ds.get("PhotometricInterpretation")).upper() or "MONOCHROME2"
    per_seq = ds.get("PerFrameFunctionalGroupsSequence")
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    base_type = tuple(tag_str(x) for x in (ds.get("ImageType") or ()))
    frames: list[int | None] = list(range(n_frames)) if (n_frames > 1 or per_seq) else [None]
    # legacy multi-frame without per-frame positions: the frames' positions are unknown
    positions_known = per_seq is not None or n_frames == 1
    out = []
    for f in frames:
        per = per_seq[f] if (per_seq is not None and f is not None and f < len(per_seq)) else None
        image_type = base_type
        ftype = _fg(ds, per, shared, "CTImageFrameTypeSequence", "FrameType")
        if ftype and f is not None:
            image_type = tuple(tag_str(x) for x in ftype)
        raw_slope = _fg(ds, per, shared, "PixelValueTransformationSequence", "RescaleSlope")
        raw_intercept = _fg(ds, per, shared, "PixelValueTransformationSequence", "RescaleIntercept")
        slope, intercept = _float(raw_slope), _float(raw_intercept)
        problem = _rescale_problem(raw_slope, raw_intercept, slope, intercept)
        out.append(
            SliceHeader(
                index=index,
                name=name if f is None else f"{name} frame {f + 1}",
                frame=f,
                ds=ds,
                modality=tag_str(ds.get("Modality")),
                sop_class_uid=sop_class,
                sop_uid=sop_uid,
                series_uid=tag_str(ds.get("SeriesInstanceUID")),
                image_type=image_type,
                rows=rows,
                cols=cols,
                iop=_floats(_fg(ds, per, shared, "PlaneOrientationSequence", "ImageOrientationPatient"), 6),
                ipp=_floats(_fg(ds, per, shared, "PlanePositionSequence", "ImagePositionPatient"), 3)
                if positions_known
                else None,
                pixel_spacing=_floats(_fg(ds, per, shared, "PixelMeasuresSequence", "PixelSpacing"), 2),
                slice_thickness=_float(_fg(ds, per, shared, "PixelMeasuresSequence", "SliceThickness")),
                slope=1.0 if slope is None or problem else slope,
                intercept=0.0 if intercept is None or problem else intercept,
                rescale_type=tag_str(_fg(ds, per, shared, "PixelValueTransformationSequence", "RescaleType")),
                gantry_tilt=_float(ds.get("GantryDetectorTilt")),
                samples_per_pixel=spp,
                photometric=photometric,
                rescale_problem=problem,
            )
        )
    return out
