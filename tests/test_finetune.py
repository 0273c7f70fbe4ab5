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
        ReferenceCase.of(
            case_id=f"p{p}s{s}", patient_id=f"p{p}", hu=np.full((20, 20), 40.0), reference=ref, spacing_mm=(1.0, 1.0)
        )
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
    with pytest.raises(FinetuneError, match="replay_fraction"):
        FinetuneConfig(name="x", replay_fraction=1.0)


def test_replay_needs_label_map_cases(tmp_path):
    from sarco_core.train.finetune import finetune

    cfg = FinetuneConfig(name="x", steps=1, eval_every=1, replay_fraction=0.5)
    with pytest.raises(FinetuneError, match="no replay cases"):
        finetune(_cases(2), base_dir=tmp_path, out_dir=tmp_path / "o", cfg=cfg)
    with pytest.raises(FinetuneError, match="label maps"):
        finetune(_cases(2), base_dir=tmp_path, out_dir=tmp_path / "o", cfg=cfg, replay=_cases(1, 1))


def test_replay_share_of_batches():
    """A replay_fraction share of the samples comes from the replay pool (the batch function's phantom pool)."""
    from sarco_core.segment.base import default_model_dir
    from sarco_core.segment.model import ModelConfig
    from sarco_core.train import stages
    from sarco_core.train.config import AugmentConfig

    base = default_model_dir()
    assert base is not None
    arch = ModelConfig.load(base / "config.json").arch
    site, rp = slice_set(_disc_cases(2), pixel_mm=2.0), slice_set(_disc_cases(2), pixel_mm=2.0)
    for pool, mark in ((site, 1), (rp, 3)):  # mark the pools: every site label muscle, every replay label VAT
        pool.labels[:] = [np.full_like(lab, mark) for lab in pool.labels if lab is not None]
    fn = stages.seg_batch_fn(rp, site, arch, AugmentConfig(), 200, 16, 1.0 - 0.5)
    _, y = fn(np.random.default_rng(0))
    flat = y.reshape(200, -1)
    from_replay = (flat == 3).any(1)
    assert not ((flat == 1).any(1) & from_replay).any()
    from_replay = from_replay.float().mean().item()
    assert 0.4 < from_replay < 0.6


def _disc_cases(n: int) -> list[ReferenceCase]:
    """Tiny 2 mm slices: a fat disc (SAT) with a muscle ring inside and VAT in the middle."""
    yy, xx = np.mgrid[:48, :48]
    r = np.hypot(yy - 24, xx - 24)
    out = []
    for i in range(n):
        hu = np.full((48, 48), -1000.0, np.float32)
        lab = np.zeros((48, 48), np.uint8)
        hu[r < 20] = -100.0
        lab[r < 20] = 2
        ring = (r < 16 - i % 2) & (r >= 11)
        hu[ring], lab[ring] = 45.0, 1
        hu[r < 11], lab[r < 11] = -90.0, 3
        out.append(ReferenceCase.of(case_id=f"d{i}", hu=hu, reference=lab, spacing_mm=(2.0, 2.0), patient_id=f"p{i}"))
    return out


@pytest.mark.slow  # ~40 s on the shared 2-core box: two tiny runs, each with calibration, ONNX export, scoring
def test_finetune_end_to_end_writes_lineage_onnx_and_heldout_scores(tmp_path, monkeypatch):
    import json

    from sarco_core.model_registry import HeldOutScores
    from sarco_core.segment.base import default_model_dir
    from sarco_core.train.finetune import finetune

    monkeypatch.delenv("SARCO_MODEL_DIR", raising=False)
    base = default_model_dir()
    assert base is not None
    cfg = FinetuneConfig(name="tiny-site", steps=2, eval_every=1, patience=5, batch=1, crop_px=32)
    out = tmp_path / "tiny-site"
    res = finetune(_disc_cases(4), base_dir=base, out_dir=out, cfg=cfg)
    conf = json.loads((out / "config.json").read_text())
    assert conf["parent"]["name"] == "sarco-unet-v1" and conf["training_data"]["train_patients"] == 3
    assert (out / "model.onnx").is_file() and "fine-tuned from sarco-unet-v1" in (out / "CHANGELOG.md").read_text()
    h = json.loads(res.heldout_json.read_text())
    assert HeldOutScores.from_dict(h["child"]).n_cases == HeldOutScores.from_dict(h["parent"]).n_cases == 1
    assert [s for s, _ in res.evals] == [0, 1, 2]
    # resuming a finished run reloads every chunk instead of training again: the same weights
    again = finetune(_disc_cases(4), base_dir=base, out_dir=out, cfg=cfg, resume=True)
    conf2 = json.loads((again.model_dir / "config.json").read_text())
    assert conf2["sha256"] == conf["sha256"] and again.evals == res.evals
