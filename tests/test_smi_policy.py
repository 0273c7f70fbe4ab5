"""One SMI and one empty-mask policy everywhere: on a slice with no muscle the CLI JSON, the cohort table, the
report and the app all say "no muscle measured" (no SMI, never "low"), where three of them used to compute SMI 0
and call it low."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from sarco_core import cutoffs
from sarco_core.analyze import analyze
from sarco_core.export.report import classification_lines
from sarco_core.segment.base import SegmentationResult
from sarco_core.volume import Volume
from tests.l3_synth import synth_spine


class _Empty:
    method = "empty"
    model = None

    def segment(self, volume: Volume, indices):  # noqa: ANN001, ANN201
        shape = volume.hu.shape[1:]
        return [SegmentationResult(int(i), np.zeros(shape, np.uint8), 0.9, (), self.method) for i in indices]


def test_assess_on_an_empty_mask_is_no_muscle_measured() -> None:
    a = cutoffs.assess(sma_cm2=0.0, muscle_hu=None, sex="F", height_m=1.7, weight_kg=70.0)
    assert a.smi_cm2_m2 is None
    assert a.classification.low_smi.value is None
    assert "no muscle measured" in a.classification.low_smi.note
    assert cutoffs.smi_cm2_m2(0.0, 1.7) is None
    assert cutoffs.smi_cm2_m2(50.0, 2.0) == pytest.approx(12.5)
    # a real measurement is classified as before
    low = cutoffs.assess(sma_cm2=80.0, muscle_hu=30.0, sex="F", height_m=1.7, weight_kg=70.0)
    assert low.smi_cm2_m2 == pytest.approx(80.0 / 1.7**2)
    assert low.classification.low_smi.value is True


def test_every_consumer_says_no_muscle_measured_on_an_empty_mask() -> None:
    res = analyze(synth_spine().volume, height_m=1.7, weight_kg=70, sex="F", segmenter=_Empty())
    d = res.to_dict()
    assert d["sma_cm2"] == 0.0
    assert d["smi_cm2_m2"] is None and res.smi_cm2_m2 is None
    assert d["classification"]["low_smi"]["value"] is None
    assert "no muscle measured" in d["classification"]["low_smi"]["note"]
    case = SimpleNamespace(height_m=1.7, weight_kg=70.0, sex="F")
    lines = classification_lines(case, None, SimpleNamespace(sma_cm2=0.0, muscle_hu_mean=None))  # type: ignore[arg-type]
    assert any("no muscle measured" in line for line in lines)
    assert not any(line.startswith("LOW SMI") for line in lines)
    from ui.result_card import classify_version

    cls = classify_version(case, SimpleNamespace(sma_cm2=0.0, muscle_hu_mean=None), None)
    assert cls.low_smi.value is None and "no muscle measured" in cls.low_smi.note
