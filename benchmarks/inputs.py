"""Benchmark inputs, generated once and cached in ``data_cache/bench/`` (git-ignored).

The 300-slice series is ``totalsegmentator/example_ct.nii.gz`` (real abdomen, 3 mm voxels) resampled to
300 slices of 512² (0.715 mm pixels, 1.12 mm slices) - used for speed measurement only - or, without the
shared data, a phantom stack of the same size.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from benchmarks.common import CACHE, REPO
from sarco_core.volume import Volume

SHARED = Path(os.environ.get("SARCO_SHARED_DATA", REPO.parent / "shared" / "data"))
EXAMPLE_CT = SHARED / "totalsegmentator" / "example_ct.nii.gz"


def series_volume(n_slices: int, size: int = 512) -> tuple[Volume, str]:
    """An ``n_slices`` × ``size``² abdomen covering the same anatomy whatever the size, and its description."""
    tag = f"series_{n_slices}x{size}"
    npy, meta_p = CACHE / f"{tag}.npy", CACHE / f"{tag}.json"
    if npy.is_file() and meta_p.is_file():
        meta = json.loads(meta_p.read_text())
        hu = np.load(npy)
        sp = meta["spacing_mm"]
        return Volume.from_array(hu=hu, spacing_mm=(sp[0], sp[1], sp[2]), z0_mm=meta["z0_mm"]), meta["what"]
    CACHE.mkdir(parents=True, exist_ok=True)
    if EXAMPLE_CT.is_file():
        hu, spacing, z0, what = _resampled_example(n_slices, size)
    else:
        hu, spacing, z0, what = _phantom_series(n_slices, size)
    np.save(npy, hu)
    meta_p.write_text(json.dumps({"spacing_mm": spacing, "z0_mm": z0, "what": what}))
    return Volume.from_array(hu=hu, spacing_mm=(spacing[0], spacing[1], spacing[2]), z0_mm=z0), what


def _resampled_example(n_slices: int, size: int) -> tuple[np.ndarray, list[float], float, str]:
    from scipy import ndimage as ndi

    from sarco_core.io.loader import load

    src = load(EXAMPLE_CT)
    k, r, c = src.shape
    sp = src.spacing_mm
    fov = max(r * sp.row, c * sp.col)  # square field of view, padded with air
    px = fov / size
    slice_mm = k * float(sp.slice or 3.0) / n_slices
    zoom = (n_slices / k, sp.row / px, sp.col / px)
    hu = ndi.zoom(np.asarray(src.hu, np.float32), zoom, order=1, mode="nearest", grid_mode=True)
    out = np.full((n_slices, size, size), -1024, np.int16)
    hr, hc = min(hu.shape[1], size), min(hu.shape[2], size)
    r0, c0 = (size - hr) // 2, (size - hc) // 2
    out[:, r0 : r0 + hr, c0 : c0 + hc] = np.round(hu[:n_slices, :hr, :hc]).clip(-1024, 3071).astype(np.int16)
    z0 = float(src.z_mm[0]) - float(sp.slice or 3.0) / 2 + slice_mm / 2
    what = (
        f"example_ct resampled to {n_slices} × {size}² ({slice_mm:.2f} mm slices, {px:.3f} mm pixels), "
        "real abdomen CT, speed measurement only"
    )
    return out, [slice_mm, px, px], z0, what


def _phantom_series(n_slices: int, size: int) -> tuple[np.ndarray, list[float], float, str]:
    from sarco_core.phantom import phantom_volume

    pv = phantom_volume(7, slice_mm=3.0, pixel_mm=0.8 * 512 / size, size=size, top="T11", bottom="femur")
    v = pv.volume
    from scipy import ndimage as ndi

    hu = ndi.zoom(np.asarray(v.hu, np.float32), (n_slices / v.n_slices, 1, 1), order=1, grid_mode=True)
    slice_mm = v.n_slices * 3.0 / n_slices
    what = f"phantom (seed 7) resampled to {n_slices} × {size}² (no shared data found)"
    return np.round(hu).astype(np.int16), [slice_mm, v.spacing_mm.row, v.spacing_mm.col], float(v.z_mm[0]), what


def dicom_zip(n_slices: int, transfer_syntax: str, size: int = 512) -> tuple[Path, str]:
    """The series as a zipped DICOM series ('explicit-le' = uncompressed, or 'jpeg2000-lossless')."""
    from sarco_core.io.dicom_write import write_dicom_series, write_zip

    z = CACHE / f"series_{n_slices}x{size}_{transfer_syntax}.zip"
    vol, what = series_volume(n_slices, size)
    if not z.is_file():
        folder = CACHE / f"tmp_{z.stem}"
        shutil.rmtree(folder, ignore_errors=True)
        write_dicom_series(vol, folder, transfer_syntax=transfer_syntax)
        write_zip(folder, z.with_suffix(".zip.partial"))
        z.with_suffix(".zip.partial").replace(z)
        shutil.rmtree(folder, ignore_errors=True)
    return z, what


def small_cases(n: int) -> tuple[Path, str]:
    """A folder of ``n`` small NIfTI cases (symbolic links to example_ct - never copies of the shared data -
    or phantom stacks) for throughput."""
    d = CACHE / f"cases_{n}"
    if d.is_dir() and len(list(d.glob("*.nii.gz"))) == n and all(p.exists() for p in d.glob("*.nii.gz")):
        return d, _small_what()
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    if EXAMPLE_CT.is_file():
        for i in range(n):
            (d / f"case{i:03d}.nii.gz").symlink_to(EXAMPLE_CT.resolve())
    else:
        from sarco_core.phantom import phantom_volume, write_nifti

        for i in range(n):
            write_nifti(phantom_volume(100 + i, pixel_mm=1.6, size=192, top="T12"), d / f"case{i:03d}.nii.gz")
    return d, _small_what()


def _small_what() -> str:
    if EXAMPLE_CT.is_file():
        return "links to example_ct.nii.gz (112 slices of 101 × 122, 3 mm)"
    return "phantom stacks (192², 3 mm slices)"
