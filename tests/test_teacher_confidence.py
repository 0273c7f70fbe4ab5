"""The teacher's mask confidence (issue 15): the evidence combination contract, and a corrupted mask / slice gets a
lower confidence than the clean one on a phantom slice (held-out seed)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import ndimage as ndi

from sarco_core.metrics import gated_dice
from sarco_core.phantom import phantom_slice
from sarco_core.phantom.variants import variant_slice
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


def test_pulled_back_mask_gets_lower_confidence(clean_slice):
    """The teacher's own mask vs the same mask pulled back 2 pixels from its borders (an under-called compartment:
    its edge now runs inside muscle, not along the fat planes); a lower gated Dice, a lower confidence."""
    hu, _px, labels, _conf, cues = clean_slice
    muscle = labels == 1
    base = teacher_confidence(_evidence(hu, muscle, cues), plausible_area=True)
    eroded = ndi.binary_erosion(muscle, iterations=2)
    assert teacher_confidence(_evidence(hu, eroded, cues), plausible_area=True) < base - 0.05


@pytest.mark.parametrize("corruption", ["noise", "cachexia"])
def test_corrupted_slice_gets_lower_confidence_than_clean(corruption):
    """The same phantom patient plain, with noise (sigma 100 HU) and cachectic (SAT < 3 mm: the outer rim is
    uncertain): the corrupted slice's mask is worse and its confidence lower."""
    plain = variant_slice(SEED, "none", size=512, pixel_mm=0.8)
    hu = np.asarray(plain.hu, np.float32)
    truth = plain.labels == 1
    if corruption == "noise":
        bad_hu, bad_truth = add_noise(hu, 100.0, np.random.default_rng(1)), truth
    else:
        v = variant_slice(SEED, "cachexia", size=512, pixel_mm=0.8)
        bad_hu, bad_truth = np.asarray(v.hu, np.float32), v.labels == 1
    lab, conf, _f, _c = segment_slice(hu, 0.8, 0.8)
    lab_bad, conf_bad, _f, _c = segment_slice(bad_hu, 0.8, 0.8)
    assert gated_dice(bad_hu, bad_truth, lab_bad == 1) < gated_dice(hu, truth, lab == 1)
    assert conf_bad < conf - 0.05
