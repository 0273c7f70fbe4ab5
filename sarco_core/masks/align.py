"""Alignment of an imported mask with its CT: shape, pixel spacing, orientation, in-plane position and slice.

Nothing is ever resampled: a mask that is not on the CT's pixel grid is refused with an error that names both
grids and the fix (export the mask from the same series, or resample it onto the CT in the tool that drew it).
"""

from __future__ import annotations

import numpy as np

from sarco_core.errors import GridMismatchError, InvalidMaskError
from sarco_core.metrics import nonempty_slices
from sarco_core.volume import Volume

SPACING_TOL_MM = 0.01  # header spacing is written with >= 3 decimals; a real mismatch is >> 0.01 mm
ANGLE_TOL_DEG = 0.1  # 256 pixels from the centre, grids 0.1° apart drift by < half a pixel (256 x tan 0.1° = 0.45)
POSITION_TOL_PX = 0.5  # half a pixel: the nearest-pixel grid is the same
RESAMPLE_FIX = (
    "Export the mask from this CT series (same image, same pixel grid), or resample it onto the CT "
    "in the tool that drew it (e.g. 3D Slicer: Resample Image (BRAINS) with the CT as reference); "
    "sarco never resamples an imported mask."
)


def check_inplane(ct: Volume, shape: tuple[int, int], *, what: str) -> None:
    """Refuse a mask whose slice shape differs from the CT's (rows, cols)."""
    if tuple(shape) != tuple(ct.shape[1:]):
        raise GridMismatchError(
            f"{what} is {shape[0]} x {shape[1]} pixels (rows x cols) but the CT slice is "
            f"{ct.shape[1]} x {ct.shape[2]}. {RESAMPLE_FIX}"
        )


def check_spacing(ct: Volume, row_mm: float | None, col_mm: float | None, *, what: str) -> None:
    """Refuse a mask whose pixel spacing (when it states one) differs from the CT's."""
    pairs = [("row", row_mm, ct.spacing_mm.row), ("column", col_mm, ct.spacing_mm.col)]
    bad = [(n, m, c) for n, m, c in pairs if m is not None and abs(float(m) - c) > SPACING_TOL_MM]
    if bad:
        text = ", ".join(f"{n} {m:.4f} mm vs {c:.4f} mm" for n, m, c in bad)
        raise GridMismatchError(f"{what} has another pixel spacing than the CT ({text}). {RESAMPLE_FIX}")


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def check_geometry(ct: Volume, mask: Volume, *, what: str) -> None:
    """Same in-plane shape, spacing, orientation and in-plane origin (the slice position is checked apart)."""
    check_inplane(ct, (mask.shape[1], mask.shape[2]), what=what)
    check_spacing(ct, mask.spacing_mm.row, mask.spacing_mm.col, what=what)
    a, b = np.asarray(ct.affine, float), np.asarray(mask.affine, float)
    cos_tol = float(np.cos(np.radians(ANGLE_TOL_DEG)))
    for j, name in ((1, "row"), (2, "column")):
        cos = float(np.dot(_unit(a[:3, j]), _unit(b[:3, j])))
        if cos < cos_tol:
            angle = float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))
            raise GridMismatchError(
                f"{what}'s {name} direction differs from the CT's by {angle:.1f}° (orientation mismatch: another "
                f"series, a reformat, or a flipped export). {RESAMPLE_FIX}"
            )
    d = b[:3, 3] - a[:3, 3]
    off_r = float(np.dot(d, _unit(a[:3, 1])))
    off_c = float(np.dot(d, _unit(a[:3, 2])))
    if abs(off_r) > POSITION_TOL_PX * ct.spacing_mm.row or abs(off_c) > POSITION_TOL_PX * ct.spacing_mm.col:
        raise GridMismatchError(
            f"{what}'s grid is shifted against the CT's by {off_r:.1f} mm (rows) and {off_c:.1f} mm (columns) "
            f"in the slice plane. {RESAMPLE_FIX}"
        )


def slice_tolerance_mm(ct: Volume) -> float:
    """Half the slice spacing (or half the thickness of a single slice, else 0.5 mm)."""
    step = ct.spacing_mm.slice or ct.meta.slice_thickness_mm or 1.0
    return 0.5 * float(step)


def ct_index_of_z(ct: Volume, z_mm: float, *, what: str) -> int:
    """The CT slice at ``z_mm``; refuses a position between or outside the CT's slices."""
    k = ct.index_of_z(z_mm)
    if abs(float(ct.z_mm[k]) - z_mm) > slice_tolerance_mm(ct):
        raise GridMismatchError(
            f"{what} lies at z = {z_mm:.1f} mm, where the CT has no slice (its slices span "
            f"{float(ct.z_mm.min()):.1f}..{float(ct.z_mm.max()):.1f} mm, nearest {float(ct.z_mm[k]):.1f} mm). "
            "Import the mask with the CT series it was drawn on."
        )
    return k


def labelled(arr: np.ndarray) -> list[int]:
    """Slice indices (axis 0) that hold any non-zero value."""
    return nonempty_slices(arr)


def choose_slice(ct_indices: list[int], *, requested: int | None, n_slices: int, what: str) -> int:
    """The one CT slice to import: ``requested`` (must hold labels) or the only labelled one."""
    if requested is not None:
        if not 0 <= requested < n_slices:
            raise InvalidMaskError(
                f"Slice {requested} is outside the CT's slices 0..{n_slices - 1} (0 = most inferior)."
            )
        if requested not in ct_indices:
            raise InvalidMaskError(
                f"{what} is empty on slice {requested}; it holds labels on slices {ct_indices[:20]} "
                "(0 = most inferior). Give one of these as the slice."
            )
        return requested
    if not ct_indices:
        raise InvalidMaskError(f"{what} is empty (no labelled pixel on any slice); nothing to import.")
    if len(ct_indices) > 1:
        raise InvalidMaskError(
            f"{what} holds labels on {len(ct_indices)} slices {ct_indices[:20]} (0 = most inferior); give the "
            "traced L3 slice (manifest column 'slice' or --slice)."
        )
    return ct_indices[0]
