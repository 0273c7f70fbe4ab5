"""Mask export as NIfTI on the image's own voxel grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sarco_core.errors import GridMismatchError
from sarco_core.io.nifti import save_nifti
from sarco_core.volume import Volume


def mask_to_nifti(volume: Volume, labels2d: np.ndarray, slice_index: int, path: str | Path) -> Path:
    """A 3-D uint8 label volume on the image grid with only ``slice_index`` filled (0 bg, 1 muscle, 2 SAT, 3 VAT)."""
    lab = np.asarray(labels2d)
    if lab.shape != volume.shape[1:]:
        raise GridMismatchError(f"The mask's shape {lab.shape} differs from the image slice's {volume.shape[1:]}.")
    if not 0 <= slice_index < volume.n_slices:
        raise IndexError(f"Slice {slice_index} is outside 0..{volume.n_slices - 1}.")
    full = np.zeros(volume.shape, np.uint8)
    full[slice_index] = lab.astype(np.uint8)
    return save_nifti(volume, full, path, dtype=np.uint8)
