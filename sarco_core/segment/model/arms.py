"""Arms resting against the trunk, where no neck in the body outline separates them.

The body step (:func:`sarco_core.body.find_body`) splits an arm off the trunk where it is a
separate piece or touches the trunk through a contact narrower than ~24 mm. An arm lying flat against the flank
(arms down, common in ICU and trauma CT) can touch over 30 mm or more and stays in the trunk; its muscle is
then at muscle HU beside the abdominal wall and a segmenter that only sees HU texture calls it trunk muscle
(real slice ``A062055/19001228-131``: +15 cm²). The skeletal-muscle area of the sarcopenia protocols counts
trunk muscle only, so such an arm is found here by its anatomy and taken out of the body:

* its solid core (soft tissue and bone above −30 HU, opened by 3 mm so the skin-on-skin contact line and thin
  fat septa break) is a piece of its own beside the trunk (centre within the trunk's rows, outside the middle
  70 % of its width), at least 5 cm², outside the convex hull of the biggest solid piece (the viscera and wall);
* it holds a long bone cut across (> 300 HU with an inscribed radius of at least 4 mm: the humerus, radius or
  ulna; ribs are thinner) and is compact (elongation < 1.8: the lateral wall and latissimus are long bands,
  and a wall segment around a rib at the flank reaches 2.4 on a phantom);
* it protrudes from the trunk: less than 30 % of it lies in the convex hull of the body without it and 8 mm
  around it (a latissimus with the scapula, or the gluteal muscles with the iliac wing, lie inside that hull).

The arm taken out is its core and the body pixels within 12 mm of it that are nearer to it than to any other
solid tissue (its fat and skin); trunk muscle is never taken.

Checked on every real slice we hold (20 COVID axial, the pancreas slice, 64 Lung_Dx and 24 LIDC chest slices)
and 673 phantom slices (T11-L5, default and hard-contact, the held-out seeds included): one arm found (the one
above), nothing else.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from sarco_core.body import convex_hull, dilate, opening

SOLID_HU = -30.0
BONE_HU = 300.0
MIN_ARM_CM2 = 5.0
MIN_BONE_RADIUS_MM = 4.0
MAX_ELONGATION = 1.8
MAX_IN_HULL = 0.3
MAX_IN_VISCERA_HULL = 0.2
CONTACT_MM = 3.0  # the skin-on-skin contact next to the core is not 'other solid tissue'
PROTRUDE_RING_MM = 8.0  # taken away with the core before the hull of the rest of the body is drawn
FAT_RING_MM = 12.0  # the arm's own fat and skin around its core


def _elongation(mask: np.ndarray) -> float:
    yy, xx = np.nonzero(mask)
    if len(yy) < 4:
        return float("inf")
    ev = np.linalg.eigvalsh(np.cov(np.stack([yy, xx]).astype(float)))
    return float(np.sqrt(ev[-1] / max(ev[0], 1e-6)))


def _bone_radius_mm(bone: np.ndarray, px_mm: float) -> float:
    if not bone.any():
        return 0.0
    solid = ndi.binary_fill_holes(ndi.binary_closing(bone, iterations=1))
    return float(ndi.distance_transform_edt(solid).max()) * px_mm


def arms_against_trunk(hu: np.ndarray, px_mm: float, body: np.ndarray) -> np.ndarray:
    """Pixels of ``body`` (a filled trunk mask on ``hu``'s grid of square ``px_mm`` pixels) that belong to an arm
    resting against the trunk, by the rules of the module doc; empty when there is none."""
    out = np.zeros(hu.shape, bool)
    if not body.any():
        return out
    solid = opening((hu > SOLID_HU) & body, 3.0 / px_mm)
    lab, n = ndi.label(solid)
    if n < 2:
        return out
    px_cm2 = px_mm * px_mm / 100.0
    sizes = np.bincount(lab.ravel())[1:] * px_cm2
    main = int(np.argmax(sizes)) + 1
    hull_main: np.ndarray | None = None  # drawn only when a piece passes the cheap tests
    rows = np.nonzero(body.any(axis=1))[0]
    cols = np.nonzero(body.any(axis=0))[0]
    width = cols[-1] - cols[0]
    for i in range(1, n + 1):
        if i == main or sizes[i - 1] < MIN_ARM_CM2:
            continue
        core = lab == i
        cy, cx = ndi.center_of_mass(core)
        beside = rows[0] <= cy <= rows[-1] and not (cols[0] + 0.15 * width < cx < cols[-1] - 0.15 * width)
        if not beside:
            continue
        if hull_main is None:
            hull_main = convex_hull(lab == main)
        if float(hull_main[core].mean()) >= MAX_IN_VISCERA_HULL:
            continue
        filled = np.asarray(ndi.binary_fill_holes(core))
        if _bone_radius_mm((hu > BONE_HU) & filled, px_mm) < MIN_BONE_RADIUS_MM:
            continue
        if _elongation(filled) >= MAX_ELONGATION:
            continue
        hull_rest = convex_hull(body & ~dilate(filled, PROTRUDE_RING_MM / px_mm))
        if float(hull_rest[filled].mean()) >= MAX_IN_HULL:
            continue
        # the arm: its core and the body pixels nearer to it than to any other solid tissue, within its fat
        # ring; trunk muscle and other solid trunk tissue are never taken
        near = ndi.distance_transform_edt(~filled) * px_mm
        other = (hu > SOLID_HU) & body & ~dilate(filled, CONTACT_MM / px_mm)
        far = ndi.distance_transform_edt(~other) * px_mm if other.any() else np.full(hu.shape, np.inf)
        out |= filled | (body & (near <= FAT_RING_MM) & (near < far))
    return out
