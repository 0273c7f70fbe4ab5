"""The anatomical teacher: classical, explainable segmentation of one axial slice into
1 = skeletal muscle compartment, 2 = SAT, 3 = VAT (lumbar and lower-thoracic levels).

Pipeline per slice (each step in its own small function, all sizes in mm):

1. resample the slice to a square ``WORK_PX_MM`` grid (linear HU), find the outside-FOV padding;
2. body contour: trunk, arms, table removed (:mod:`teacher_body`);
3. fascia interior = region enclosed by the muscle ring; SAT = trunk outside it (:mod:`teacher_anatomy`);
4. bone and the vertebra; wall and back muscles by reach from the fascia through soft tissue; psoas beside
   the vertebral body; viscera excluded because no fat-free path of plausible wall thickness reaches them;
5. VAT = fat inside the interior that is not in the muscle compartment;
6. labels resampled back to the slice's own grid (area-weighted vote), the anatomy rules
   (:mod:`sarco_core.segment.anatomy_rules`, shared with the model), confidence and QC flags.

Confidence (0-1): evidence of mask quality measured on the final mask (gate sensitivity, HU outliers, the edge
against fat or soft tissue, the SAT plane, islands removed, wall contact, the ring, the vertebra, the field-of-view
edge) combined in one place, :func:`sarco_core.segment.teacher.confidence.teacher_confidence` (weights fitted on
phantom training seeds); it reads as an expected gated Dice. 0 when no trunk or muscle ring was found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from sarco_core.body import dilate, find_body, outside_fov
from sarco_core.metrics import DEFAULT_GATES
from sarco_core.segment import anatomy_rules  # module import: anatomy_rules imports teacher.anatomy
from sarco_core.segment.base import ModelInfo, SegmentationResult
from sarco_core.segment.teacher import anatomy as anat
from sarco_core.segment.teacher.confidence import MaskEvidence, teacher_confidence
from sarco_core.segment.teacher.wall import wall_and_back
from sarco_core.volume import Volume

WORK_PX_MM = 1.0  # working pixel size; slices within ±10 % of it are used as they are
MIN_INTERIOR_CM2 = 20.0  # a fascia interior smaller than this means no trunk / muscle ring was found
PLAUSIBLE_SMA_CM2 = (40.0, 350.0)
LOW_CONFIDENCE = 0.7  # the confidence reads as expected gated Dice; the review queue's threshold (ui.dashboard)
RIM_MM = 1.5  # partial-volume rim added around the muscle found on the smoothed image
MUSCLE_RIM_HU = (-29.0, 150.0)
VAT_LABEL_HU = (-300.0, -30.0)  # fat-like pixels inside the interior that get label 3
MUSCLE_VOTE_MIN = 0.5  # share of a native pixel the work-grid muscle must cover for the pixel to be muscle


@dataclass(frozen=True)
class TeacherSlice:
    """Work-grid result of one slice (labels on the working grid) with the cues used for confidence. ``confidence``
    is the work-grid structural score (ring x wall x vertebra x truncation; 0: no trunk / ring found); the slice's
    confidence is computed from the final mask by :mod:`sarco_core.segment.teacher.confidence`."""

    labels: np.ndarray
    confidence: float
    qc_flags: tuple[str, ...]
    cues: dict[str, float]
    trunk: np.ndarray | None = None  # the body outline (work grid) the anatomy rules measure from


def _zoom_to(a: np.ndarray, shape: tuple[int, int], order: int) -> np.ndarray:
    f = (shape[0] / a.shape[0], shape[1] / a.shape[1])
    out = ndi.zoom(a, f, order=order, mode="nearest", grid_mode=True)
    if out.shape != shape:  # rounding: crop / pad by edge values
        out = out[: shape[0], : shape[1]]
        out = np.pad(out, ((0, shape[0] - out.shape[0]), (0, shape[1] - out.shape[1])), mode="edge")
    return np.asarray(out)


def _labels_back(labels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Area-weighted vote of each label when going back to the native grid. Muscle needs at least half of a
    native pixel (area-preserving; a plain argmax over four labels gives muscle the pixels where it holds
    only a plurality, e.g. 40 % muscle beside 35 % VAT and 25 % organ, which biases the SMA upwards)."""
    if labels.shape == shape:
        return labels.astype(np.uint8)
    votes = np.stack([_zoom_to((labels == k).astype(np.float32), shape, order=1) for k in range(4)])
    muscle = votes[1] >= MUSCLE_VOTE_MIN
    votes[1] = -1.0
    return np.where(muscle, 1, np.argmax(votes, axis=0)).astype(np.uint8)


def segment_slice(
    hu: np.ndarray, row_mm: float, col_mm: float
) -> tuple[np.ndarray, float, tuple[str, ...], dict[str, float]]:
    """Segment one native slice; returns (labels uint8 on the native grid, confidence, flags, cues)."""
    labels, conf, flags, cues, _ = segment_slice_rules(hu, row_mm, col_mm)
    return labels, conf, flags, cues


def segment_slice_rules(
    hu: np.ndarray, row_mm: float, col_mm: float
) -> tuple[np.ndarray, float, tuple[str, ...], dict[str, float], anatomy_rules.RulesResult | None]:
    """:func:`segment_slice` plus what the anatomy rules did (None where no trunk was found)."""
    hu = np.asarray(hu, dtype=np.float32)
    fov = outside_fov(hu)
    native = (hu.shape[0], hu.shape[1])
    if abs(row_mm - WORK_PX_MM) / WORK_PX_MM <= 0.1 and abs(col_mm - WORK_PX_MM) / WORK_PX_MM <= 0.1:
        work_hu, work_fov, px = hu, fov, float(np.sqrt(row_mm * col_mm))
    else:
        shape = (
            max(8, int(round(hu.shape[0] * row_mm / WORK_PX_MM))),
            max(8, int(round(hu.shape[1] * col_mm / WORK_PX_MM))),
        )
        work_hu = _zoom_to(hu, shape, order=1)
        work_fov = _zoom_to(fov.astype(np.uint8), shape, order=0).astype(bool)
        px = WORK_PX_MM
    ts = segment_work(work_hu, px, work_fov)
    labels = _labels_back(ts.labels, native)
    flags = list(ts.qc_flags)
    rules = None
    trunk = None
    if ts.trunk is not None and ts.trunk.any():
        trunk = ts.trunk if ts.trunk.shape == native else _zoom_to(ts.trunk.astype(np.uint8), native, order=0) > 0
        rules = anatomy_rules.apply_anatomy_rules(hu, labels, row_mm=row_mm, col_mm=col_mm, body=trunk, fov_out=fov)
        labels = rules.labels
        flags.extend(rules.flags)
    # plausibility on the native grid, HU-gated like every SMA
    sma_cm2 = float(((labels == 1) & (hu >= DEFAULT_GATES.muscle[0]) & (hu <= DEFAULT_GATES.muscle[1])).sum())
    sma_cm2 *= row_mm * col_mm / 100.0
    plausible = PLAUSIBLE_SMA_CM2[0] <= sma_cm2 <= PLAUSIBLE_SMA_CM2[1]
    if not plausible:
        flags.append("implausible_area")
    muscle = labels == 1
    touches = False
    if muscle.any():
        edge = np.zeros(native, bool)
        edge[[0, -1], :] = True
        edge[:, [0, -1]] = True
        if fov.any():
            edge |= ndi.binary_dilation(fov, iterations=2)
        touches = bool((muscle & edge).any())
        if touches:
            flags.append("mask_touches_fov_edge")
    conf = 0.0
    evidence = None
    if ts.confidence > 0.0:  # a trunk and a muscle ring were found
        evidence = MaskEvidence.measure(
            hu,
            muscle,
            body=trunk,
            fov_out=fov,
            sat_thin_fraction=rules.sat_thin_fraction if rules is not None else None,
            islands_removed_px=int(round(rules.islands_removed_cm2 / (row_mm * col_mm / 100.0))) if rules else 0,
            wall_leaky=ts.cues.get("wall_leaky_fraction", 0.0),
            ring_close_mm=ts.cues["ring_close_mm"] if ts.cues.get("ring_closed", 0.0) else None,
            pixel_mm=float(np.sqrt(row_mm * col_mm)),
            vertebra_found=bool(ts.cues.get("vertebra_found", 0.0)),
            truncated="body_truncated" in flags or touches,
        )
        conf = teacher_confidence(evidence, plausible_area=plausible)
    if conf < LOW_CONFIDENCE:
        flags.append("low_confidence")
    cues = dict(ts.cues, sma_cm2=sma_cm2, **({} if evidence is None else evidence.as_dict()))
    return labels, float(np.clip(conf, 0.0, 1.0)), tuple(dict.fromkeys(flags)), cues, rules


def segment_work(hu: np.ndarray, px_mm: float, fov_out: np.ndarray | None = None) -> TeacherSlice:
    """All anatomical steps on a square-pixel working grid."""
    body = find_body(hu, px_mm, fov_out)
    flags: list[str] = []
    if body.n_arms:
        flags.append("arms_in_field")
    if body.truncated:
        flags.append("body_truncated")
    labels = np.zeros(hu.shape, np.uint8)
    if not body.trunk.any():
        return TeacherSlice(labels, 0.0, (*flags, "implausible_area"), {})
    # work inside the trunk's bounding box (everything outside is background)
    rows = np.nonzero(body.trunk.any(axis=1))[0]
    cols = np.nonzero(body.trunk.any(axis=0))[0]
    m = 4
    box = (slice(max(0, rows[0] - m), rows[-1] + m + 1), slice(max(0, cols[0] - m), cols[-1] + m + 1))
    hu = hu[box]
    trunk = body.trunk[box]
    hs = ndi.median_filter(hu, size=3)
    interior = anat.fascia_interior(hs, trunk, px_mm)
    if interior.mask.sum() * px_mm * px_mm / 100.0 < MIN_INTERIOR_CM2:  # no muscle ring: not a trunk slice
        labels[box] = np.where(trunk, 2, 0).astype(np.uint8)
        return TeacherSlice(labels, 0.0, (*flags, "implausible_area"), {"ring_close_mm": 0.0}, body.trunk)
    bone = anat.bone_mask(hs, trunk, px_mm)
    vert = anat.find_vertebra(bone, trunk, px_mm, hs)
    if vert is not None:
        bone = bone | vert.mask  # vertebral body (marrow filled) and spinal canal are not muscle
    ref_hu = anat.muscle_reference_hu(hs, interior.mask, bone, vert, px_mm)
    walls = wall_and_back(hs, interior.mask, bone, vert, ref_hu, px_mm)
    muscle = walls.muscle
    if vert is not None:
        muscle = muscle | anat.psoas(hs, interior.mask, bone, vert, ref_hu, px_mm)
    # partial-volume rim: raw (unsmoothed) muscle-range pixels just outside the found muscle
    rim = dilate(muscle, RIM_MM / px_mm) & interior.mask & ~bone & (hu >= MUSCLE_RIM_HU[0])
    muscle = muscle | (rim & (hu <= ref_hu + anat.ORGAN_BRIGHTER_HU))
    comp = anat.compartment(muscle, interior.mask, bone, px_mm)
    lab = np.zeros(hu.shape, np.uint8)
    lab[trunk & ~interior.mask] = 2
    vat = interior.mask & ~comp & ~bone & (hu >= VAT_LABEL_HU[0]) & (hu <= VAT_LABEL_HU[1])
    lab[vat] = 3
    lab[comp] = 1
    labels[box] = lab

    close = interior.close_mm
    ring_conf = 0.3 if close is None else (1.0 if close <= 11.0 else 0.85 if close <= 18.0 else 0.7)
    wall_conf = 1.0 - 0.6 * walls.leaky_fraction
    vert_conf = 1.0 if vert is not None else 0.6
    trunc_conf = 0.6 if body.truncated else 1.0
    conf = ring_conf * wall_conf * vert_conf * trunc_conf
    cues = {
        "ring_close_mm": float(interior.close_mm or 0.0),
        "ring_closed": float(interior.close_mm is not None),
        "ring_solidity": interior.solidity,
        "wall_leaky_fraction": walls.leaky_fraction,
        "vertebra_found": float(vert is not None),
        "muscle_ref_hu": ref_hu,
    }
    return TeacherSlice(labels, conf, tuple(flags), cues, body.trunk)


class TeacherSegmenter:
    """Anatomical teacher (no learned parameters): ``segment(volume, indices)`` at any pixel size."""

    method = "teacher"
    model: ModelInfo | None = None

    def segment(self, volume: Volume, indices: Sequence[int]) -> list[SegmentationResult]:
        volume.require_hu("Teacher segmentation")
        sp = volume.spacing_mm
        out = []
        for i in indices:
            if not 0 <= int(i) < volume.n_slices:
                raise IndexError(f"Slice {i} is outside 0..{volume.n_slices - 1}.")
            labels, conf, flags, cues, rules = segment_slice_rules(volume.hu[int(i)], sp.row, sp.col)
            extra: dict[str, Any] = {"cues": cues}
            if rules is not None:
                extra["anatomy_rules"] = rules.extras()
            out.append(
                SegmentationResult(
                    index=int(i),
                    labels=labels,
                    confidence=conf,
                    qc_flags=flags,
                    method=self.method,
                    model=None,
                    extra=extra,
                )
            )
        return out
