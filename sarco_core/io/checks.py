"""The one check every loaded volume passes before anyone measures it: finite values in the HU range, a real
image (not 1x1), and voxel spacing in the plausible CT range. Nothing is changed silently: a value outside
these limits refuses the image with :class:`~sarco_core.errors.ImageValueError` naming the value and the fix.
Limits: :mod:`sarco_core.io.limits`."""

from __future__ import annotations

import math

import numpy as np

from sarco_core.errors import ImageValueError
from sarco_core.io.limits import HU_RANGE, IN_PLANE_SPACING_MM, MIN_MATRIX_PX, SLICE_SPACING_MM
from sarco_core.volume import Volume


def _spacing_ok(v: float | None, lo_hi: tuple[float, float]) -> bool:
    return v is not None and math.isfinite(v) and lo_hi[0] <= v <= lo_hi[1]


def check_spacing(row_mm: float, col_mm: float, slice_mm: float | None) -> None:
    """Refuse pixel spacing outside 0.1-10 mm and slice spacing outside 0.1-20 mm (corrupt tags or affines)."""
    for name, v in (("row", row_mm), ("column", col_mm)):
        if not _spacing_ok(v, IN_PLANE_SPACING_MM):
            raise ImageValueError(
                f"The image's {name} pixel spacing is {v:g} mm, outside the {IN_PLANE_SPACING_MM[0]:g}-"
                f"{IN_PLANE_SPACING_MM[1]:g} mm of a CT reconstruction; the geometry (PixelSpacing or NIfTI "
                "affine) is corrupt. Export the series again from the scanner or PACS."
            )
    if slice_mm is not None and not _spacing_ok(slice_mm, SLICE_SPACING_MM):
        raise ImageValueError(
            f"The image's slice spacing is {slice_mm:g} mm, outside the {SLICE_SPACING_MM[0]:g}-"
            f"{SLICE_SPACING_MM[1]:g} mm of a CT series; the slice positions (or the NIfTI affine) are corrupt. "
            "Export the series again from the scanner or PACS."
        )


def check_values(hu: np.ndarray) -> None:
    """Refuse NaN/inf voxels and values outside the HU range (before any clipping to air)."""
    if hu.dtype.kind == "f":
        bad = int(np.count_nonzero(~np.isfinite(hu)))
        if bad:
            raise ImageValueError(
                f"{bad} voxels ({100 * bad / hu.size:.2g} %) are NaN or infinite, so no area or mean HU can be "
                "trusted. Re-export the image (a NaN usually marks missing data or a failed conversion)."
            )
    if hu.size:
        lo, hi = float(hu.min()), float(hu.max())
        if lo < HU_RANGE[0] or hi > HU_RANGE[1]:
            raise ImageValueError(
                f"The image's values run from {lo:g} to {hi:g}, beyond the {HU_RANGE[0]:g}..{HU_RANGE[1]:g} that "
                "CT Hounsfield units can take; they are not HU (e.g. a float export without rescaling). Export "
                "the image in HU."
            )


def check_volume(vol: Volume) -> Volume:
    """Return ``vol`` unchanged when it is measurable data, else raise :class:`ImageValueError`."""
    hu = vol.hu
    if hu.dtype.kind not in "iufb":
        raise ImageValueError(
            f"The image holds {hu.dtype} values, not real-valued CT numbers. Load the original CT series."
        )
    k, r, c = vol.shape
    if sorted(vol.shape)[1] < MIN_MATRIX_PX:  # the image plane is the two largest axes (reformats too)
        raise ImageValueError(
            f"The image is only {k}x{r}x{c} voxels (slices x rows x columns); a CT image has at least "
            f"{MIN_MATRIX_PX} pixels along two axes (usually 512). The file is corrupt or not a CT image."
        )
    if vol.is_hu:
        check_values(hu)
    elif hu.dtype.kind == "f" and not np.isfinite(hu).all():
        check_values(hu)
    sp = vol.spacing_mm
    check_spacing(sp.row, sp.col, sp.slice if k > 1 else None)
    return vol
