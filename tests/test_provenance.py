"""Provenance is read from an analysis by its schema (one converter for the analysis JSON of any schema version,
one for the documented flat form), never searched for alternative key names."""

from __future__ import annotations

import pytest

from sarco_core.analyze import analyze
from sarco_core.segment.threshold import ThresholdSegmenter
from sarco_core.store.provenance import extract, is_analysis_record
from tests.l3_synth import synth_spine


@pytest.fixture(scope="module")
def record() -> dict:
    res = analyze(synth_spine().volume, height_m=1.7, sex="F", rule="martin2013", segmenter=ThresholdSegmenter())
    return res.to_dict()


def test_analysis_json_of_both_schema_versions(record: dict) -> None:
    assert record["schema_version"] == 2
    p = extract(record)
    old = {k: v for k, v in record.items() if k != "schema_version"}  # schema 1: the same JSON without the key
    assert is_analysis_record(old) and extract(old) == p
    assert p.method == "threshold" and p.rule == "martin2013"
    assert p.input_sha256 == record["input"]["sha256"]
    assert p.l3_auto_index == record["l3"]["auto_index"] and p.l3_overridden is False
    assert p.gates.muscle == (-29.0, 150.0)


def test_flat_form() -> None:
    p = extract(
        {
            "method": "teacher",
            "model": {"name": "t", "version": "1", "sha256": "ab"},
            "rule": "martin2013",
            "confidence": 0.4,
            "qc_flags": ["low_confidence"],
            "l3": {"auto_index": 3, "overridden": False},
        }
    )
    assert (p.method, p.model_name, p.rule, p.confidence, p.qc_flags) == (
        "teacher",
        "t",
        "martin2013",
        0.4,
        ("low_confidence",),
    )
    assert p.l3_auto_index == 3


def test_alternative_key_names_are_not_guessed(record: dict) -> None:
    # a "rule" nested somewhere unexpected is not picked up any more (it used to be found breadth-first)
    odd = {"segmentation": {"method": "model"}, "extra": {"cutoff_rule": "baracos2013", "rule_key": "x"}}
    assert extract(odd).rule is None
