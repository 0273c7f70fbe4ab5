"""NIfTI (.nii / .nii.gz) reading into a canonical Volume, and writing masks back on the source grid."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import nibabel as nib
import numpy as np

from sarco_core.errors import UnreadableFileError
from sarco_core.io.orient import LPS_TO_RAS, to_canonical
from sarco_core.volume import SourceMeta, Volume

AIR_HU = -1024


def _open(src: str | Path | bytes) -> nib.Nifti1Image:
    try:
        if isinstance(src, bytes):
            raw = gzip.decompress(src) if src[:2] == b"\x1f\x8b" else src
            fh = nib.FileHolder(fileobj=io.BytesIO(raw))
            return nib.Nifti1Image.from_file_map({"header": fh, "image": fh})
        return nib.load(str(src))  # type: ignore[return-value]
    except Exception as exc:  # nibabel raises many types for broken files
        name = "uploaded data" if isinstance(src, bytes) else str(src)
        raise UnreadableFileError(
            f"Could not read {name} as NIfTI ({type(exc).__name__}: {exc}). "
            "Check that the file is complete (.nii or .nii.gz) and not truncated."
        ) from None


def load_nifti(src: str | Path | bytes, *, is_mask: bool = False) -> Volume:
    """Load a 3-D (or 2-D) NIfTI image. CT values are taken as HU (scl_slope/inter applied by nibabel)."""
    img = _open(src)
    try:
        data = np.asanyarray(img.dataobj)
    except Exception as exc:
        raise UnreadableFileError(
            f"The NIfTI pixel data could not be read ({exc}); the file is probably truncated. Re-export it."
        ) from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim != 3:
        raise UnreadableFileError(
            f"The NIfTI image has {data.ndim} dimensions {data.shape}; expected one 3-D CT volume or 2-D slice."
        )
    affine = np.asarray(img.affine, dtype=float)
    canon, aff_lps, axes, flips, codes = to_canonical(data, affine)
    warnings: list[str] = []
    if is_mask:
        arr = np.ascontiguousarray(canon)
        if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int16)
    else:
        arr = np.ascontiguousarray(canon)
        if arr.dtype.kind == "f" and np.all(np.mod(arr[:: max(1, arr.shape[0] // 8)], 1) == 0):
            arr = arr.astype(np.int16)
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
    nib.save(img, str(tmp))
    tmp.replace(path)
    return path
