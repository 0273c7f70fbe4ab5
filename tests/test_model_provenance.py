"""The store records which model produced each analysis (model name / version / sha256 of the analysis; a mask
version points at its analysis), and a registry promotion changes what is recorded for the very next analysis
in the same process (the pipeline's segmenter cache is keyed by the active model's folder)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from sarco_core.analyze import analyze
from sarco_core.model_registry import HeldOutScores, Registry
from sarco_core.phantom.volume import phantom_volume
from sarco_core.segment.model import ModelConfig
from sarco_core.store import Store


def _child_model(tmp: Path, shipped: Path) -> Path:
    """A registry candidate: the shipped weights under a new name and version (as `sarco finetune` writes)."""
    d = tmp / "out" / "site-child"
    shutil.copytree(shipped, d, ignore=shutil.ignore_patterns("*.md", "train.json"))
    conf = json.loads((d / "config.json").read_text())
    conf.update(name="site-child", version="1.2.0-site.1")
    (d / "config.json").write_text(json.dumps(conf, indent=2))
    return d


def _analyse_and_store(store: Store, label: str) -> int:
    pv = phantom_volume(seed=3, size=64, pixel_mm=6.0)
    res = analyze(pv.volume, height_m=1.7, weight_kg=70.0, sex="F")
    case = store.create_case(
        pv.volume,
        analysis=res,
        labels=np.asarray(res.labels),
        slice_index=res.l3.index,
        actor="model",
        label=label,
    )
    return case.id


def test_promotion_changes_the_model_recorded_for_the_next_analysis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SARCO_MODEL_DIR", raising=False)
    monkeypatch.setenv("SARCO_MODELS_HOME", str(tmp_path / "registry"))
    reg = Registry.load()
    shipped = reg.active
    assert shipped is not None
    base = ModelConfig.load(Path(shipped.path) / "config.json")
    store = Store.open()

    before = store.get_case(_analyse_and_store(store, "before")).latest_analysis
    assert before is not None and before.method == "model"
    assert (before.model_name, before.model_version, before.model_sha256) == (base.name, base.version, base.sha256)

    child = _child_model(tmp_path, Path(shipped.path))
    reg = reg.register(
        child,
        parent=shipped.name,
        child_scores=HeldOutScores(5, 0.95, 4.0),
        parent_scores=HeldOutScores(5, 0.90, 8.0),
    )
    reg.promote("site-child")

    cid = _analyse_and_store(store, "after")
    after = store.get_case(cid).latest_analysis
    assert after is not None
    assert (after.model_name, after.model_version) == ("site-child", "1.2.0-site.1")
    assert after.model_sha256 == base.sha256  # same weights in this test; the name and version tell them apart
    # the automatic mask version and a labeller's edit of it both point at that analysis
    v1 = store.latest_version(cid)
    edit = store.save_version(cid, store.get_mask(v1.id), parent_version_id=v1.id, author="labeller")
    for v in (v1, edit):
        assert v.analysis_id is not None and store.get_analysis(v.analysis_id).model_name == "site-child"

    Registry.load().rollback()
    again = store.get_case(_analyse_and_store(store, "rolled-back")).latest_analysis
    assert again is not None and again.model_name == base.name


def test_batch_worker_cache_follows_the_active_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from sarco_core.batch.worker import cached_segmenter
    from sarco_core.segment.base import default_model_dir

    shipped = default_model_dir()
    assert shipped is not None
    monkeypatch.setenv("SARCO_MODEL_DIR", str(shipped))
    first = cached_segmenter(None, 1)
    assert cached_segmenter(None, 1) is first  # loaded once per process and model
    monkeypatch.setenv("SARCO_MODEL_DIR", str(_child_model(tmp_path, shipped)))
    second = cached_segmenter(None, 1)
    assert second is not first and second.model.name == "site-child"
