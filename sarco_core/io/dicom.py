"""DICOM loading: a folder / list of files / in-memory uploads / one slice / enhanced multi-frame CT -> one
canonical :class:`~sarco_core.volume.Volume` (HU, geometry, source metadata).

Flow: read headers only -> group into series -> choose the axial CT series with the most images -> sort and
check its geometry (:mod:`dicom_geometry`) -> decode only that series' pixels -> HU -> canonical layout.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from sarco_core.errors import (
    ImageValueError,
    IrregularSeriesError,
    SarcoError,
    UnreadableFileError,
    UnsupportedCompressionError,
)
from sarco_core.io.dicom_file import SourceItem, has_preamble, open_source, source_name
from sarco_core.io.dicom_geometry import StackGeometry, build_geometry
from sarco_core.io.dicom_grouping import choose_series, group_series
from sarco_core.io.dicom_headers import SliceHeader
from sarco_core.io.dicom_meta import meta_warnings, source_meta
from sarco_core.io.dicom_series import NoDicomFoundError, check_values, explain_mixed_geometry, read_all_headers
from sarco_core.io.limits import check_deadline, check_voxels
from sarco_core.io.orient import LPS_TO_RAS, to_canonical
from sarco_core.volume import Volume

log = logging.getLogger(__name__)
__all__ = ["NoDicomFoundError", "list_files", "load_dicom"]

AIR_HU = -1024
# Image types whose values are parametric maps, not attenuation in HU
NOT_HU_IMAGE_TYPES = (
    "PERFUSION", "RCBF", "RCBV", "MTT", "TTP", "TMAX", "PERMEABILITY", "IODINE",
    "EFFECTIVE_ATOMIC_NUMBER", "ELECTRON_DENSITY", "FAT_FRACTION", "WATER", "CALCIUM",
)  # fmt: skip
_DECODER_PACKAGES = {
    "JPEG 2000": "pylibjpeg and pylibjpeg-openjpeg (pip install pylibjpeg pylibjpeg-openjpeg)",
    "JPEG-LS": "pyjpegls (pip install pyjpegls)",
    "JPEG": "pylibjpeg and pylibjpeg-libjpeg (pip install pylibjpeg pylibjpeg-libjpeg)",
    "RLE": "pylibjpeg-rle (pip install pylibjpeg-rle)",
}


def list_files(folder: Path) -> list[Path]:
    """All candidate files under ``folder`` (recursive), skipping hidden files/folders and DICOMDIR."""
    folder = Path(folder)
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).parts
        if any(part.startswith(".") or part == "__MACOSX" for part in rel):
            continue
        if p.is_file() and p.name.upper() != "DICOMDIR":
            out.append(p)
    return out


def load_dicom(sources: Sequence[Path | tuple[str, bytes]], *, require_axial: bool = True) -> Volume:
    """Load the axial CT series with the most images from DICOM files (paths or ``(name, bytes)`` pairs).

    Raises a specific :class:`~sarco_core.errors.SarcoError` for anything that cannot be measured reliably.
    """
    items: list[SourceItem] = [s if isinstance(s, tuple) else Path(s) for s in sources]
    headers, warnings = read_all_headers(items)
    groups, group_warn = group_series(headers)
    chosen, choose_warn = choose_series(groups, require_axial=require_axial)
    warnings += choose_warn + (group_warn if chosen.by_geometry or len(groups) > 1 else [])
    check_values(chosen)
    check_voxels((len(chosen.headers), chosen.first.rows, chosen.first.cols), "The DICOM series")
    try:
        geom = build_geometry(chosen.headers)
    except IrregularSeriesError as exc:
        raise explain_mixed_geometry(exc, chosen, groups) from None
    warnings += geom.warnings
    raw = _decode_stack(items, geom)
    hu, is_hu, hu_warn = _to_hu(raw, geom.headers)
    warnings += hu_warn
    return _to_volume(hu, geom, is_hu=is_hu, warnings=warnings, n_files=len({h.index for h in geom.headers}))


# ---------------------------------------------------------------------------------------------- pixels
def _compression_hint(ts: Any) -> str:
    name = getattr(ts, "name", str(ts))
    for key, pkg in _DECODER_PACKAGES.items():
        if key.lower() in name.lower():
            return f"install {pkg}"
    return "convert the series to uncompressed DICOM (e.g. with dcmtk's dcmdjpeg or gdcmconv --raw)"


def _check_decodable(ds: Dataset, name: str) -> None:
    meta = getattr(ds, "file_meta", None)
    ts = meta.get("TransferSyntaxUID") if meta is not None else None
    if ts is None:
        return
    try:
        if not ts.is_transfer_syntax:
            raise ValueError
        compressed = ts.is_compressed
    except (ValueError, AttributeError, TypeError):
        raise UnreadableFileError(
            f"{name} names {str(ts)[:64]!r} as its TransferSyntaxUID, which is not a DICOM transfer syntax, so its "
            "pixel data cannot be decoded. The file is corrupt; export the series again."
        ) from None
    if not compressed:
        return
    from pydicom.pixels import get_decoder

    try:
        available = get_decoder(ts).is_available
    except (NotImplementedError, ValueError, KeyError):
        available = False
    if not available:
        raise UnsupportedCompressionError(
            f"{name} is compressed with {ts.name} ({ts}), which no installed decoder can read. "
            f"To load it, {_compression_hint(ts)}."
        )


def _set_missing_transfer_syntax(ds: Dataset) -> None:
    """Files without a file meta header (no preamble): the transfer syntax is how pydicom parsed them."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    meta = getattr(ds, "file_meta", None)
    if meta is not None and "TransferSyntaxUID" in meta:
        return
    implicit, little = ds.original_encoding
    if meta is None:
        ds.file_meta = meta = FileMetaDataset()
    if implicit:
        meta.TransferSyntaxUID = ImplicitVRLittleEndian
    else:
        meta.TransferSyntaxUID = ExplicitVRLittleEndian if little is not False else ExplicitVRBigEndian


def _read_pixels(src: SourceItem) -> np.ndarray:
    name = source_name(src)
    check_deadline(f"decoding the pixels of {Path(name).name}")
    try:
        with open_source(src) as fh:
            ds = pydicom.dcmread(fh, force=not has_preamble(src))
    except SarcoError:
        raise
    except Exception as exc:
        raise UnreadableFileError(
            f"{name} could not be read ({type(exc).__name__}: {exc}); it is probably truncated or corrupt. "
            "Export the series again."
        ) from None
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise UnreadableFileError(f"{name} has no pixel data (the file is probably truncated). Export it again.")
    try:
        _set_missing_transfer_syntax(ds)
    except Exception as exc:
        raise UnreadableFileError(
            f"{name}: the transfer syntax of the file cannot be determined ({type(exc).__name__}); the file is "
            "corrupt. Export the series again."
        ) from None
    _check_decodable(ds, name)
    compressed = bool(getattr(ds.file_meta.get("TransferSyntaxUID"), "is_compressed", False))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            arr = ds.pixel_array
    except Exception as exc:
        msg = str(exc)
        if "missing" in msg.lower() and "dependenc" in msg.lower():
            ts = ds.file_meta.get("TransferSyntaxUID") if getattr(ds, "file_meta", None) else None
            raise UnsupportedCompressionError(
                f"{name}: the pixel data ({getattr(ts, 'name', ts)}) could not be decoded: {msg}. "
                f"To load it, {_compression_hint(ts)}."
            ) from None
        raise UnreadableFileError(
            f"The pixel data of {name} could not be decoded ({type(exc).__name__}: {msg[:200]}); the file is "
            "probably truncated or its compressed stream is damaged. Export the series again."
        ) from None
    if compressed and caught:
        raise UnreadableFileError(
            f"The compressed pixel data of {name} is damaged (the decoder reported: {str(caught[0].message)[:160]}); "
            "a partly decoded image would give wrong areas. Export the series again."
        )
    arr = np.asarray(arr)
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ImageValueError(
            f"{name} holds NaN or infinite pixel values, so no area or mean HU can be trusted. Export the series again."
        )
    if arr.dtype.kind not in "iuf":
        raise ImageValueError(f"{name} decodes to {arr.dtype} values, not CT numbers. Load the original CT series.")
    return arr


def _decode_stack(items: list[SourceItem], geom: StackGeometry) -> np.ndarray:
    cache: dict[int, np.ndarray] = {}
    first = geom.headers[0]
    out = None
    for k, h in enumerate(geom.headers):
        if h.index not in cache:
            if cache and geom.headers[k - 1].frame is None:
                cache.clear()  # single-frame files: keep only one decoded file in memory
            cache[h.index] = _read_pixels(items[h.index])
        arr = cache[h.index]
        frame = arr[h.frame] if h.frame is not None and arr.ndim == 3 else arr
        if frame.shape != (first.rows, first.cols):
            raise UnreadableFileError(
                f"{h.name} decodes to {frame.shape} pixels but its header says {first.rows}x{first.cols}; "
                "the file is corrupt. Export the series again."
            )
        if out is None:
            out = np.empty((len(geom.headers), first.rows, first.cols), dtype=frame.dtype)
        out[k] = frame
    assert out is not None
    return out


# ---------------------------------------------------------------------------------------------- HU
def _padding(h: SliceHeader) -> tuple[float, float] | None:
    """PixelPaddingValue (and range limit) as stored pixel values, read with the pixel representation."""
    ds = h.ds
    if "PixelPaddingValue" not in ds:
        return None
    bits = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 16)
    signed = int(ds.get("PixelRepresentation") or 0) == 1

    def conv(v: Any) -> float:
        v = int(v if not isinstance(v, bytes) else int.from_bytes(v[:2], "little"))
        if signed and v >= 2 ** (bits - 1):
            v -= 2**bits
        return float(v)

    try:
        lo = conv(ds.PixelPaddingValue)
        hi = conv(ds.PixelPaddingRangeLimit) if "PixelPaddingRangeLimit" in ds else lo
    except (TypeError, ValueError, OverflowError):
        return None  # not one number: reported by _to_hu
    return (min(lo, hi), max(lo, hi))


def _values_are_hu(h: SliceHeader) -> tuple[bool, str]:
    rt = " ".join(h.rescale_type.upper().split())
    # vendors write "HU", "HOUNSFIELD UNIT(S)" and even the misspelt "HOUNDSFIELD UNIT" (Toshiba, COVID-19-NY-SBU)
    if rt and rt != "HU" and not re.fullmatch(r"HOUN[D]?SFIELDS? UNITS?", rt):
        return False, f"RescaleType is '{h.rescale_type}'"
    kinds = [t for t in h.image_type if t.upper() in NOT_HU_IMAGE_TYPES]
    if kinds:
        return False, f"ImageType {'/'.join(h.image_type)} marks a derived parametric map"
    return True, ""


def _to_hu(raw: np.ndarray, headers: list[SliceHeader]) -> tuple[np.ndarray, bool, list[str]]:
    """Rescale slice by slice (slope/intercept may differ per slice); padding and < -1024 HU become air.

    Stored as int16 where every value is an integer in range, else float32.
    """
    is_hu, why = _values_are_hu(headers[0])
    integral = all(float(h.slope).is_integer() and float(h.intercept).is_integer() for h in headers)
    out = np.empty(raw.shape, dtype=np.int16 if integral else np.float32)
    n_clipped = 0
    pads_seen: set[tuple[float, float]] = set()
    bad_pad = False
    for k, h in enumerate(headers):
        r = raw[k]
        if integral:
            v = r.astype(np.int64) * int(h.slope) + int(h.intercept)
        else:
            v = r.astype(np.float64) * h.slope + h.intercept
        if is_hu:
            clip = v < AIR_HU
            pad = _padding(h)
            if pad is None and "PixelPaddingValue" in h.ds:
                bad_pad = True
            if pad is not None:
                pads_seen.add(pad)
                clip |= (r >= pad[0]) & (r <= pad[1])
            n = int(clip.sum())
            if n:
                v[clip] = AIR_HU
                n_clipped += n
        if out.dtype == np.int16 and (v.min() < -32768 or v.max() > 32767):
            out = out.astype(np.float32)  # integers beyond int16 (rare): keep them exactly in float32
        out[k] = v
    warnings: list[str] = []
    if bad_pad:
        warnings.append(
            "PixelPaddingValue is not one number (a corrupt header value); it was ignored, so no "
            "pixel was treated as padding."
        )
    if not is_hu:
        warnings.append(
            f"The pixel values are not HU ({why}); the image can be viewed but not measured. "
            "Load the original CT series for measurements."
        )
    elif n_clipped:
        pad_txt = ""
        if pads_seen:
            lo, hi = sorted(pads_seen)[0]
            pad_txt = f"PixelPaddingValue {lo:g}" if lo == hi else f"padding range {lo:g}..{hi:g}"
            pad_txt = f"padding ({pad_txt}) or "
        warnings.append(
            f"{n_clipped} voxels ({100 * n_clipped / out.size:.1f} %) were {pad_txt}below {AIR_HU} HU (outside the "
            f"field of view) and were set to {AIR_HU} HU (air)."
        )
    return out, is_hu, warnings


# ---------------------------------------------------------------------------------------------- volume + meta
def _to_volume(hu: np.ndarray, geom: StackGeometry, *, is_hu: bool, warnings: list[str], n_files: int) -> Volume:
    canon, aff_lps, axes, flips, codes = to_canonical(hu, LPS_TO_RAS @ geom.affine_lps)
    sops = tuple(h.sop_uid for h in geom.headers)
    if axes[0] == 0:
        sops = sops[::-1] if flips[0] else sops
    else:
        sops = ()  # reformats: canonical slices are not the file's images
    if geom.orientation != "axial":
        warnings = warnings + [
            f"This is a {geom.orientation} image; it is shown in the canonical axial layout "
            f"({canon.shape[0]} rows of the image became slices). Measurements need an axial series."
        ]
    first = geom.headers[0]
    kind = "dicom-multiframe" if first.frame is not None else ("dicom-series" if len(hu) > 1 else "dicom-slice")
    meta = source_meta(first.ds, first, kind=kind, sop_uids=sops, axcodes=codes, n_files=n_files)
    warnings = warnings + meta_warnings(first.ds)
    return Volume.from_canonical(
        hu=np.ascontiguousarray(canon),
        affine=aff_lps,
        meta=meta,
        warnings=warnings,
        is_hu=is_hu,
        source_axes=axes,
        source_flips=flips,
        single_slice_thickness_mm=geom.thickness_mm if len(hu) == 1 else None,
    )
