"""Sacro-iliac bone contact per axial slice: where the lateral masses of a vertebra meet the iliac bones.

S1 is the first vertebra (from above) whose lateral masses (the sacral alae) meet the ilium on both sides at the
sacro-iliac joints. The normal adult SI joint space on CT is 0.8-4.4 mm wide (mean 1.7 ± 0.6 mm, 400 patients;
Demir et al., Kobe J Med Sci 2007, PMID 18204297; a uniform space under 2 mm is uncommon under 30, Vogler et al.,
Radiology 1984, PMID 6709915), so at the working grid (about 2.4 mm block means) the ala and the ilium touch or
are one or two pixels apart. L5 has free transverse processes: even where it lies deep between the iliac wings,
soft tissue (the iliolumbar ligament, psoas, quadratus lumborum) separates the process from the ilium by more than
a joint space.

Per slice :func:`si_gap_mm` returns the wider of the two sides' gaps between the bone of the spine (the
component holding the vertebral body) lateral to the body and the iliac bone beside it: 0 where they are joined,
``inf`` where no iliac bone is in view on a side. Contact on both sides is a gap <= :data:`SI_GAP_MAX_MM`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

# the widest normal SI joint space (4.4 mm, Demir 2007) plus one working-grid pixel of partial volume
SI_JOINT_MAX_MM = 4.4
SI_GAP_MAX_MM = SI_JOINT_MAX_MM + 2.4
LATERAL_MASS_MM = 25.0  # lateral masses / alae / transverse processes: beyond the vertebral body's half width
ILIUM_MIN_DX_MM = 40.0  # iliac bone lies lateral to the vertebral body (the posterior iliac spines included)
ILIUM_FAR_MM = 80.0  # spine bone this far out on a side is the ilium joined to it (transverse processes end
# by about 50-65 mm, a massive L5 process included)
ILIUM_MIN_MM2 = 100.0  # an iliac wing or the iliac part of the joint in one slice (not a vessel calcification)
ILIUM_REACH_MM = 60.0  # ... reaching beyond the sacral alae (contrast-filled bowel in the iliac fossa does not)
PLATE_AP_MM = 20.0  # spine bone beyond ILIUM_REACH_MM this deep (front to back) is the ala joined to the ilium;
# a transverse process, even a massive one, is a bar about 10-15 mm thick
DY_MM = (-40.0, 85.0)  # from in front of the body centre (the iliac fossa) to behind it (not the table)
JOINT_DY_MM = (-15.0, 60.0)  # the SI joints lie beside and behind the body centre (bowel lies in front)
SEARCH_MM = 20.0  # gaps are measured up to this far (wider: no contact, the value is only "far")


def si_gap_mm(
    bone: np.ndarray, body_row: float, mid_col: float, half_rows: float, row_mm: float, col_mm: float
) -> float:
    """The larger of the left and right gaps (mm) between the spine's lateral bone and the iliac bone in one slice.

    0: joined (the spine's own component reaches :data:`ILIUM_FAR_MM` laterally, or the gap is closed at this
    resolution); up to :data:`SEARCH_MM` measured; ``SEARCH_MM`` when the nearest iliac bone is farther;
    ``inf`` when a side has no iliac bone in view (or no spine bone is found at the body centre).
    """
    nr, nc = bone.shape
    r0, c0 = float(body_row), float(mid_col)
    # a window around the spine: the body and everything that can touch the iliac bones
    ra = max(0, int(np.floor(r0 + DY_MM[0] / row_mm)))
    rb = min(nr, int(np.ceil(r0 + DY_MM[1] / row_mm)) + 1)
    reach = int(np.ceil(140.0 / col_mm))
    ca, cb = max(0, int(c0) - reach), min(nc, int(c0) + reach + 1)
    if ra >= rb or ca >= cb:
        return float("inf")
    # one-pixel gaps closed (noise in cancellous bone; a joint space narrower than a pixel counts as contact)
    sq = np.ones((3, 3), bool)
    b = np.asarray(ndi.binary_closing(bone[ra:rb, ca:cb], structure=sq))
    lab, n = ndi.label(b, structure=sq)
    if n == 0:
        return float("inf")
    rr = max(2, int(round(0.8 * half_rows)))  # the vertebral body: its cortex and cancellous bone
    cw = max(2, int(round(12.0 / col_mm)))
    rc, cc = int(round(r0)) - ra, int(round(c0)) - ca
    seed = lab[max(0, rc - rr) : rc + rr + 1, max(0, cc - cw) : cc + cw + 1]
    ids = np.unique(seed[seed > 0])
    if ids.size == 0:
        return float("inf")
    spine = np.isin(lab, ids)
    dx = (np.arange(b.shape[1])[None, :] + ca - c0) * col_mm
    area = np.bincount(lab.ravel()) * row_mm * col_mm
    dy = (np.arange(b.shape[0])[:, None] + ra - r0) * row_mm
    joint_rows = (dy >= JOINT_DY_MM[0]) & (dy <= JOINT_DY_MM[1])
    gaps = []
    for s in (-1.0, 1.0):
        side = dx * s
        own = spine & (side >= LATERAL_MASS_MM)
        outer = spine & (side >= ILIUM_REACH_MM) & joint_rows
        rows_out = np.nonzero(outer.any(axis=1))[0]
        plate = rows_out.size > 0 and (rows_out[-1] - rows_out[0] + 1) * row_mm >= PLATE_AP_MM
        if (spine & (side >= ILIUM_FAR_MM)).any() or (plate and outer.sum() * row_mm * col_mm >= ILIUM_MIN_MM2):
            gaps.append(0.0)  # the ilium is joined to the spine's bone (a closed joint at this resolution)
            continue
        far_ids = np.unique(lab[(side >= ILIUM_REACH_MM) & ~spine & (lab > 0)])
        far_ids = far_ids[area[far_ids] >= ILIUM_MIN_MM2]
        if far_ids.size == 0 or not own.any():
            gaps.append(float("inf") if far_ids.size == 0 else SEARCH_MM)
            continue
        ilium = np.isin(lab, far_ids) & (side >= ILIUM_MIN_DX_MM) & joint_rows
        if not ilium.any():
            gaps.append(SEARCH_MM)
            continue
        d = ndi.distance_transform_edt(~own, sampling=(row_mm, col_mm))
        gap = float(d[ilium].min()) - min(row_mm, col_mm)  # centre-to-centre minus one pixel: the tissue between
        gaps.append(float(np.clip(gap, 0.0, SEARCH_MM)))
    return max(gaps)
