"""Acquisition and field-of-view flags of the measured slice (kVp, contrast, slice thickness, pixel size,
truncation, arms): caveats shown beside the number, never a mask-quality problem."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from sarco_core.body import BODY_HU
from sarco_core.enums import QCFlag
from sarco_core.volume import Volume

# pixels coarser than this: the HU-gated area counts partial-volume boundary pixels whole (docs/model.md: on the
# reviewed real slices re-acquired at 3 mm the shipped model's SMA is a median +6.6 % above the reference)
COARSE_PIXEL_MM = 2.0


# acquisition caveats: notes beside the number (they qualify the HU cutoffs or the precision of the area), never
# a mask-quality problem: they do not lower any confidence and do not put a case in the review queue (issue 15)
def image_flags(volume: Volume, index: int) -> list[str]:
    """Acquisition and field-of-view flags for the measured slice."""
    m = volume.meta
    flags: list[str] = []  # QCFlag members (StrEnum: they are their strings)
    if m.kvp is not None and abs(m.kvp - 120.0) > 1.0:
        flags.append(QCFlag.KVP_NOT_120)
    if m.contrast_agent is not None or m.kind in ("nifti", "array"):
        flags.append(QCFlag.CONTRAST_PHASE_UNKNOWN)
    thick = m.slice_thickness_mm or volume.spacing_mm.slice
    if thick is not None and thick > 5.0 + 1e-6:
        flags.append(QCFlag.THICK_SLICE_OVER_5MM)
    if max(volume.spacing_mm.row, volume.spacing_mm.col) > COARSE_PIXEL_MM + 1e-6:
        flags.append(QCFlag.COARSE_PIXELS_OVER_2MM)
    hu = np.asarray(volume.hu[index])
    fg = hu > BODY_HU
    lab, n = ndi.label(fg, structure=np.ones((3, 3), bool))
    if n:
        sizes = np.bincount(lab.ravel())
        sizes[0] = 0
        trunk_id = int(np.argmax(sizes))
        trunk = lab == trunk_id
        sp = volume.spacing_mm
        edge_mm = (trunk[:, 0].sum() + trunk[:, -1].sum()) * sp.row + trunk[0, :].sum() * sp.col
        if edge_mm > 20.0:
            flags.append(QCFlag.FOV_TRUNCATED)
        px_cm2 = volume.pixel_area_mm2 / 100.0
        rows, cols = np.nonzero(trunk)
        r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
        w = c1 - c0
        for i in range(1, n + 1):
            if i == trunk_id or sizes[i] * px_cm2 < 10.0:
                continue
            rr, cc = np.nonzero(lab == i)
            lateral = cc.mean() < c0 + 0.2 * w or cc.mean() > c1 - 0.2 * w
            if r0 <= rr.mean() <= r1 and lateral:  # beside the trunk, not the table under it
                flags.append(QCFlag.ARMS_IN_FIELD)
                break
    return flags
