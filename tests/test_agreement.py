"""Agreement statistics against published worked examples and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from sarco_core.agreement import Agreement, AgreementError, BlandAltman, icc_2_1, lin_ccc

# Shrout & Fleiss 1979, Table 2: 6 targets rated by 4 judges; the paper gives ICC(2,1) = 0.29.
SHROUT_FLEISS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
)


def test_icc_2_1_matches_shrout_fleiss_table():
    assert icc_2_1(SHROUT_FLEISS) == pytest.approx(0.2898, abs=5e-4)


def test_icc_is_one_for_identical_raters_and_drops_with_a_constant_offset():
    x = np.array([10.0, 12.0, 15.0, 20.0])
    assert icc_2_1(np.stack([x, x], 1)) == pytest.approx(1.0)
    # absolute agreement: an offset lowers ICC(2,1) (ICC(3,1) would stay 1)
    assert icc_2_1(np.stack([x, x + 5.0], 1)) < 0.8


def test_lin_ccc_hand_computed():
    # x = y + 1 on 1,2,3: s_x² = s_y² = s_xy = 2/3 (1/n), mean gap 1 -> (4/3) / (4/3 + 1) = 4/7
    assert lin_ccc([1, 2, 3], [2, 3, 4]) == pytest.approx(4 / 7)
    assert lin_ccc([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert lin_ccc([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_bland_altman_hand_computed():
    ba = BlandAltman.of(reference=[100, 110, 120, 130], test=[102, 108, 125, 131])
    # differences 2, -2, 5, 1: mean 1.5, sample SD sqrt(25/3)
    sd = np.sqrt(25 / 3)
    assert ba.bias == pytest.approx(1.5)
    assert ba.sd == pytest.approx(sd)
    assert ba.loa_low == pytest.approx(1.5 - 1.96 * sd)
    assert ba.loa_high == pytest.approx(1.5 + 1.96 * sd)


def test_agreement_bundle_and_mape():
    a = Agreement.of(quantity="SMA", unit="cm2", reference=[100, 200], test=[110, 180])
    assert a.mean_abs_pct_error == pytest.approx(10.0)
    assert a.n == 2 and a.bland_altman.bias == pytest.approx(-5.0)
    assert a.to_dict()["bland_altman"] == a.bland_altman.to_dict()


@pytest.mark.parametrize(
    "ref,test,match",
    [([1.0], [1.0], "at least 2"), ([1, 2], [1, 2, 3], "one pair per case"), ([1, float("nan")], [1, 2], "finite")],
)
def test_bad_input_is_refused(ref, test, match):
    with pytest.raises(AgreementError, match=match):
        lin_ccc(ref, test)
