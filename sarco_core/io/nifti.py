"""NIfTI (.nii / .nii.gz) reading into a canonical Volume, and writing masks back on the source grid."""

from __future__ import annotations

import io
import os
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np

from sarco_core.errors import ImageValueError, InputLimitError, OutputPathError, SarcoError, UnreadableFileError
from sarco_core.io import limits
from sarco_core.io.orient import LPS_TO_RAS, to_canonical
from sarco_core.volume import SourceMeta, Volume

AIR_HU = -1024
ORTHOGONAL_TOL = 1e-3  # |cos| between voxel axes; resampling rounding stays below 1e-5
_CHUNK = 1 << 20


def _gunzip(data: bytes, *, check_ratio: bool) -> bytes:
    """Decompress a gzip stream (several members allowed) in chunks against the size cap and, for images,
    the ratio limit; never more than ``_CHUNK`` bytes of output per step."""
    cap = limits.max_member_bytes()
    d = zlib.decompressobj(wbits=31)
    out = bytearray()
    fed = 0  # compressed bytes handed to the decompressor so far
    buf = b""
    try:
        while True:
            if not buf:
                if fed >= len(data):
                    break
                buf = data[fed : fed + _CHUNK]
                fed += len(buf)
            limits.check_deadline("decompressing the NIfTI file")
            out += d.decompress(buf, _CHUNK)
            buf = d.unconsumed_tail
            if len(out) > cap:
                raise InputLimitError(
                    f"The NIfTI file unpacks to more than {cap / 1e9:.2f} GB (SARCO_MAX_MEMBER_BYTES): refused "
                    "as a possible gzip bomb. Load one CT volume, or raise the limit."
                )
            if check_ratio:
                limits.check_ratio("The NIfTI file", len(out), fed)
            if d.eof:
                rest = d.unused_data + buf + data[fed:]
                if rest[:2] != b"\x1f\x8b":
                    break
                d, buf, fed = zlib.decompressobj(wbits=31), rest, len(data)  # the next gzip member
    except zlib.error as exc:
        raise UnreadableFileError(
            f"The NIfTI file's gzip stream is corrupt ({exc}). Check that the .nii.gz file is complete and export "
            "it again."
        ) from None
    if not d.eof:
        raise UnreadableFileError(
            "The NIfTI file's gzip stream ends early: the .nii.gz file is truncated. Upload the complete file."
        )
    return bytes(out)


def _open(src: str | Path | bytes, *, is_mask: bool) -> nib.Nifti1Image:
    name = "uploaded data" if isinstance(src, bytes) else str(src)
    raw = b""
    try:
        if isinstance(src, bytes):
            raw = _gunzip(src, check_ratio=not is_mask) if src[:2] == b"\x1f\x8b" else src
            fh = nib.FileHolder(fileobj=io.BytesIO(raw))
            img = nib.Nifti1Image.from_file_map({"header": fh, "image": fh})
        else:
            img = nib.load(str(src))
    except SarcoError:
        raise
    except Exception as exc:  # nibabel raises many types for broken files
        raise UnreadableFileError(
            f"Could not read {name} as NIfTI ({type(exc).__name__}: {str(exc)[:200]}). "
            "Check that the file is complete (.nii or .nii.gz) and not truncated."
        ) from None
    if not isinstance(img, nib.Nifti1Image | nib.Nifti2Image):
        raise UnreadableFileError(f"{name} is not a NIfTI-1/2 image ({type(img).__name__}). Export it as NIfTI.")
    if not isinstance(img, nib.Nifti2Image):
        try:
            block = raw[:348] if isinstance(src, bytes) else _raw_header(Path(src))
        except (OSError, EOFError, ValueError):
            block = b""
        _check_raw_pixdim(block)
    return img


def _raw_header(p: Path) -> bytes:
    import gzip

    with gzip.open(p, "rb") if p.name.lower().endswith(".gz") else p.open("rb") as fh:
        return bytes(fh.read(348))


def _check_raw_pixdim(block: bytes) -> None:
    """nibabel silently replaces zero voxel sizes by 1 and negative ones by their absolute value; when the
    affine is built from them (no sform), refuse instead of measuring on an invented voxel size."""
    if len(block) < 348:
        return
    hdr = nib.Nifti1Header(binaryblock=block, check=False)
    if int(hdr["sform_code"]) > 0:
        return
    pix = np.asarray(hdr["pixdim"][1:4], dtype=float)
    if not np.all(np.isfinite(pix)) or np.any(pix <= 0):
        raise ImageValueError(
            f"The NIfTI voxel sizes (pixdim {[float(v) for v in pix]}) are zero, negative or not numbers and the "
            "file has no sform, so its voxel size is unknown. Re-export the image with a valid sform/qform."
        )


def _check_header(img: nib.Nifti1Image, src: str | Path | bytes, *, is_mask: bool) -> None:
    """Refuse what cannot be CT before any voxel is read: complex/colour types, too many voxels, a bomb."""
    dtype = img.header.get_data_dtype()
    if dtype.kind == "c":
        raise ImageValueError(
            f"The NIfTI image holds complex numbers ({dtype}), e.g. MR k-space or phase data, not CT numbers. "
            "Load the CT image itself."
        )
    if dtype.fields is not None or dtype.kind not in "iufb":
        raise ImageValueError(
            f"The NIfTI image holds {dtype} values (RGB/colour or a structured type), not CT numbers. Load the "
            "original grey-scale CT image."
        )
    shape = tuple(int(s) for s in img.shape)
    limits.check_voxels(shape, "The NIfTI image")
    if not is_mask and not isinstance(src, bytes):
        p = Path(src)
        if p.name.lower().endswith(".gz"):
            n = 1
            for d in shape:
                n *= d
            limits.check_ratio("The NIfTI file", n * dtype.itemsize, p.stat().st_size)


def _check_affine(affine: np.ndarray) -> None:
    """Refuse affines that define no geometry: NaN/inf, a zero column, singular or sheared (non-orthogonal)."""
    if not np.all(np.isfinite(affine)):
        raise ImageValueError(
            "The NIfTI affine (voxel-to-world matrix) contains NaN or infinite values, so voxel sizes and "
            "orientation are unknown. Re-export the image with a valid sform/qform."
        )
    m = affine[:3, :3]
    norms = np.linalg.norm(m, axis=0)
    if np.any(norms < 1e-6):
        axes = ", ".join(str(i) for i in np.flatnonzero(norms < 1e-6))
        raise ImageValueError(
            f"The NIfTI affine has a zero column (voxel axis {axes} has no size or direction): the geometry is "
            "degenerate. Re-export the image with a valid sform/qform."
        )
    unit = m / norms
    gram = unit.T @ unit
    off = float(np.max(np.abs(gram - np.eye(3))))
    if abs(float(np.linalg.det(unit))) < 1e-3:
        raise ImageValueError(
            "The NIfTI affine is singular (two voxel axes point the same way): the geometry is degenerate. "
            "Re-export the image with a valid sform/qform."
        )
    if off > ORTHOGONAL_TOL:
        angle = float(np.degrees(np.arcsin(min(1.0, off))))
        raise ImageValueError(
            f"The NIfTI affine is sheared: its voxel axes are {angle:.1f} degrees away from perpendicular, so "
            "areas measured in a slice would be distorted. Resample the image onto an orthogonal grid first."
        )


def _to_int16_if_exact(arr: np.ndarray) -> np.ndarray:
    """Float data that is integral and inside int16 becomes int16; anything else keeps its float type
    (values outside int16 are then refused by :func:`~sarco_core.io.checks.check_volume`, never wrapped)."""
    if arr.dtype.kind != "f" or arr.size == 0:
        return arr
    finite = np.isfinite(arr)
    if not finite.all():
        return arr
    if float(arr.min()) < -32768 or float(arr.max()) > 32767 or not np.all(arr == np.round(arr)):
        return arr
    return arr.astype(np.int16)


def load_nifti(src: str | Path | bytes, *, is_mask: bool = False) -> Volume:
    """Load a 3-D (or 2-D) NIfTI image. CT values are taken as HU (scl_slope/inter applied by nibabel)."""
    img = _open(src, is_mask=is_mask)
    _check_header(img, src, is_mask=is_mask)
    try:
        data = np.asanyarray(img.dataobj)
    except Exception as exc:
        raise UnreadableFileError(
            f"The NIfTI pixel data could not be read ({type(exc).__name__}: {str(exc)[:200]}); the file is "
            "probably truncated. Re-export it."
        ) from None
    if data.dtype.kind == "c":
        raise ImageValueError("The NIfTI image holds complex numbers, not CT numbers. Load the CT image itself.")
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim != 3:
        raise UnreadableFileError(
            f"The NIfTI image has {data.ndim} dimensions {data.shape}; expected one 3-D CT volume or 2-D slice."
        )
    affine = np.asarray(img.affine, dtype=float)
    _check_affine(affine)
    canon, aff_lps, axes, flips, codes = to_canonical(data, affine)
    warnings: list[str] = []
    arr = _to_int16_if_exact(np.ascontiguousarray(canon))
    if not is_mask:
        from sarco_core.io.checks import check_values

        check_values(arr)  # NaN/inf and values beyond int16 are refused before anything is set to air
        below = int((arr < AIR_HU).sum())
        if below:
            arr = np.maximum(arr, AIR_HU).astype(arr.dtype)
            warnings.append(
                f"{below} voxels below {AIR_HU} HU (padding or outside the field of view) "
                f"were set to {AIR_HU} HU (air)."
            )
    zooms = img.header.get_zooms()
    meta = SourceMeta(kind="nifti", modality="CT" if not is_mask else None, source_axcodes=codes, n_files=1)
    return Volume.from_canonical(
        hu=arr,
        affine=aff_lps,
        meta=meta,
        warnings=warnings,
        source_axes=axes,
        source_flips=flips,
        source_affine=affine,
        single_slice_thickness_mm=float(zooms[2]) if len(zooms) > 2 else None,
    )


def check_output_path(path: str | Path) -> Path:
    """Check, before any work, that a NIfTI can be written at ``path``; raise :class:`OutputPathError` if not."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise OutputPathError(f"{p} is a folder. Give a file name inside it, e.g. {p / 'mask.nii.gz'}.")
    if not (p.name.endswith(".nii") or p.name.endswith(".nii.gz")):
        raise OutputPathError(f"{p} does not end in .nii or .nii.gz. Name the mask file e.g. mask.nii.gz.")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputPathError(f"{parent} is not a folder, so {p} cannot be created. Choose another path.")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise OutputPathError(f"{p} cannot be written (no write permission in {parent}). Choose another path.")
    return p


def save_nifti(volume: Volume, array: np.ndarray, path: str | Path, *, dtype: type = np.uint8) -> Path:
    """Write a canonical-layout array (e.g. a mask) as NIfTI on the image's own voxel grid.

    For a NIfTI input the output has the input's exact affine and voxel order, so it overlays in any viewer.
    """
    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.shape != volume.shape:
        raise ValueError(f"array shape {arr.shape} differs from the volume's {volume.shape}")
    if volume.source_affine is not None:
        data = volume.to_source_order(arr)
        affine = np.asarray(volume.source_affine)
    else:
        # DICOM or synthetic: write (c, r, k) so that the first axis runs along patient left (RAS convention)
        data = np.transpose(arr, (2, 1, 0))
        aff = LPS_TO_RAS @ np.asarray(volume.affine)
        affine = aff[:, [2, 1, 0, 3]]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(np.ascontiguousarray(data).astype(dtype), affine)
    img.header.set_xyzt_units("mm")
    tmp = path.with_name(path.name + ".partial" + (".nii.gz" if path.name.endswith(".gz") else ".nii"))
    try:
        nib.save(img, str(tmp))
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
