"""The teacher's mask confidence (issue 15): the evidence combination contract, and a corrupted mask / slice gets a
lower confidence than the clean one on a phantom slice."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage as ndi

from sarco_core.phantom import phantom_slice
from sarco_core.segment.teacher import confidence as tc
from sarco_core.segment.teacher.confidence import MaskEvidence, teacher_confidence
from sarco_core.segment.teacher.segmenter import segment_slice
from sarco_core.train.augment import add_noise

SEED = 5003  # a held-out teacher seed (tests/test_teacher.py), not one the weights were fitted on (0-39)
CLEAN = MaskEvidence(*([0.0] * len(MaskEvidence.names())))


def test_weights_cover_every_evidence_and_are_non_negative():
    assert set(tc.WEIGHTS) == set(MaskEvidence.names())
    assert all(w >= 0.0 for w in tc.WEIGHTS.values())
    assert any(w > 0.0 for w in tc.WEIGHTS.values())  # fitted, not the placeholder zeros
    assert 0.0 < tc.INTERCEPT


def test_combination_is_monotone_bounded_and_implausible_lowers():
    base = teacher_confidence(CLEAN, plausible_area=True)
    assert base == pytest.approx(min(1.0, tc.INTERCEPT))
    mid = MaskEvidence(*([0.2] * len(MaskEvidence.names())))
    m = teacher_confidence(mid, plausible_area=True)
    for name in MaskEvidence.names():
        worse = dataclasses.replace(mid, **{name: 0.9})
        c = teacher_confidence(worse, plausible_area=True)
        assert 0.0 <= c <= 1.0
        assert c <= m  # any badness can only lower the confidence
        assert c == pytest.approx(max(0.0, min(1.0, m - tc.WEIGHTS[name] * 0.7)))
    assert teacher_confidence(mid, plausible_area=False) == pytest.approx(m * tc.IMPLAUSIBLE_FACTOR)
    worst = MaskEvidence(*([1.0] * len(MaskEvidence.names())))
    assert teacher_confidence(worst, plausible_area=True) < m


@pytest.fixture(scope="module")
def clean_slice() -> tuple[np.ndarray, float, np.ndarray, float, dict[str, float]]:
    ph = phantom_slice(SEED, level="L3", pixel_mm=0.8)
    hu = np.asarray(ph.hu, np.float32)
    labels, conf, _flags, cues = segment_slice(hu, 0.8, 0.8)
    return hu, 0.8, labels, conf, cues


def _evidence(hu: np.ndarray, muscle: np.ndarray, cues: dict[str, float]) -> MaskEvidence:
    return MaskEvidence.measure(
        hu,
        muscle,
        body=hu > -500,
        fov_out=None,
        sat_thin_fraction=cues["sat_thin"],
        islands_removed_px=0,
        wall_leaky=cues["wall_leaky_fraction"],
        ring_close_mm=cues["ring_close_mm"],
        pixel_mm=0.8,
        vertebra_found=True,
        truncated=False,
    )


def test_clean_phantom_mask_has_little_badness(clean_slice):
    hu, _px, labels, conf, cues = clean_slice
    e = _evidence(hu, labels == 1, cues)
    assert all(0.0 <= v <= 1.0 for v in e.vector())
    assert e.outside_gate < 0.1 and e.gate_shift < 0.2 and e.sat_thin < 0.4
    assert conf > 0.8


def test_corrupted_masks_get_lower_confidence(clean_slice):
    """The teacher's own mask vs the same mask spilled 3 mm into the tissue around it (fat, organs: the outer rim
    a cachectic slice gets) and vs the mask with pieces bitten out of its edge (a frayed boundary)."""
    hu, px, labels, _conf, cues = clean_slice
    muscle = labels == 1
    base = teacher_confidence(_evidence(hu, muscle, cues), plausible_area=True)
    body = hu > -500
    spilled = ndi.binary_dilation(muscle, iterations=round(3.0 / px)) & body
    rng = np.random.default_rng(0)
    edge = muscle & ~ndi.binary_erosion(muscle, iterations=2)
    frayed = muscle & ~(edge & (rng.random(hu.shape) < 0.5))
    for bad in (spilled, frayed):
        assert teacher_confidence(_evidence(hu, bad, cues), plausible_area=True) < base - 0.02


def test_noisy_slice_gets_lower_confidence_than_clean(clean_slice):
    hu, px, _labels, conf, _cues = clean_slice
    noisy = add_noise(hu, 100.0, np.random.default_rng(1))
    _lab, conf_noisy, _flags, _cues = segment_slice(noisy, px, px)
    assert conf_noisy < conf - 0.05
