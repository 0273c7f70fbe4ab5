"""Fine-tuning inputs: the seeded patient split and the training labels of binary references (the training run
itself reuses sarco_core.train.loop, whose resumption is tested in test_train_ci.py)."""

from __future__ import annotations

import numpy as np
import pytest

from sarco_core.train.finetune import FinetuneConfig, FinetuneError, slice_set, split_by_patient
from sarco_core.train.stages import IGNORE
from sarco_core.validate.cases import ReferenceCase


def _cases(n_patients: int, per: int = 2) -> list[ReferenceCase]:
    ref = np.zeros((20, 20), np.uint8)
    ref[5:15, 5:15] = 1
    return [
        ReferenceCase.of(case_id=f"p{p}s{s}", patient_id=f"p{p}", hu=np.full((20, 20), 40.0), reference=ref,
                         spacing_mm=(1.0, 1.0))
        for p in range(n_patients)
        for s in range(per)
    ]


def test_split_is_by_patient_seeded_and_disjoint():
    cases = _cases(10)
    tr, ho = split_by_patient(cases, 0.3, seed=0)
    tp, hp = {c.patient_id for c in tr}, {c.patient_id for c in ho}
    assert not tp & hp and len(hp) == 3 and len(tr) + len(ho) == 20
    tr2, ho2 = split_by_patient(cases, 0.3, seed=0)
    assert [c.case_id for c in ho2] == [c.case_id for c in ho]
    _, ho3 = split_by_patient(cases, 0.3, seed=1)
    assert all(sum(c.patient_id == p for c in ho3) == 2 for p in {c.patient_id for c in ho3})


def test_split_needs_two_patients():
    with pytest.raises(FinetuneError, match=">= 2 patients"):
        split_by_patient(_cases(1), 0.25, seed=0)


def test_binary_reference_labels():
    cases = _cases(1, 1)
    s = slice_set(cases, pixel_mm=2.0)
    lab = s.labels[0]
    assert lab is not None and lab.shape == (10, 10)
    assert set(np.unique(lab)) == {1, IGNORE}  # without a fill: muscle where traced, ignored elsewhere
    # with the base model's labels as fill: its muscle outside the tracing becomes background, SAT/VAT are kept
    s2 = slice_set(cases, pixel_mm=2.0, fill=lambda hu: np.tile(np.array([1, 2, 3, 0], np.uint8), 25).reshape(10, 10))
    lab2 = s2.labels[0]
    assert lab2 is not None
    traced = lab == 1
    assert np.all(lab2[traced] == 1) and set(np.unique(lab2[~traced])) == {0, 2, 3}


def test_config_checks():
    with pytest.raises(FinetuneError, match="multiple"):
        FinetuneConfig(name="x", steps=30, eval_every=20)
    with pytest.raises(FinetuneError, match="heldout_fraction"):
        FinetuneConfig(name="x", heldout_fraction=1.0)
