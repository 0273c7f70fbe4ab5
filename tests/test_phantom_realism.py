"""Phantom realism guards: HU of tissues, confounders inside the muscle HU range, options, physical scaling."""

from __future__ import annotations

import numpy as np
import pytest

from sarco_core.phantom import TISSUES, phantom_slice

T = TISSUES


def _mean(s, name: str) -> float:
    sel = s.tissue == T[name]
    assert sel.sum() > 20, name
    return float(s.hu[sel].mean())


@pytest.mark.parametrize("seed", [31, 32])
def test_tissue_hu_ranges(seed: int) -> None:
    s = phantom_slice(seed, level="L2", size=256, pixel_mm=1.5)
    a = s.areas_cm2()
    assert 20 <= a["muscle_hu_mean"] <= 65
    assert -125 <= _mean(s, "sat") <= -80
    assert -115 <= _mean(s, "vat") <= -65
    assert _mean(s, "vertebral_body") > 100
    # viscera with muscle-like HU exist inside the cavity: HU alone cannot separate them from muscle
    visc = np.isin(
        s.tissue, [T["bowel_wall"], T["kidney"], T["liver"], T["pancreas"], T["spleen"], T["ivc"], T["bowel_content"]]
    )
    in_gate = visc & (s.hu >= -29) & (s.hu <= 150) & (s.labels == 0)
    assert in_gate.sum() * 1.5 * 1.5 / 100 > 10  # > 10 cm² of non-muscle tissue inside the SMA HU gate


def test_contrast_option() -> None:
    c = phantom_slice(40, size=256, pixel_mm=1.5, contrast=True)
    n = phantom_slice(40, size=256, pixel_mm=1.5, contrast=False)
    assert c.params.contrast and not n.params.contrast
    assert _mean(c, "aorta") > 120 > 70 > _mean(n, "aorta")


def test_arms_and_table_are_background() -> None:
    s = phantom_slice(41, size=256, pixel_mm=1.8, arms=True, table=True)
    arm = np.isin(s.tissue, [T["arm_muscle"], T["arm_fat"], T["arm_bone"]])
    assert arm.any() and not s.labels[arm].any()
    tbl = np.isin(s.tissue, [T["table"], T["table_foam"]])
    assert tbl.any() and not s.labels[tbl].any()
    # the table lies below (posterior to) the patient
    assert np.nonzero(tbl)[0].min() > np.nonzero(s.labels)[0].mean()
    bare = phantom_slice(41, size=256, pixel_mm=1.8, arms=False, table=False)
    assert not np.isin(bare.tissue, [T["arm_muscle"], T["table"]]).any()


def test_same_patient_at_two_pixel_sizes() -> None:
    # the same anatomy sampled at 0.7 and 0.95 mm (same field of view): muscle compartment area within 3 %
    a = phantom_slice(42, pixel_mm=0.7, size=586).areas_cm2()["muscle_label_cm2"]
    b = phantom_slice(42, pixel_mm=0.95, size=432).areas_cm2()["muscle_label_cm2"]
    assert abs(a - b) / a < 0.03


def test_levels_change_anatomy() -> None:
    t12 = phantom_slice(43, level="T12", size=200, pixel_mm=2.0)
    l3 = phantom_slice(43, level="L3", size=200, pixel_mm=2.0)
    s1 = phantom_slice(43, level="S1", size=200, pixel_mm=2.0)
    assert np.count_nonzero(t12.tissue == T["liver"]) > np.count_nonzero(l3.tissue == T["liver"])
    assert np.count_nonzero(t12.tissue == T["rib"]) > 0
    assert np.count_nonzero(s1.tissue == T["ilium"]) > 0 and np.count_nonzero(s1.tissue == T["sacrum"]) > 0
    assert np.count_nonzero(l3.tissue == T["psoas"]) > np.count_nonzero(t12.tissue == T["psoas"])


def test_compare_stats_on_phantom() -> None:
    from validation.phantom_compare import stats

    s = phantom_slice(44, size=256, pixel_mm=1.6)
    st = stats(s.hu, 1.6, 1.6, "p", s.labels, s.tissue, teacher=False)
    a = s.areas_cm2()
    assert st.values["true_sma_cm2"] == pytest.approx(a["sma_cm2"])
    assert st.values["true_sat_cm2"] == pytest.approx(a["sat_cm2"])
    # the paraspinal ROI lands in muscle-like HU and the body width matches the phantom's outline
    assert -10 < st.values["muscle_roi_hu_mean"] < 80
    assert 0.8 < st.values["width_mm"] / (2 * s.params.half_width_mm) < 1.2
