"""The teacher's mask confidence: evidence of mask quality the teacher can compute without a reference, combined
in one place (:func:`teacher_confidence`) into an estimate of the mask's HU-gated Dice (issue 15: the confidence
must rank mask quality; Spearman with Dice >= 0.6).

Each piece of evidence is a *badness* in 0..1 (0 = no sign of trouble), chosen by what goes wrong:

* ``gate_shift`` - share of the gated mask within ``GATE_SHIFT_HU`` of the muscle gate's limits (the SMA's
  sensitivity to a small shift of the -29..150 HU gate): clean muscle lies at 30-60 HU, far from both limits;
  noise, streaks and blur spread the mask's pixels over the limits, and the teacher's own fat / muscle tests
  (the same HU ranges) then decide by chance;
* ``outside_gate`` - share of the mask's pixels outside the gate (streaks, heavy noise, fat taken in);
* ``erosion_loss`` - share of the gated mask lost by a 1-pixel erosion: a compact compartment loses little, a
  mask frayed by noise or cut by streaks loses much (its boundary is uncertain by at least a pixel everywhere);
* ``hu_outliers`` - share of the pixels in and within ``OUTLIER_REACH_MM`` of the mask whose HU departs from
  their 5-pixel median by more than ``OUTLIER_HU``: streaks (metal, beam hardening, photon starvation) and
  heavy noise; where they cross the compartment the teacher's fat / muscle tests saw artefact, not tissue;
* ``soft_edge`` - share of the mask's outer edge (the ring of pixels just outside it, inside the body, bone and
  the field-of-view edge left out) that is not fat: the compartment's borders are fascial planes lined with fat
  (SAT outside, retroperitoneal / visceral fat inside); where the edge runs against soft tissue - skin with no
  SAT (cachexia), oedematous SAT (anasarca), a bowel loop at the flank, fluid, an organ against the wall - the
  teacher placed it by its reach rules, not by a visible plane;
* ``sat_thin`` - the anatomy rules' share of the perimeter with SAT < 5 mm (behind ``no_sat_plane``);
* ``islands`` - the area the islands rule removed, as a share of the mask before it (pieces of bowel wall,
  vessels or crus were taken: the inner boundary leaked);
* ``wall_leaky`` - share of wall directions where no fat plane stopped the wall (organ contact; teacher cue);
* ``ring_open`` - how much closing the fascia ring needed (0 closed with a small closing .. 1 never closed);
* ``no_vertebra`` - 1 when no vertebra was found (psoas and the islands rule then have no anchor);
* ``fov_contact`` - 1 when the body runs into the image border / field-of-view edge (``body_truncated``): the
  mask is cut there.

:func:`teacher_confidence` = clip(``INTERCEPT`` - sum(weight x badness), 0, 1), times ``IMPLAUSIBLE_FACTOR``
when the gated SMA is outside the plausible range. The weights (``WEIGHTS``) are non-negative (each badness can
only lower the confidence) and were fitted by non-negative least squares of gated Dice on phantom TRAINING seeds
only (``python -m tools.fit_teacher_confidence``: seeds 0-39 of the training range, each plain, with its corrupted
copies and the issue-15 variants); never on the evaluation seeds (1000+), the real slices or TotalSegmentator.
So the confidence reads as an expected gated Dice on the phantoms. Acquisition metadata (kVp, contrast phase,
slice thickness) is not evidence here: those are notes beside the number.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

import numpy as np
from scipy import ndimage as ndi

from sarco_core.metrics import DEFAULT_GATES
from sarco_core.segment.teacher.anatomy import BONE_HU, FAT_HU

GATE_SHIFT_HU = 10.0  # a small shift of the gate: the HU calibration tolerance of CT (water +-4 HU, ACR) plus noise
OUTLIER_HU = 150.0  # a local HU departure no tissue boundary in the muscle's neighbourhood makes (muscle-fat ~130)
OUTLIER_REACH_MM = 5.0
EDGE_RING_PX = 2  # the outer edge: pixels up to this far outside the mask
IMPLAUSIBLE_FACTOR = 0.4  # gated SMA outside the plausible range: the mask is not a muscle compartment
# fitted by `python -m tools.fit_teacher_confidence --seeds 40` (2026-12-04, phantom training seeds 0-39, 360 slices:
# plain, corrupted copies, issue-15 variants; training Spearman 0.878 (0.871 refitted without each fifth of the
# seeds), mean |Dice - confidence| 0.040). Rounded.
INTERCEPT = 1.067
WEIGHTS: dict[str, float] = {
    "gate_shift": 0.390,
    "outside_gate": 0.0,  # fitted 0: carried by gate_shift and hu_outliers
    "erosion_loss": 0.001,
    "hu_outliers": 2.039,
    "soft_edge": 0.409,
    "sat_thin": 0.067,
    "islands": 1.782,
    "wall_leaky": 0.282,
    "ring_open": 0.059,
    # not fitted: every training phantom has a vertebra. Prior: without it the teacher draws no psoas (about 15-20 %
    # of the SMA at L3; Dice ~0.9 for a mask missing 18 % of the muscle) and the islands rule is not applied
    "no_vertebra": 0.15,
    "fov_contact": 0.026,
}


@dataclass(frozen=True)
class MaskEvidence:
    """Badness values (0..1) of one teacher mask; see the module docstring for each."""

    gate_shift: float
    outside_gate: float
    erosion_loss: float
    hu_outliers: float
    soft_edge: float
    sat_thin: float
    islands: float
    wall_leaky: float
    ring_open: float
    no_vertebra: float
    fov_contact: float

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def vector(self) -> np.ndarray:
        return np.asarray(astuple(self), np.float64)

    def as_dict(self) -> dict[str, float]:
        return {n: round(float(v), 4) for n, v in zip(self.names(), astuple(self), strict=True)}

    @classmethod
    def measure(
        cls,
        hu: np.ndarray,
        muscle: np.ndarray,
        *,
        body: np.ndarray | None,
        fov_out: np.ndarray | None,
        sat_thin_fraction: float | None,
        islands_removed_px: int,
        wall_leaky: float,
        ring_close_mm: float | None,
        pixel_mm: float,
        vertebra_found: bool,
        truncated: bool,
    ) -> MaskEvidence:
        """Evidence of one native slice: ``muscle`` the final label-1 mask (after the anatomy rules), ``body``
        the teacher's body outline on this grid, ``ring_close_mm`` the closing that closed the fascia ring (None:
        never closed)."""
        hu = np.asarray(hu, np.float32)
        muscle = np.asarray(muscle, bool)
        lo, hi = DEFAULT_GATES.muscle
        n = int(muscle.sum())
        ring = ring_badness(ring_close_mm)
        structural = {
            "sat_thin": float(sat_thin_fraction or 0.0),
            "wall_leaky": float(np.clip(wall_leaky, 0.0, 1.0)),
            "ring_open": ring,
            "no_vertebra": 0.0 if vertebra_found else 1.0,
            "fov_contact": 1.0 if truncated else 0.0,
        }
        if n == 0:
            return cls(1.0, 1.0, 1.0, 1.0, 1.0, islands=1.0, **structural)
        v = hu[muscle]
        gated = muscle & (hu >= lo) & (hu <= hi)
        ng = int(gated.sum())
        near = ((v >= lo) & (v < lo + GATE_SHIFT_HU)) | ((v > hi - GATE_SHIFT_HU) & (v <= hi))
        gate_shift = float(near.sum()) / max(1, ng)
        outside = 1.0 - ng / n
        eroded = ndi.binary_erosion(gated, structure=np.ones((3, 3), bool))
        erosion = 1.0 - float(eroded.sum()) / max(1, ng)
        box = _box(muscle, int(np.ceil(OUTLIER_REACH_MM / pixel_mm)) + 3)
        hb, mb = hu[box], muscle[box]
        hs = ndi.median_filter(hb, size=3)
        outliers = outlier_fraction(hb, mb, pixel_mm)
        soft = soft_edge_fraction(hs, mb, None if body is None else np.asarray(body, bool)[box], _sub(fov_out, box))
        islands = islands_removed_px / (n + islands_removed_px)
        return cls(
            float(np.clip(gate_shift, 0, 1)), outside, erosion, outliers, soft, islands=float(islands), **structural
        )


def _box(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = np.nonzero(mask.any(axis=0))[0]
    return (
        slice(max(0, rows[0] - margin), rows[-1] + margin + 1),
        slice(max(0, cols[0] - margin), cols[-1] + margin + 1),
    )


def _sub(a: np.ndarray | None, box: tuple[slice, slice]) -> np.ndarray | None:
    return None if a is None else np.asarray(a, bool)[box]


def outlier_fraction(hu: np.ndarray, muscle: np.ndarray, pixel_mm: float) -> float:
    """Share of the pixels within ``OUTLIER_REACH_MM`` of the mask that depart from their 5-pixel median HU by
    more than ``OUTLIER_HU`` (air and bone left out: their edges are real)."""
    near = ndi.distance_transform_edt(~muscle, sampling=pixel_mm) <= OUTLIER_REACH_MM
    med = ndi.median_filter(hu, size=5)
    near &= (med > -500.0) & (med < BONE_HU)
    if not near.any():
        return 1.0
    return float((np.abs(hu - med)[near] > OUTLIER_HU).mean())


def ring_badness(close_mm: float | None) -> float:
    """0 when the fascia ring closed with a closing <= 11 mm, 0.15 (<= 18 mm), 0.3 (larger), 0.7 (never): the
    teacher's earlier ring score (1.0 / 0.85 / 0.7 / 0.3) read as a badness."""
    if close_mm is None:
        return 0.7
    return 0.0 if close_mm <= 11.0 else 0.15 if close_mm <= 18.0 else 0.3


def soft_edge_fraction(
    hs: np.ndarray, muscle: np.ndarray, body: np.ndarray | None, fov_out: np.ndarray | None
) -> float:
    """Share of the ring of pixels up to ``EDGE_RING_PX`` outside the mask (inside the body; bone > 200 HU and the
    field-of-view edge left out) whose 3-pixel median HU (``hs``) is not fat (above the fat gate's upper limit)."""
    ring = ndi.binary_dilation(muscle, structure=np.ones((3, 3), bool), iterations=EDGE_RING_PX) & ~muscle
    ring &= hs <= BONE_HU
    if body is not None:
        ring &= body
    if fov_out is not None and fov_out.any():
        ring &= ~ndi.binary_dilation(fov_out, iterations=2)
    if not ring.any():
        return 1.0
    return float((hs[ring] > FAT_HU[1]).mean())


def teacher_confidence(e: MaskEvidence, *, plausible_area: bool) -> float:
    """The one place the evidence is combined: clip(INTERCEPT - sum(WEIGHTS x badness), 0, 1), times
    ``IMPLAUSIBLE_FACTOR`` when the gated SMA is implausible."""
    w = np.asarray([WEIGHTS[n] for n in MaskEvidence.names()], np.float64)
    conf = float(np.clip(INTERCEPT - float(w @ e.vector()), 0.0, 1.0))
    return conf if plausible_area else conf * IMPLAUSIBLE_FACTOR
