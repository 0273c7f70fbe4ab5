"""DICOM header reading: one :class:`SliceHeader` per image (per frame for multi-frame), grouping into series
and choosing the series to load. Pixels are not touched here."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from sarco_core.errors import LocalizerError, NotAxialError, NotCTError, SarcoError
from sarco_core.io.limits import check_deadline

SourceItem = Path | tuple[str, bytes]

CT_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.2",  # Legacy Converted Enhanced CT
}
LOCALIZER_WORDS = ("LOCALIZER", "LOCALISER", "SCOUT", "TOPOGRAM", "SURVIEW", "SCANOGRAM", "SCOUTVIEW")
AXIAL_MAX_ANGLE_DEG = 10.0  # slice normal within this angle of the patient z axis counts as axial


def source_name(src: SourceItem) -> str:
    return src[0] if isinstance(src, tuple) else str(src)


class _DeadlineReader(io.RawIOBase):
    """A read-only file for pydicom that checks the load's time budget every few hundred reads: pydicom parses
    a garbage data set a few bytes per read, so one bad file could otherwise hold a worker for minutes."""

    def __init__(self, fh: Any) -> None:
        super().__init__()
        self._fh = fh
        self._n = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        self._n += 1
        if self._n % 256 == 0:
            check_deadline("parsing a DICOM file")
        return bytes(self._fh.read(-1 if size is None else size))

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._fh.seek(offset, whence))

    def tell(self) -> int:
        return int(self._fh.tell())

    def close(self) -> None:
        self._fh.close()
        super().close()


def open_source(src: SourceItem) -> Any:
    """An in-memory file object for pydicom (paths are read into memory), with the time budget checked."""
    return _DeadlineReader(io.BytesIO(src[1]) if isinstance(src, tuple) else open(src, "rb"))


_EXPECTED_TAGS = ("SOPClassUID", "Modality", "Rows", "ImagePositionPatient", "PixelSpacing", "StudyInstanceUID")
# A DICOM data set without the 128-byte preamble starts with a group 0002 (file meta) or 0008 element
_BARE_FIRST_GROUPS = (0x0002, 0x0008)


def _head(src: SourceItem, n: int = 132) -> bytes:
    if isinstance(src, tuple):
        return src[1][:n]
    with open(src, "rb") as fh:
        return fh.read(n)


def _size(src: SourceItem) -> int:
    return len(src[1]) if isinstance(src, tuple) else Path(src).stat().st_size


def has_preamble(src: SourceItem) -> bool:
    head = _head(src)
    return len(head) >= 132 and head[128:132] == b"DICM"


def looks_like_bare_dicom(src: SourceItem) -> bool:
    """True when a file without preamble starts like a DICOM data set (so pydicom's ``force`` may parse it)."""
    head = _head(src, 8)
    if len(head) < 8:
        return False
    return int.from_bytes(head[:2], "little") in _BARE_FIRST_GROUPS or int.from_bytes(head[:2], "big") in (
        _BARE_FIRST_GROUPS
    )


def read_header(src: SourceItem) -> Dataset | None:
    """Header only (no pixels); None when the file is not DICOM or is unreadable.

    ``force=True`` (parsing without the DICM preamble) is used only for files that start like a DICOM data set
    and are at most :data:`~sarco_core.io.limits.MAX_BARE_DICOM_BYTES`: pydicom's forced parser reads garbage
    a few bytes at a time, which turns a large non-DICOM file into minutes of work."""
    from sarco_core.io.limits import MAX_BARE_DICOM_BYTES

    try:
        if has_preamble(src):
            if int.from_bytes(_head(src, 134)[132:134], "little") != 0x0002:
                return None  # the file meta group must follow DICM; zeros or garbage would parse for minutes
            with open_source(src) as fh:
                ds = pydicom.dcmread(fh, stop_before_pixels=True)
            if len(ds) == 0:
                return ds  # a preamble and file meta only: reported as such by the caller
        else:
            if not looks_like_bare_dicom(src) or _size(src) > MAX_BARE_DICOM_BYTES:
                return None
            with open_source(src) as fh:
                ds = pydicom.dcmread(fh, stop_before_pixels=True, force=True)
    except SarcoError:
        raise
    except (InvalidDicomError, Exception):
        return None
    if not any(t in ds for t in _EXPECTED_TAGS):
        return None
    return ds


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


def _str(v: Any) -> str:
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
        desc = (_str(self.ds.get("SeriesDescription")) + " " + _str(self.ds.get("ImageComments"))).upper()
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
    sop_class = _str(ds.get("SOPClassUID")) or _str(meta.get("MediaStorageSOPClassUID") if meta else None)
    sop_uid = _str(ds.get("SOPInstanceUID")) or _str(meta.get("MediaStorageSOPInstanceUID") if meta else None)
    n_frames = _int(ds, "NumberOfFrames", 1) or 1
    from sarco_core.io.limits import MAX_FRAMES

    if n_frames > MAX_FRAMES:
        raise ValueError(f"NumberOfFrames is {n_frames}, over the {MAX_FRAMES} frames one CT file may hold")
    rows, cols, spp = _int(ds, "Rows", 0), _int(ds, "Columns", 0), _int(ds, "SamplesPerPixel", 1)
    photometric = _str(ds.get("PhotometricInterpretation")).upper() or "MONOCHROME2"
    per_seq = ds.get("PerFrameFunctionalGroupsSequence")
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    base_type = tuple(_str(x) for x in (ds.get("ImageType") or ()))
    frames: list[int | None] = list(range(n_frames)) if (n_frames > 1 or per_seq) else [None]
    # legacy multi-frame without per-frame positions: the frames' positions are unknown
    positions_known = per_seq is not None or n_frames == 1
    out = []
    for f in frames:
        per = per_seq[f] if (per_seq is not None and f is not None and f < len(per_seq)) else None
        image_type = base_type
        ftype = _fg(ds, per, shared, "CTImageFrameTypeSequence", "FrameType")
        if ftype and f is not None:
            image_type = tuple(_str(x) for x in ftype)
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
                modality=_str(ds.get("Modality")),
                sop_class_uid=sop_class,
                sop_uid=sop_uid,
                series_uid=_str(ds.get("SeriesInstanceUID")),
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
                rescale_type=_str(_fg(ds, per, shared, "PixelValueTransformationSequence", "RescaleType")),
                gantry_tilt=_float(ds.get("GantryDetectorTilt")),
                samples_per_pixel=spp,
                photometric=photometric,
                rescale_problem=problem,
            )
        )
    return out


@dataclass
class SeriesGroup:
    """Images that belong together: one series (or one geometry where UIDs are empty)."""

    key: tuple[Any, ...]
    headers: list[SliceHeader]
    by_geometry: bool = False  # grouped by geometry because the SeriesInstanceUID was empty

    @property
    def first(self) -> SliceHeader:
        return self.headers[0]

    @property
    def orientation(self) -> str:
        return orientation_name(self.first.normal)

    def describe(self) -> str:
        ds = self.first.ds
        num = _str(ds.get("SeriesNumber"))
        desc = _str(ds.get("SeriesDescription"))
        label = f"series {num}" if num else "series"
        if desc:
            label += f" '{desc}'"
        kind = self.first.modality or "unknown modality"
        if self.first.is_localizer:
            kind += " localizer"
        n = len(self.headers)
        return f"{label} ({kind}, {self.orientation}, {n} image{'s' if n != 1 else ''})"


def _geometry_key(h: SliceHeader) -> tuple[Any, ...]:
    iop = tuple(round(v, 3) for v in h.iop) if h.iop else None
    ps = tuple(round(v, 4) for v in h.pixel_spacing) if h.pixel_spacing else None
    return (iop, h.rows, h.cols, ps)


def group_series(headers: Sequence[SliceHeader]) -> tuple[list[SeriesGroup], list[str]]:
    """Group by SeriesInstanceUID, split further by geometry; empty UIDs are grouped by geometry alone."""
    groups: dict[tuple[Any, ...], SeriesGroup] = {}
    uid_geoms: dict[str, set[tuple[Any, ...]]] = {}
    n_empty = 0
    for h in headers:
        geom = _geometry_key(h)
        # without a UID, series number and description still separate e.g. two phases of the same geometry
        extra = () if h.series_uid else (_str(h.ds.get("SeriesNumber")), _str(h.ds.get("SeriesDescription")))
        key = (h.series_uid, geom, extra)
        if not h.series_uid:
            n_empty += 1
        uid_geoms.setdefault(h.series_uid, set()).add(geom)
        if key not in groups:
            groups[key] = SeriesGroup(key=key, headers=[], by_geometry=not h.series_uid)
        groups[key].headers.append(h)
    warnings = []
    if n_empty:
        warnings.append(
            f"{n_empty} image(s) have an empty Series Instance UID; they were grouped into series by geometry "
            "(orientation, image size and pixel spacing)."
        )
    split = [u for u, g in uid_geoms.items() if u and len(g) > 1]
    if split:
        warnings.append(
            f"{len(split)} series mix images of different geometry (orientation, size or pixel spacing); "
            "each geometry was treated as its own stack."
        )
    return list(groups.values()), warnings


def choose_series(groups: list[SeriesGroup], *, require_axial: bool) -> tuple[SeriesGroup, list[str]]:
    """The axial CT series with the most images; raise the most specific error when none qualifies."""
    ct = [g for g in groups if g.first.is_ct]
    if not ct:
        found = sorted({g.first.modality or "unknown" for g in groups})
        raise NotCTError(
            f"No CT images found (modality {', '.join(found)}). Sarco measures CT only: load the CT series "
            "of the examination (Modality CT)."
        )
    cross = [g for g in ct if not g.first.is_localizer]
    if not cross:
        raise LocalizerError(
            "The input holds only a localiser / scout / topogram (a projection image), not cross-sectional CT. "
            "Load the axial CT series of the examination instead."
        )
    if require_axial:
        usable = [g for g in cross if g.orientation in ("axial", "unknown")]
        if not usable:
            orient = sorted({g.orientation for g in cross})
            raise NotAxialError(
                f"The CT images are {' / '.join(orient)} (ImageOrientationPatient "
                f"{[round(v, 3) for v in cross[0].first.iop or ()]}), not axial. Body composition is measured on "
                "axial slices: load the axial series (reformats can be inspected with `sarco info`)."
            )
    else:
        usable = cross
    chosen = sorted(usable, key=lambda g: (g.orientation == "axial", len(g.headers)), reverse=True)[0]
    others = [g for g in groups if g is not chosen]
    warnings = []
    if others:
        listed = "; ".join(g.describe() for g in others[:8])
        more = f" and {len(others) - 8} more" if len(others) > 8 else ""
        warnings.append(
            f"The input holds {len(groups)} series; loaded {chosen.describe()} "
            f"(the axial CT series with the most images). Not loaded: {listed}{more}."
        )
    return chosen, warnings
