"""Reorienting voxel arrays into the canonical (S, P, L) layout without resampling (nibabel orientations)."""

from __future__ import annotations

import numpy as np
from nibabel import orientations as nio

from sarco_core.volume import CANONICAL_AXCODES

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def to_canonical(
    data: np.ndarray, affine_ras: np.ndarray
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int], tuple[bool, bool, bool], tuple[str, str, str]]:
    """Reorient ``data`` (3-D, voxel->RAS ``affine_ras``) to canonical layout.

    Returns (canonical data, canonical (k, r, c)->LPS affine, source_axes, source_flips, source axcodes), where
    ``canonical == np.flip(np.transpose(data, source_axes), flipped axes)``.
    """
    src = nio.io_orientation(affine_ras)
    src_codes = tuple(str(c) for c in nio.ornt2axcodes(src))
    xform = nio.ornt_transform(src, nio.axcodes2ornt(CANONICAL_AXCODES))
    out = nio.apply_orientation(data, xform)
    inv_aff = nio.inv_ornt_aff(xform, data.shape)
    aff_ras = affine_ras @ inv_aff
    # xform[i] = (new axis of source axis i, flip); canonical axis j comes from source axis axes[j]
    axes = [0, 0, 0]
    flips = [False, False, False]
    for src_ax, (new_ax, flip) in enumerate(xform):
        axes[int(new_ax)] = src_ax
        flips[int(new_ax)] = bool(flip == -1)
    return (
        out,
        LPS_TO_RAS @ aff_ras,
        (axes[0], axes[1], axes[2]),
        (flips[0], flips[1], flips[2]),
        (src_codes[0], src_codes[1], src_codes[2]),
    )
