"""Anatomy rules applied to every muscle mask after the network or the teacher (one place, issue 15).

:func:`apply_anatomy_rules` takes a slice's labels (0 background, 1 muscle compartment, 2 SAT, 3 VAT) on the
native pixel grid, with the body outline of the method that made them (the model's
:func:`~sarco_core.segment.model.qc.body_mask`, the teacher's :func:`~sarco_core.body.find_body`;
this module draws no outline of its own), and returns a :class:`RulesResult`:

* **(a) skin is never muscle** - label 1 is removed from the outer ``SKIN_MM`` of the body outline (distance
  measured in mm at the native pixel size, so where no SAT separates skin from muscle the mask's outer boundary
  follows the skin's inner edge). The pixels become 0 (the phantom labels skin 0, not SAT);
* **(c) nothing inside bone cortex or the spinal canal** - label 1 is removed from bone (> 200 HU, 3-pixel
  median; away from the vertebra, lines 1-2 pixels wide are opened away: streaks) and, around the vertebra,
  from what bone encloses (:func:`enclosed_by_bone`: bone within 30 mm in 7 of 8 directions: marrow, also
  inside a thin or gapped cortex, and the spinal canal) and from the cancellous bone (> 100 HU on the 1 mm
  smoothed image) more than 2 mm inside the vertebral body; then holes are filled. Muscle against bone stays
  muscle;
* **(b) islands inside the visceral cavity** - a muscle piece (8-connected) is kept when it belongs to a named
  compartment: it touches the SAT / skin layer or the edge of the convex hull of all muscle (the outermost pieces:
  abdominal-wall ring, back), it comes within
  ``PARAVERTEBRAL_MM`` of the vertebra (:func:`~sarco_core.segment.teacher.anatomy.find_vertebra`) at or behind
  the vertebral body's centre (psoas beside the body, quadratus lumborum at the transverse processes; the crura
  lie in front of the centre), or it lies within ``GAP_MM`` of a kept piece or of a rib next to one
  (intercostal and wall muscle on both sides of a rib at T12-L2). The other pieces whose
  centroid lies inside the visceral cavity (the convex hull of the kept muscle and the vertebra) are removed
  and their area reported. Without a vertebra the rule is not applied (a psoas could not be told from an island).

The result also carries the **SAT-plane measurement** behind the ``no_sat_plane`` flag: along the perimeter of
the body outline, the fat (−190..−30 HU, 3-pixel median) in the ``SAT_BAND_MM`` band under the skin gives a
fat thickness per perimeter pixel; the flag is raised when it is below ``NO_SAT_MM`` over more than
``NO_SAT_PERIMETER_FRACTION`` of the perimeter (perimeter on the image border or the field-of-view edge left out).

Cutoffs: ``SKIN_MM``, ``NO_SAT_MM``, ``NO_SAT_PERIMETER_FRACTION`` and ``ISLANDS_FLAG_CM2`` are the values the
project chose in issue 15 (skin of the trunk is about 1.5-3 mm thick: Southwood WF, Plast Reconstr Surg
1955;15:423); the fat gate is the adipose-tissue range of Mourtzakis et al., Appl Physiol Nutr Metab 2008;33:997.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from sarco_core.body import bounding_box, convex_hull, erode, fill_holes, median3, within_mm
from sarco_core.enums import QCFlag
from sarco_core.segment.teacher import anatomy as anat

SKIN_MM = 2.0  # rule (a): the outer 2 mm of the body outline is skin (issue 15; Southwood 1955: 1.5-3 mm)
GAP_MM = 5.0  # rule (b): a piece this close to a kept piece belongs to the same compartment (the fat planes
# between the wall layers and around the ribs are a few mm thick: inner layers 3-4 mm from the outer ones are seen
# on the reviewed real slices)
TOUCH_MM = 1.5  # rule (b): a piece this close to the SAT / skin layer touches it
# rule (b): psoas and quadratus lumborum arise from the vertebral body and the transverse processes; a piece
# this close to the vertebra (at or behind the body's centre) is one of them (allows the fat around the TP tip)
PARAVERTEBRAL_MM = 10.0
SPONGY_SMOOTH_MM = 1.0  # rule (c): cancellous bone (> 100 HU) found on the image smoothed by this (noisy marrow) ...
SPONGY_RIM_MM = 2.0  # ... more than this inside the vertebral body (muscle against bone is brightened over ~a pixel)
ENCLOSED_REACH_MM = 30.0  # rule (c): a lumbar vertebral body is ~40-50 mm wide (centre to cortex < 30 mm) ...
ENCLOSED_MIN_DIRECTIONS = 7  # ... and bone all round but for one gap makes a pixel enclosed
FAT_HU = anat.FAT_HU  # -190..-30 HU (Mourtzakis 2008)
SAT_BAND_MM = 10.0  # no_sat_plane: depth band under the skin where the fat is measured
NO_SAT_MM = 5.0  # no_sat_plane: SAT thinner than this ... (issue 15)
NO_SAT_PERIMETER_FRACTION = 0.40  # ... over more than this share of the perimeter (issue 15)
ISLANDS_FLAG_CM2 = 2.0  # islands_removed: more than this area removed by rule (b) (issue 15)
NO_SAT_CONFIDENCE_FACTOR = 0.7  # mask confidence multiplied by this when no_sat_plane is raised
ISLANDS_CONFIDENCE_FACTOR = 0.8  # ... and by this when islands_removed is raised
MARGIN_PX = 4

# the flags' plain words live in the one table, sarco_core/flags.py (FLAG_TEXTS)


@dataclass(frozen=True)
class RulesResult:
    """Labels after the rules and what each rule did (areas in cm² on the native grid)."""

    labels: np.ndarray
    skin_removed_cm2: float
    bone_removed_cm2: float
    islands_removed_cm2: float
    islands_applied: bool  # False: no vertebra found, rule (b) not applied
    sat_thin_fraction: float | None  # share of the perimeter with SAT < NO_SAT_MM (None: no perimeter measured)

    @property
    def no_sat_plane(self) -> bool:
        return self.sat_thin_fraction is not None and self.sat_thin_fraction > NO_SAT_PERIMETER_FRACTION

    @property
    def islands_removed(self) -> bool:
        return self.islands_removed_cm2 > ISLANDS_FLAG_CM2

    @property
    def flags(self) -> tuple[str, ...]:
        return (
            *((QCFlag.NO_SAT_PLANE,) if self.no_sat_plane else ()),
            *((QCFlag.ISLANDS_REMOVED,) if self.islands_removed else ()),
        )

    @property
    def confidence_factor(self) -> float:
        return (NO_SAT_CONFIDENCE_FACTOR if self.no_sat_plane else 1.0) * (
            ISLANDS_CONFIDENCE_FACTOR if self.islands_removed else 1.0
        )

    def extras(self) -> dict[str, float | bool | None]:
        """The figures for ``SegmentationResult.extra["anatomy_rules"]``."""
        r = lambda v: None if v is None else round(float(v), 3)  # noqa: E731
        return {
            "skin_removed_cm2": r(self.skin_removed_cm2),
            "bone_removed_cm2": r(self.bone_removed_cm2),
            "islands_removed_cm2": r(self.islands_removed_cm2),
            "islands_rule_applied": self.islands_applied,
            "sat_thin_perimeter_fraction": r(self.sat_thin_fraction),
        }


def _box(body: np.ndarray) -> tuple[slice, slice]:
    rows = np.nonzero(body.any(axis=1))[0]
    cols = np.nonzero(body.any(axis=0))[0]
    m = MARGIN_PX
    return (slice(max(0, rows[0] - m), rows[-1] + m + 1), slice(max(0, cols[0] - m), cols[-1] + m + 1))


def sat_thin_fraction(
    hs: np.ndarray, body: np.ndarray, depth_mm: np.ndarray, nearest: np.ndarray, edge: np.ndarray
) -> float | None:
    """Share of the body perimeter whose fat under the skin is thinner than ``NO_SAT_MM``.

    ``depth_mm``: distance to the outline; ``nearest``: flat index (into ``edge``) of each pixel's nearest outside
    pixel, the perimeter element it belongs to; ``edge``: outside pixels that are image border / FOV edge."""
    band = body & (depth_mm >= SKIN_MM) & (depth_mm < SKIN_MM + SAT_BAND_MM)
    if not band.any():
        return None
    elem = nearest[band]
    fat = ((hs[band] >= FAT_HU[0]) & (hs[band] <= FAT_HU[1])).astype(np.float64)
    n = edge.size
    count = np.bincount(elem, minlength=n)
    fat_n = np.bincount(elem, weights=fat, minlength=n)
    ok = (count > 0) & ~edge.ravel()
    if not ok.any():
        return None
    thick_mm = fat_n[ok] / count[ok] * SAT_BAND_MM
    return float(np.mean(thick_mm < NO_SAT_MM))


def apply_anatomy_rules(
    hu: np.ndarray,
    labels: np.ndarray,
    *,
    row_mm: float,
    col_mm: float,
    body: np.ndarray,
    fov_out: np.ndarray | None = None,
) -> RulesResult:
    """Rules (a), (c), (b) and the SAT-plane measurement on one native slice (see the module docstring).

    ``body``: the method's body outline on this grid (bool); ``fov_out``: outside-FOV pixels (their contact with
    the body is no perimeter)."""
    labels = np.asarray(labels, np.uint8)
    body = np.asarray(body, bool)
    px_cm2 = row_mm * col_mm / 100.0
    if not body.any() or labels.shape != body.shape:
        return RulesResult(labels.copy(), 0.0, 0.0, 0.0, False, None)
    box = _box(body)
    h = np.asarray(hu, np.float32)[box]
    b = body[box]
    lab = labels[box].copy()
    hs = median3(h)
    # pad so that the box border counts as outside; the padding ring (image border) and the FOV edge are no
    # perimeter
    bp = np.pad(b, 1)
    depth, idx = ndi.distance_transform_edt(bp, sampling=(row_mm, col_mm), return_indices=True)
    edge = np.zeros(bp.shape, bool)
    edge[[0, -1], :] = True
    edge[:, [0, -1]] = True
    if fov_out is not None and fov_out.any():
        edge[1:-1, 1:-1] |= ndi.binary_dilation(np.asarray(fov_out, bool)[box], iterations=2)
    nearest = np.ravel_multi_index((idx[0], idx[1]), bp.shape)[1:-1, 1:-1]
    depth = depth[1:-1, 1:-1]
    thin = sat_thin_fraction(hs, b, depth, nearest, edge)
    muscle = lab == 1
    n0 = int(muscle.sum())
    # (a) skin: not where the outline is the image border or the field-of-view edge (a cut, not the skin)
    skin = b & (depth < SKIN_MM) & ~edge.ravel()[nearest]
    lab[muscle & skin] = 0
    muscle &= ~skin
    n_skin = n0 - int(muscle.sum())
    # (c) bone cortex, marrow, vertebra and spinal canal
    px = float(np.sqrt(row_mm * col_mm))
    bone = anat.bone_mask(hs, b, px)
    vert = anat.find_vertebra(bone, b, px, hs) if bone.any() else None
    # only bone pixels and what bone encloses: muscle against bone stays muscle. Lines one or two pixels wide
    # (metal / beam-hardening streaks above 200 HU) are no bone: opened away; what bone encloses is looked for
    # only around the vertebra (marrow, canal; the marrow of a rib is a hole of the rib)
    raw = (hs > anat.BONE_HU) & b
    never = np.asarray(ndi.binary_opening(raw, structure=np.ones((3, 3), bool)))
    if vert is not None:
        near_vert = _near(vert.mask, PARAVERTEBRAL_MM, row_mm, col_mm)
        never |= (raw | enclosed_by_bone(raw & near_vert, row_mm, col_mm)) & near_vert
        # cancellous bone of the vertebral body where its cortex is thin or lost in noise
        core = erode(vert.body, SPONGY_RIM_MM / px)
        never |= core & _gaussian_above(h, SPONGY_SMOOTH_MM / px, anat.CANCELLOUS_HU, core)
    never = fill_holes(never)
    lab[muscle & never] = 0
    n_bone = int((muscle & never).sum())
    muscle &= ~never
    # (b) islands
    n_isl = 0
    if vert is not None and muscle.any():
        isl = _islands(muscle, lab, skin, bone, vert, near_vert, row_mm, col_mm)
        n_isl = int(isl.sum())
        lab[isl] = 0
    out = labels.copy()
    out[box] = lab
    return RulesResult(out, n_skin * px_cm2, n_bone * px_cm2, n_isl * px_cm2, vert is not None, thin)


def enclosed_by_bone(bone: np.ndarray, row_mm: float, col_mm: float) -> npt.NDArray[np.bool_]:
    """Pixels with bone within ``ENCLOSED_REACH_MM`` in at least ``ENCLOSED_MIN_DIRECTIONS`` of the 8 directions:
    marrow inside the cortex (also a thin or gapped cortex, as in osteoporosis or on a noisy image) and the spinal
    canal inside its bony ring. Muscle beside bone is open to at least two directions (psoas: front and side;
    erector spinae and multifidus: the back; intercostal muscle: in and out).

    Computed on the bounding box of ``bone``: a pixel outside it has no bone in at least 5 of the 8 directions."""
    enclosed = np.zeros(bone.shape, bool)
    box = bounding_box(bone)
    if box is None:
        return enclosed
    b = bone[box]
    hits = np.zeros(b.shape, np.uint8)
    for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)):
        n = int(ENCLOSED_REACH_MM / float(np.hypot(dr * row_mm, dc * col_mm)))
        seen = b.copy()  # seen[p]: bone at p + k·d for some 0 <= k < span (span doubles each round)
        span = 1
        while span <= n:
            step = min(span, n + 1 - span)
            seen = seen | _shift(seen, dr * step, dc * step)
            span += step
        hits += seen
    enclosed[box] = (hits >= ENCLOSED_MIN_DIRECTIONS) & ~b
    return enclosed


def _gaussian_above(h: np.ndarray, sigma_px: float, level: float, where: np.ndarray) -> npt.NDArray[np.bool_]:
    """``ndi.gaussian_filter(h, sigma_px) > level`` at the pixels of ``where`` (False elsewhere), filtering only
    the bounding box of ``where`` grown by the filter's radius: the values there are those of the whole image."""
    radius = int(4.0 * sigma_px + 0.5)  # gaussian_filter's default truncate = 4.0
    out = np.zeros(h.shape, bool)
    box = bounding_box(where, (radius + 1, radius + 1))
    if box is not None:
        out[box] = ndi.gaussian_filter(h[box], sigma_px) > level
    return np.asarray(out & where)


def _shift(a: np.ndarray, dr: int, dc: int) -> np.ndarray:
    """``out[p] = a[p + (dr, dc)]``, False outside."""
    out = np.zeros_like(a)
    h, w = a.shape
    if abs(dr) >= h or abs(dc) >= w:  # shifted right out of the array
        return out
    src = a[max(0, dr) : h + min(0, dr), max(0, dc) : w + min(0, dc)]
    out[max(0, -dr) : h + min(0, -dr), max(0, -dc) : w + min(0, -dc)] = src
    return out


def _near(mask: np.ndarray, mm: float, row_mm: float, col_mm: float) -> np.ndarray:
    return within_mm(mask, mm, row_mm, col_mm)


def _islands(
    muscle: np.ndarray,
    lab: np.ndarray,
    skin: np.ndarray,
    bone: np.ndarray,
    vert: anat.Vertebra,
    near_vert: np.ndarray,
    row_mm: float,
    col_mm: float,
) -> np.ndarray:
    """Muscle pieces of no named compartment lying inside the visceral cavity (rule b). ``near_vert``: the pixels
    within ``PARAVERTEBRAL_MM`` of the vertebra."""
    comp, n = ndi.label(muscle, structure=np.ones((3, 3), bool))
    if n <= 1:
        return np.zeros(muscle.shape, bool)
    # the outermost pieces (wall ring, back): they touch the SAT / skin layer or the edge of the muscle's hull
    hull = convex_hull(muscle)
    outer = _near((lab == 2) | skin | ~hull, TOUCH_MM, row_mm, col_mm)
    rr = np.arange(muscle.shape[0])[:, None]
    spine = near_vert & (rr >= vert.centre_rc[0])
    ids = np.arange(1, n + 1)
    named = np.zeros(n + 1, bool)  # per piece id (0 = background, never named)
    named[comp[(outer | spine) & muscle]] = True
    named[0] = False
    # ribs (bone apart from the vertebra) carry the intercostal / wall muscle on both sides at T12-L2
    blab, nb = ndi.label(bone & ~vert.mask, structure=np.ones((3, 3), bool))
    # grow by proximity: pieces within GAP_MM of a kept piece or of a rib touching one. The zone within GAP_MM of
    # a union is the union of the zones, so each piece and each rib is dilated once, when it is first kept
    near_pieces = np.zeros(muscle.shape, bool)
    near_ribs = np.zeros(muscle.shape, bool)
    pieces_done = np.zeros(n + 1, bool)
    ribs_done = np.zeros(nb + 1, bool)
    for _ in range(4):
        new = named & ~pieces_done
        if new.any():
            near_pieces |= _near(new[comp], GAP_MM, row_mm, col_mm)
            pieces_done |= new
        near = near_pieces
        if nb:
            ribs = np.zeros(nb + 1, bool)
            ribs[blab[near_pieces]] = True
            ribs[0] = False
            new = ribs & ~ribs_done
            if new.any():
                near_ribs |= _near(new[blab], GAP_MM, row_mm, col_mm)
                ribs_done |= new
            near = near_pieces | near_ribs
        grown = named.copy()
        grown[comp[near & muscle]] = True
        grown[0] = False
        if (grown == named).all():
            break
        named = grown
    if named[1:].all():
        return np.zeros(muscle.shape, bool)
    kept = named[comp]
    cavity = convex_hull(kept | vert.mask) if kept.any() else convex_hull(vert.mask)
    cand = ids[~named[1:]]
    cents = ndi.center_of_mass(muscle, comp, cand)
    drop = np.zeros(n + 1, bool)
    for i, (cy, cx) in zip(cand, cents, strict=True):
        drop[i] = cavity[min(int(round(cy)), cavity.shape[0] - 1), min(int(round(cx)), cavity.shape[1] - 1)]
    return np.asarray(drop[comp])
