"""Teacher steps 2-4 and 6: fascia ring, vertebra, psoas, compartment - on a ~1 mm working grid (the wall and
back muscles of step 5 are in :mod:`teacher_wall`).

Every rule is anatomical and expressed in mm:

* the *fascia interior* is the region enclosed by the abdominal-wall / back muscle ring: non-fat tissue under
  the skin with thin SAT septa opened away, gaps in the ring bridged by the smallest closing that gives a
  near-convex (solid) interior; SAT lies outside it, VAT and viscera inside it;
* the *vertebra* is the big bone component near the posterior midline (holes filled: marrow and canal);
* *wall and back muscles* are the soft tissue reached from just inside the fascia through soft tissue only
  (fat planes stop it), at most ``WALL_MAX_MM`` deep in front of the spine and ``BACK_MAX_MM`` deep behind it;
  where the reach was stopped by no fat plane (an organ touching the wall) the wall thickness is taken from
  the neighbouring stopped directions instead - this is what keeps liver, spleen and bowel out;
* *psoas* (and crura) are soft tissue reached from the sides of the vertebral body, not in front of it;
* both growths skip big *dark* soft-tissue pieces (local soft-tissue mean well below muscle: bowel content,
  fluid, unenhanced kidney) that lie against the muscle with no fat plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from sarco_core.body import (
    centroid_rc,
    closing,
    convex_hull,
    dilate,
    erode,
    fill_holes,
    hull_area_px,
    largest_component,
    opening,
)
from sarco_core.segment.teacher.tissue import bright_halo, muscle_like

FAT_HU = (-190.0, -30.0)
SOFT_HU = (-30.0, 200.0)  # muscle, organs, vessels (contrast-enhanced organs up to ~200)
BONE_HU = 200.0
AIR_HU = -400.0
SKIN_MM = 3.0  # skin thickness removed before looking for the muscle ring
SEPTA_MM = 1.5  # SAT septa thinner than ~2 × this are opened away
# thick (back) skin / dermis (up to ~6 mm): non-fat tissue within SKIN_BAND_MM of the surface that is connected to
# the surface through non-fat tissue is skin, not part of the muscle ring (it would bridge the ring over the SAT)
SKIN_BAND_MM = 8.0
RING_CLOSE_MM = (3.0, 5.0, 8.0, 11.0, 14.0, 18.0, 22.0, 28.0)  # closings tried to bridge gaps in the ring
RING_SOLIDITY_MIN = 0.85  # interior area / convex-hull area for a closed ring
RING_SOLIDITY_TOL = 0.02  # accept the smallest closing within this of the most solid interior
ORGAN_BRIGHTER_HU = 30.0  # tissue this much brighter than the paraspinal muscle is organ / vessel, not muscle
DEFAULT_MUSCLE_HU = 40.0
MUSCLE_REF_RANGE_HU = (10.0, 70.0)
VERT_MIN_AREA_CM2 = 3.0
VERT_SEED_MIN_AREA_CM2 = 0.5  # dense-bone pieces this big may seed a vertebra (grown into cancellous bone)
CANCELLOUS_HU = 100.0  # cancellous bone of a vertebral body (muscle stays below ~80 HU)
CANCELLOUS_REACH_MM = 45.0
VB_DEPTH_MM = 30.0
CANAL_HALF_WIDTH_MM = 9.0  # the lumbar spinal canal is ~15-25 mm wide
CANAL_MAX_DEPTH_MM = 25.0  # antero-posterior depth of a lumbar vertebral body
PSOAS_REACH_MM = 35.0  # psoas lies within this distance of the vertebral body
PSOAS_NECK_MM = 4.0  # bridges narrower than ~2 × this between psoas and other tissue are cut
CRUS_BACK_FRAC = 0.5  # crus zone: in front of the body centre minus this × (centre - front) ...
CRUS_SIDE_MM = 8.0  # ... and within this of the body's side
PSOAS_SEED_MM = 10.0  # soft tissue this close to the side of the vertebral body seeds the psoas
IMAT_HOLE_MAX_CM2 = 3.0  # fat islands smaller than this inside muscle are intramuscular (IMAT)


@dataclass(frozen=True)
class Interior:
    mask: np.ndarray
    close_mm: float | None  # closing that closed the ring; None = never closed (fallback used)
    solidity: float


def fascia_interior(hs: np.ndarray, trunk: np.ndarray, px_mm: float) -> Interior:
    """Region enclosed by the muscle ring (see module docstring)."""
    under_skin = erode(trunk, SKIN_MM / px_mm)
    nonfat = ((hs > FAT_HU[1]) | (hs < AIR_HU)) & under_skin  # gas and lung are never SAT
    # thick skin: non-fat tissue within SKIN_BAND_MM of the surface connected to the skin itself
    band = (hs > FAT_HU[1]) & trunk & ~erode(trunk, SKIN_BAND_MM / px_mm)
    lab, _ = ndi.label(band)
    ids = np.unique(lab[band & ~under_skin])
    nonfat &= ~np.isin(lab, ids[ids > 0])
    core = opening(nonfat, SEPTA_MM / px_mm)
    tries: list[Interior] = []
    for r_mm in RING_CLOSE_MM:
        closed = closing(core, r_mm / px_mm)
        filled = largest_component(np.asarray(ndi.binary_fill_holes(closed))) & under_skin
        if filled.any():
            solidity = float(filled.sum()) / max(1.0, hull_area_px(filled))
            tries.append(Interior(filled, r_mm, solidity))
            if solidity >= 1.0 - RING_SOLIDITY_TOL:  # no larger closing can be more than TOL more solid
                break
    if not tries:
        return Interior(np.zeros(hs.shape, bool), None, 0.0)
    best = max(t.solidity for t in tries)
    if best >= RING_SOLIDITY_MIN:
        # the smallest closing that is (nearly) as solid as the best one: the bay of an open ring is gone
        return next(t for t in tries if t.solidity >= best - RING_SOLIDITY_TOL)
    # ring never closed: take the convex hull of the most solid attempt (inside the skin) as the interior
    top = max(tries, key=lambda t: t.solidity)
    return Interior(convex_hull(top.mask) & under_skin, None, top.solidity)


@dataclass(frozen=True)
class Vertebra:
    mask: np.ndarray  # whole vertebra, holes (marrow, canal) filled
    body: np.ndarray  # the vertebral body (anterior part)
    centre_rc: tuple[float, float]  # vertebral body centre (row, col) in pixels
    half_width_px: float


def bone_mask(hs: np.ndarray, trunk: np.ndarray, px_mm: float) -> np.ndarray:
    b = closing(hs > BONE_HU, 2.0 / px_mm) & trunk
    return fill_holes(b)


def find_vertebra(bone: np.ndarray, trunk: np.ndarray, px_mm: float, hs: np.ndarray | None = None) -> Vertebra | None:
    """Largest bone component within 40 mm of the trunk's midline in its posterior 3/5; with ``hs`` the
    vertebra is extended into touching cancellous bone (> CANCELLOUS_HU: osteoporotic bodies with a thin
    anterior cortex)."""
    rows = np.nonzero(trunk.any(axis=1))[0]
    cols = np.nonzero(trunk.any(axis=0))[0]
    mid_c = 0.5 * (cols[0] + cols[-1])
    lab, n = ndi.label(bone)
    px_cm2 = px_mm * px_mm / 100.0
    spongy_lab = None
    if hs is not None:  # cancellous bone near the midline, thin bridges (vessels) cut
        spongy_lab, _ = ndi.label(opening((hs > CANCELLOUS_HU) & trunk, 2.0 / px_mm))
    best: np.ndarray | None = None
    best_area = 0.0
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    objects = ndi.find_objects(lab)
    for k in range(1, n + 1):
        box = objects[k - 1]
        if box is None or float(sizes[k]) * px_cm2 < VERT_SEED_MIN_AREA_CM2:
            continue
        cy, cx = centroid_rc(lab[box] == k, (box[0].start, box[1].start))
        if abs(cx - mid_c) * px_mm > 40.0 or cy < rows[0] + 0.4 * (rows[-1] - rows[0]):
            continue
        comp = lab == k
        if spongy_lab is not None:  # osteoporotic bodies / coarse pixels: the cortex alone is a thin shell
            comp = comp | _cancellous_near(spongy_lab, comp, cy, cx, px_mm)
        area_cm2 = float(comp.sum()) * px_cm2
        if area_cm2 >= VERT_MIN_AREA_CM2 and area_cm2 > best_area:
            best, best_area = comp, area_cm2
    if best is None:
        return None
    vert = best
    vr = np.nonzero(vert.any(axis=1))[0]
    top = int(vr[0])
    top_rows = vert[top : top + max(2, int(10.0 / px_mm))]
    cx_top = float(np.nonzero(top_rows.any(axis=0))[0].mean())
    rr, cc = np.indices(vert.shape)
    body = vert & (rr <= top + VB_DEPTH_MM / px_mm) & (np.abs(cc - cx_top) <= 30.0 / px_mm)
    if not body.any():
        body = vert
    body = convex_hull(body)  # marrow darker than BONE_HU and cortical gaps belong to the body
    vert = vert | body
    cy, cx = centroid_rc(body)
    vert = vert | _spinal_canal(vert | bone, body, cx, px_mm)
    bc = np.nonzero(body.any(axis=0))[0]
    return Vertebra(vert, body, (float(cy), float(cx)), 0.5 * float(bc[-1] - bc[0] + 1))


def _cancellous_near(
    spongy_lab: np.ndarray, comp: np.ndarray, cy: float, cx: float, px_mm: float
) -> npt.NDArray[np.bool_]:
    """The cancellous pieces touching ``comp``, within ``CANCELLOUS_REACH_MM`` of its centroid (computed on the
    square around the centroid that holds that reach)."""
    ids = np.unique(spongy_lab[comp])
    out = np.zeros(comp.shape, bool)
    ids = ids[ids > 0]
    if ids.size == 0:
        return out
    reach = int(np.ceil(CANCELLOUS_REACH_MM / px_mm)) + 1
    r0, c0 = max(0, int(cy) - reach), max(0, int(cx) - reach)
    box = (slice(r0, int(cy) + reach + 1), slice(c0, int(cx) + reach + 1))
    sub = spongy_lab[box]
    rr, cc = np.indices(sub.shape)
    dist_px = np.hypot(rr + r0 - cy, cc + c0 - cx)
    out[box] = np.isin(sub, ids) & (dist_px * px_mm <= CANCELLOUS_REACH_MM)
    return out


def _spinal_canal(vert: np.ndarray, body: np.ndarray, cx: float, px_mm: float) -> npt.NDArray[np.bool_]:
    """The canal behind the vertebral body, up to the lamina on the midline (it is not muscle, and at coarse
    pixels the bony ring around it is often open so hole filling misses it)."""
    back = int(np.nonzero(body.any(axis=1))[0][-1]) + 1
    c0 = int(round(cx))
    col = vert[back:, c0] if 0 <= c0 < vert.shape[1] else np.zeros(0, bool)
    lead = int(np.argmin(col)) if col.size and not col.all() else 0  # rest of a deep vertebral body
    if lead * px_mm > CANAL_MAX_DEPTH_MM:
        return np.zeros(vert.shape, bool)
    back += lead
    hits = np.nonzero(col[lead:])[0]  # the lamina / spinous process closing the canal behind
    depth = int(hits[0]) if hits.size else 0
    depth = min(depth, int(CANAL_MAX_DEPTH_MM / px_mm))
    canal = np.zeros(vert.shape, bool)
    if depth > 0:
        half = int(round(CANAL_HALF_WIDTH_MM / px_mm))
        canal[back : back + depth, max(0, c0 - half) : c0 + half + 1] = True
    behind: npt.NDArray[np.bool_] = canal & ~vert
    return behind


def reached(seed: np.ndarray, medium: np.ndarray) -> np.ndarray:
    """Pixels of ``medium`` connected (8-neighbours) to ``seed`` through ``medium``, without a distance limit."""
    lab, _ = ndi.label(medium, structure=np.ones((3, 3), bool))
    ids = np.unique(lab[seed & medium])
    return np.isin(lab, ids[ids > 0])


def geodesic_steps(seed: np.ndarray, medium: np.ndarray, max_steps: int) -> np.ndarray:
    """Number of 8-connected steps from ``seed`` through ``medium`` (−1 = not reached within max_steps)."""
    steps = np.full(seed.shape, -1, np.int32)
    front = seed & medium
    reached = front.copy()
    steps[front] = 0
    st = np.ones((3, 3), bool)
    for k in range(1, max_steps + 1):
        grown = ndi.binary_dilation(front, structure=st) & medium & ~reached
        if not grown.any():
            break
        steps[grown] = k
        reached |= grown
        front = grown
    return steps


def muscle_reference_hu(
    hs: np.ndarray, interior: np.ndarray, bone: np.ndarray, vert: Vertebra | None, px_mm: float
) -> float:
    """Median HU of the paraspinal muscles (behind the vertebral body, beside the spinous process)."""
    if vert is None:
        return DEFAULT_MUSCLE_HU
    rr, cc = np.indices(hs.shape)
    cy, cx = vert.centre_rc
    sel = (
        interior
        & ~bone
        & (rr >= cy + 15.0 / px_mm)
        & (np.abs(cc - cx) * px_mm >= 10.0)
        & (np.abs(cc - cx) * px_mm <= 50.0)
        & (hs >= -29.0)
        & (hs <= 150.0)
    )
    if sel.sum() * px_mm * px_mm < 300.0:  # < 3 cm² of paraspinal muscle found
        return DEFAULT_MUSCLE_HU
    return float(np.clip(np.median(hs[sel]), *MUSCLE_REF_RANGE_HU))


def psoas(
    hs: np.ndarray, interior: np.ndarray, bone: np.ndarray, vert: Vertebra, ref: float, px_mm: float
) -> np.ndarray:
    """Soft tissue reached from the lateral sides of the vertebral body (psoas, crura), not in front of it."""
    soft = muscle_like(hs, (hs >= SOFT_HU[0]) & (hs <= ref + ORGAN_BRIGHTER_HU) & interior & ~bone, ref, px_mm)
    soft &= ~bright_halo(hs, bone, ref + ORGAN_BRIGHTER_HU, px_mm)
    rr, cc = np.indices(hs.shape)
    cy, cx = vert.centre_rc
    body_rows = np.nonzero(vert.body.any(axis=1))[0]
    front = body_rows[0]
    ring = dilate(vert.body, PSOAS_SEED_MM / px_mm) & ~vert.body
    beside = np.abs(cc - cx) >= 0.6 * vert.half_width_px
    seed = ring & soft & beside & (rr >= front + 0.2 * (cy - front))
    allowed = soft & (rr >= front - 5.0 / px_mm) & (np.abs(cc - cx) * px_mm <= 90.0)
    # the crura lie antero-lateral, close against the front half of the vertebral body, and run to the aorta
    crus = (rr < cy - CRUS_BACK_FRAC * (cy - front)) & (np.abs(cc - cx) <= vert.half_width_px + CRUS_SIDE_MM / px_mm)
    allowed &= ~crus
    near = ndi.distance_transform_edt(~vert.body) * px_mm <= PSOAS_REACH_MM
    g = geodesic_steps(seed, allowed & near, int(PSOAS_REACH_MM / px_mm))
    reached = np.asarray(ndi.binary_fill_holes(g >= 0))  # fat specks inside the psoas do not fragment it
    # cut thin bridges (vessels, renal hilum) and keep what still touches the seeds
    opened = opening(reached, PSOAS_NECK_MM / px_mm)
    lab, n = ndi.label(opened)
    keep = np.unique(lab[opened & seed])
    return np.isin(lab, keep[keep > 0])


def compartment(muscle: np.ndarray, interior: np.ndarray, bone: np.ndarray, px_mm: float) -> np.ndarray:
    """Muscle compartment: muscle tissue with small fat islands (IMAT) and 2 mm gaps included."""
    m = closing(muscle, 2.0 / px_mm) & interior & ~bone
    holes = ndi.binary_fill_holes(m) & ~m
    lab, n = ndi.label(holes)
    if n:
        sizes = np.bincount(lab.ravel()) * px_mm * px_mm / 100.0
        small = np.nonzero(sizes <= IMAT_HOLE_MAX_CM2)[0]
        small = small[small > 0]
        m |= np.isin(lab, small) & ~bone
    return np.asarray(m)
