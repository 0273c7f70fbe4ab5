"""Compressed, checksummed (de)serialisation of the de-identified image copy and of 2-D masks."""

from __future__ import annotations

import hashlib
import io
import json
import zlib
from dataclasses import fields, replace
from typing import Any

import numpy as np

from sarco_core.errors import InvalidMaskError, StoreError
from sarco_core.store import chunks
from sarco_core.volume import SourceMeta, Volume

# SourceMeta fields kept in meta_json (sop_uids and UIDs have their own columns; nothing identifying exists)
_META_SKIP = {"sop_uids"}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hu_storage(hu: np.ndarray) -> np.ndarray:
    """int16 when the HU values are integral and in range (the usual CT case), else float32."""
    a = np.asarray(hu)
    if a.dtype == np.int16:
        return a
    if a.dtype.kind in "iu":
        if a.size == 0 or (a.min() >= -32768 and a.max() <= 32767):
            return a.astype(np.int16)
        return a.astype(np.float32)
    if a.size and np.all(np.isfinite(a)) and np.all(a == np.round(a)) and a.min() >= -32768 and a.max() <= 32767:
        return a.astype(np.int16)
    return a.astype(np.float32)


def encode_volume(volume: Volume) -> tuple[bytes, dict[str, Any], dict[str, Any]]:
    """(compressed HU blob, geometry dict, meta dict) for a volume."""
    blob = chunks.encode(_hu_storage(volume.hu))
    sp = volume.spacing_mm
    geometry = {
        "affine": np.asarray(volume.affine, dtype=float).tolist(),
        "spacing_mm": [sp.slice, sp.row, sp.col],
        "source_axes": list(volume.source_axes),
        "source_flips": list(volume.source_flips),
        "source_affine": None if volume.source_affine is None else np.asarray(volume.source_affine).tolist(),
    }
    meta = {f.name: getattr(volume.meta, f.name) for f in fields(SourceMeta) if f.name not in _META_SKIP}
    meta["image_type"] = list(volume.meta.image_type)
    meta["source_axcodes"] = list(volume.meta.source_axcodes) if volume.meta.source_axcodes else None
    meta = {"source": meta, "warnings": list(volume.warnings), "is_hu": bool(volume.is_hu)}
    return blob, geometry, meta


def decode_volume(
    blob: bytes,
    expected_sha256: str,
    geometry: dict[str, Any],
    meta: dict[str, Any],
    sop_uids: list[str],
    *,
    case_label: str,
) -> Volume:
    """Rebuild the Volume; a checksum or format mismatch raises :class:`StoreError`."""
    if sha256_hex(blob) != expected_sha256:
        raise StoreError(
            f"The stored image of case {case_label} is corrupt (checksum mismatch). "
            "Restore the database from a backup, or re-upload the scan as a new case."
        )
    try:
        if blob[:2] == b"PK":  # the first weeks' format: an npz archive
            with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
                hu = np.array(npz["hu"])
        else:
            hu = chunks.decode(blob)
    except (chunks.ChunkError, ValueError, KeyError) as exc:
        raise StoreError(
            f"The stored image of case {case_label} cannot be decoded ({exc}). Re-upload the scan as a new case."
        ) from None
    src = dict(meta.get("source", {}))
    src["image_type"] = tuple(src.get("image_type") or ())
    ax = src.get("source_axcodes")
    src["source_axcodes"] = tuple(ax) if ax else None
    known = {f.name for f in fields(SourceMeta)}
    sm = SourceMeta(**{k: v for k, v in src.items() if k in known})
    sm = replace(sm, sop_uids=tuple(sop_uids))
    sa = geometry.get("source_affine")
    sp = geometry.get("spacing_mm") or [None, 1.0, 1.0]
    return Volume.from_canonical(
        hu=hu,
        affine=np.asarray(geometry["affine"], dtype=float),
        meta=sm,
        warnings=tuple(meta.get("warnings", ())),
        is_hu=bool(meta.get("is_hu", True)),
        source_axes=tuple(geometry.get("source_axes", (0, 1, 2))),  # type: ignore[arg-type]
        source_flips=tuple(bool(f) for f in geometry.get("source_flips", (False, False, False))),  # type: ignore[arg-type]
        source_affine=None if sa is None else np.asarray(sa, dtype=float),
        single_slice_thickness_mm=sp[0],
    )


def normalise_mask2d(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A 2-D uint8 label map (0 background, 1 muscle, 2 SAT, 3 VAT) of the given shape, or a clear error."""
    a = np.asarray(labels)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2:
        raise InvalidMaskError(
            f"A mask version is one 2-D slice; got an array of shape {a.shape}. Pass the measured slice only."
        )
    if a.shape != tuple(shape):
        from sarco_core.errors import GridMismatchError

        raise GridMismatchError(
            f"The mask's shape {a.shape} differs from the image slice's {tuple(shape)} (rows, cols). "
            "Draw or export the mask on the same image."
        )
    if a.dtype == bool:
        return a.astype(np.uint8)
    if a.dtype.kind == "f" and (not np.all(np.isfinite(a)) or not np.all(a == np.round(a))):
        raise InvalidMaskError("The mask holds non-integer values; expected labels 0-3 (1 muscle, 2 SAT, 3 VAT).")
    vals = np.unique(a)
    if not np.all(np.isin(vals, (0, 1, 2, 3))):
        raise InvalidMaskError(
            f"The mask holds values {vals[:10].tolist()}; expected 0-3 (1 skeletal muscle, 2 SAT, 3 VAT)."
        )
    return a.astype(np.uint8)


def encode_mask(mask: np.ndarray) -> tuple[bytes, str]:
    """(zlib bytes, sha256 of the raw uint8 bytes)."""
    raw = np.ascontiguousarray(mask, dtype=np.uint8).tobytes()
    return zlib.compress(raw, 6), sha256_hex(raw)


def decode_mask(blob: bytes, shape: tuple[int, int], expected_sha256: str, *, what: str) -> np.ndarray:
    try:
        raw = zlib.decompress(blob)
    except zlib.error:
        raw = b""
    if len(raw) != shape[0] * shape[1] or sha256_hex(raw) != expected_sha256:
        raise StoreError(
            f"The stored mask of {what} is corrupt (checksum mismatch). Restore another version or the database "
            "from a backup."
        )
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape).copy()


def dumps(obj: Any) -> str:
    """JSON with numpy scalars/arrays converted (for analysis dicts from any module)."""
    return json.dumps(obj, default=_json_default, sort_keys=True)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, tuple | set | frozenset):
        return list(o)
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if hasattr(o, "isoformat"):
        return o.isoformat()
    return str(o)


def decode_hu_slice(blob: bytes, k: int, *, case_label: str) -> np.ndarray:
    """One canonical slice of the stored image, verified by its own checksum (no full decode)."""
    try:
        return chunks.decode_slice(blob, k)
    except (chunks.ChunkError, ValueError, KeyError) as exc:
        raise StoreError(
            f"The stored image of case {case_label} is corrupt ({exc}). Restore the database from a backup, "
            "or re-upload the scan as a new case."
        ) from None
