"""The low-confidence L3 guess used when neither the sacrum nor the ribs can be counted (issue 6: prefer a flagged
answer over refusing when a spine is clearly there; still refuse series that do not reach L3)."""

from __future__ import annotations

import numpy as np

from sarco_core.l3 import levels as lv
from sarco_core.l3.decide import P_GUESS as CONF_GUESS
from sarco_core.l3.decide import P_LUNGS as CONF_LUNGS
from sarco_core.l3.find import _guess_without_landmarks
from sarco_core.l3.spine import SpineFeatures

DISCS = np.array([100.0, 135.0, 170.0, 204.0, 236.0, 266.0])  # ascending z: L4/5 .. T11/12


def _analysis(lungs_low_z: float | None, rib_low_z: float | None = None, ribs: lv.Count | None = None) -> lv.Analysis:
    return lv.Analysis(DISCS, np.ones(DISCS.size), None, ribs, None, rib_low_z, None, lungs_low_z)


def _features(found_frac: float) -> SpineFeatures:
    n = 100
    found = np.arange(n) < int(found_frac * n)
    zeros = np.zeros(n)
    return SpineFeatures(
        z_mm=np.linspace(80, 300, n),
        found=found,
        body_row=zeros,
        body_half_rows=zeros,
        mid_col=zeros,
        body_hu=zeros,
        joined_mm=zeros,
        ala_frac=zeros,
        lateral_mm2=zeros,
        lung_mm2=zeros,
        bone=np.zeros((n, 1, 1), bool),
        ribs=np.zeros((n, 1, 1), bool),
        row_mm=2.4,
        col_mm=2.4,
    )


def test_lung_bases_taken_as_t12_l1_and_counted_down() -> None:
    got = _guess_without_landmarks(_analysis(lungs_low_z=240.0), _features(1.0))
    assert got is not None
    lo, conf, how, why = got
    assert lo == 4 - 3  # disc nearest to the lung bases is index 4 (z 236): L3/L4 is three discs below
    assert conf == CONF_LUNGS < 0.6
    assert "lung bases" in why and "Check the level" in why


def test_lung_bases_too_close_to_the_lower_end_is_refused() -> None:
    assert _guess_without_landmarks(_analysis(lungs_low_z=140.0), _features(1.0)) is None


def test_ribs_ending_above_l3_refuse_even_with_lungs() -> None:
    ribs = lv.Count("ribs", 1, 150.0, None)  # T12 counted, but fewer than three vertebrae below it
    assert _guess_without_landmarks(_analysis(240.0, rib_low_z=150.0, ribs=ribs), _features(1.0)) is None


def test_no_landmark_at_all_guesses_the_middle_vertebra_with_low_confidence() -> None:
    got = _guess_without_landmarks(_analysis(lungs_low_z=None), _features(1.0))
    assert got is not None
    lo, conf, _, why = got
    assert lo == 2 and conf == CONF_GUESS
    assert "by hand" in why and "--slice" not in why


def test_no_guess_without_a_clear_spine() -> None:
    assert _guess_without_landmarks(_analysis(lungs_low_z=None), _features(0.3)) is None
    few = lv.Analysis(DISCS[:3], np.ones(3), None, None, None, None, None, None)
    assert _guess_without_landmarks(few, _features(1.0)) is None
