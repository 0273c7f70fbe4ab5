"""The HU-threshold baseline: every muscle-range pixel inside the body is called muscle.

Rule (documented so that every report can quote it): the body is the largest 8-connected component of
pixels above ``BODY_HU`` (−500 HU) with its holes filled; label 1 = body ∩ −29..150 HU. Nothing else is
labelled (no SAT / VAT). It ignores anatomy on purpose - viscera, skin and vessels in the muscle HU range
are all called muscle - and so marks the floor every other method must beat (about Dice 0.40 on the
silver standard, with SMA several times too large).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sarco_core.body import body_outline
from sarco_core.metrics import DEFAULT_GATES
from sarco_core.segment.base import ModelInfo, SegmentationResult
from sarco_core.volume import Volume

MUSCLE_HU = DEFAULT_GATES.muscle  # (-29, 150) inclusive
THRESHOLD_CONFIDENCE = 0.0  # the baseline has no notion of its own reliability


def body_mask_simple(hu: np.ndarray) -> np.ndarray:
    """The body outline (:func:`sarco_core.body.body_outline`)."""
    return body_outline(hu)


class ThresholdSegmenter:
    """Baseline segmenter: HU −29..150 inside the body mask → label 1."""

    method = "threshold"
    model: ModelInfo | None = None

    def segment(self, volume: Volume, indices: Sequence[int]) -> list[SegmentationResult]:
        volume.require_hu("Threshold segmentation")
        out = []
        for i in indices:
            if not 0 <= int(i) < volume.n_slices:
                raise IndexError(f"Slice {i} is outside 0..{volume.n_slices - 1}.")
            hu = np.asarray(volume.hu[int(i)], dtype=np.float32)
            body = body_mask_simple(hu)
            labels = (body & (hu >= MUSCLE_HU[0]) & (hu <= MUSCLE_HU[1])).astype(np.uint8)
            out.append(
                SegmentationResult(
                    index=int(i),
                    labels=labels,
                    confidence=THRESHOLD_CONFIDENCE,
                    qc_flags=(),
                    method=self.method,
                    model=None,
                )
            )
        return out
