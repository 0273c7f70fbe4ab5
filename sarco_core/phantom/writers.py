"""Write phantoms to disk for tests: NIfTI (image + label maps), DICOM series, zip."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sarco_core.io.nifti import save_nifti
from sarco_core.volume import Volume

if TYPE_CHECKING:
    from sarco_core.phantom.slice import PhantomSlice
    from sarco_core.phantom.volume import PhantomVolume


def _volume(obj: PhantomVolume | PhantomSlice | Volume) -> Volume:
    if isinstance(obj, Volume):
        return obj
    vol = obj.volume
    return vol() if callable(vol) else vol


def write_nifti(
    obj: PhantomVolume | PhantomSlice | Volume,
    path: str | Path,
    *,
    labels_path: str | Path | None = None,
    vertebrae_path: str | Path | None = None,
) -> Path:
    """Write the HU image (int16) to ``path``; optionally the 0-3 label map and the vertebra ids on the same grid."""
    vol = _volume(obj)
    out = save_nifti(vol, np.asarray(vol.hu), path, dtype=np.int16)
    if (labels_path is not None or vertebrae_path is not None) and isinstance(obj, Volume):
        raise ValueError("label maps need a PhantomVolume or PhantomSlice, not a bare Volume")
    if labels_path is not None and not isinstance(obj, Volume):
        save_nifti(vol, np.asarray(obj.labels), labels_path, dtype=np.uint8)
    if vertebrae_path is not None and not isinstance(obj, Volume):
        save_nifti(vol, np.asarray(obj.vertebrae), vertebrae_path, dtype=np.uint8)
    return out


def write_dicom(obj: PhantomVolume | PhantomSlice | Volume, folder: str | Path, **kwargs: object) -> list[Path]:
    """One DICOM file per slice (see :func:`sarco_core.io.dicom_write.write_dicom_series` for options)."""
    from sarco_core.io.dicom_write import write_dicom_series

    return write_dicom_series(_volume(obj), Path(folder), **kwargs)  # type: ignore[arg-type]


def write_zip(obj: PhantomVolume | PhantomSlice | Volume, zip_path: str | Path, **kwargs: object) -> Path:
    """The DICOM series zipped (written through a temporary folder next to ``zip_path``)."""
    import shutil
    import tempfile

    from sarco_core.io.dicom_write import write_zip as _zip

    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".phantom_", dir=zip_path.parent))
    try:
        write_dicom(obj, tmp, **kwargs)
        return _zip(tmp, zip_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
