"""Cutoff rules: thresholds, BMI-dependent rules, missing inputs and unit sanity checks."""

from __future__ import annotations

import pytest

from sarco_core.cutoffs import (
    RULES,
    classify,
    get_rule,
    normalise_sex,
    smi_cm2_m2,
    validate_height_m,
    validate_weight_kg,
)
from sarco_core.errors import PatientDataError, UnknownRuleError


def test_every_rule_has_citation_and_population() -> None:
    for rule in RULES.values():
        assert "doi:" in rule.citation and rule.population


@pytest.mark.parametrize(
    ("sex", "weight", "smi", "expected_thr", "low"),
    [
        ("M", 60.0, 42.9, 43.0, True),  # BMI 18.5 < 25
        ("M", 60.0, 43.0, 43.0, False),
        ("M", 90.0, 52.0, 53.0, True),  # BMI 27.8 >= 25
        ("F", 90.0, 40.0, 41.0, True),
        ("F", None, 42.0, 41.0, False),  # women: no BMI needed
    ],
)
def test_martin_thresholds(sex: str, weight: float | None, smi: float, expected_thr: float, low: bool) -> None:
    c = classify(smi=smi, muscle_hu=40.0, sex=sex, height_m=1.8, weight_kg=weight, rule="martin2013")
    assert c.low_smi.threshold == expected_thr
    assert c.low_smi.value is low
    assert "CT-defined" in c.low_smi.note and "sarcopenia" not in c.low_smi.note.lower()
    assert c.low_smi.citation.startswith("Martin L")


def test_missing_weight_is_undetermined_not_guessed() -> None:
    c = classify(smi=40.0, muscle_hu=30.0, sex="M", height_m=1.8, weight_kg=None)
    assert c.low_smi.value is None and c.low_smi.note == "undetermined (needs weight)"
    assert c.low_muscle_hu.value is None and "needs weight" in c.low_muscle_hu.note


def test_missing_sex_or_height() -> None:
    assert classify(smi=40.0, muscle_hu=30.0, sex=None, height_m=1.8, weight_kg=70).low_smi.note == (
        "undetermined (needs sex)"
    )
    c = classify(smi=None, muscle_hu=30.0, sex="F", height_m=None, weight_kg=70, rule="derstine2018")
    assert c.low_smi.value is None and "needs height" in c.low_smi.note
    assert c.low_muscle_hu.value is True and c.low_muscle_hu.threshold == 34.3


def test_rule_without_hu_cutoff_and_lookup() -> None:
    c = classify(smi=50.0, muscle_hu=30.0, sex="M", height_m=1.8, weight_kg=110, rule="Prado 2008")
    assert c.low_smi.value is True and c.low_smi.threshold == 52.4
    assert c.low_muscle_hu.value is None and "no cutoff" in c.low_muscle_hu.note
    assert get_rule("van der Werf 2018")[0] == "vanderwerf2018"
    with pytest.raises(UnknownRuleError, match="Choose one of"):
        get_rule("nope")


def test_input_sanity() -> None:
    with pytest.raises(PatientDataError, match="looks like centimetres"):
        validate_height_m(175)
    with pytest.raises(PatientDataError, match="plausible range"):
        validate_height_m(0.5)
    with pytest.raises(PatientDataError, match="plausible range"):
        validate_weight_kg(400)
    assert validate_height_m(None) is None
    assert validate_weight_kg(70) == 70
    assert normalise_sex("female") == "F" and normalise_sex("") is None
    with pytest.raises(PatientDataError):
        normalise_sex("X7")
    assert smi_cm2_m2(150.0, 2.0) == pytest.approx(37.5)
