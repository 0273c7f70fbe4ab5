"""Tiny-config training: it runs, the loss falls, a resumed run reproduces the uninterrupted one exactly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from sarco_core.errors import SarcoError
from sarco_core.train.config import load_config
from sarco_core.train.loop import Interrupted
from sarco_core.train.run import train

REPO = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def write_cfg(tmp: Path, run: str, cache: Path, **over: object) -> Path:
    d = json.loads((REPO / "configs" / "train_ci.json").read_text())
    d["run_dir"] = str(tmp / run)
    d["cache_dir"] = str(cache)
    d.update(over)
    p = tmp / f"{run}.json"
    p.write_text(json.dumps(d))
    return p


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("train_ci")
    cache = tmp / "cache"
    cfg_path = write_cfg(tmp, "full", cache)
    out = train(load_config(cfg_path))
    return tmp, out


def test_ci_training_exports_a_model_and_loss_falls(ci_run: tuple[Path, Path]) -> None:
    tmp, out = ci_run
    assert (out / "model.pt").is_file() and (out / "config.json").is_file()
    conf = json.loads((out / "config.json").read_text())
    assert conf["architecture"]["encoder_weights"] is None
    assert conf["training"]["data"]["validation_patient_used"] is False
    ck = torch.load(tmp / "full" / "ckpt_supervised.pt", weights_only=False)
    losses = ck["losses"]
    assert len(losses) == 6
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3
    assert (tmp / "full" / "train.log").read_text().count("[supervised] step") >= 2


def test_resume_reproduces_the_uninterrupted_run(ci_run: tuple[Path, Path]) -> None:
    tmp, _ = ci_run
    cfg_path = write_cfg(tmp, "resumed", tmp / "cache")
    cfg = load_config(cfg_path)
    with pytest.raises(Interrupted):
        train(cfg, stop_after=5)  # ssl has 2 steps: stops inside the supervised stage at its step 3
    ck = torch.load(tmp / "resumed" / "ckpt_supervised.pt", weights_only=False)
    assert ck["step"] == 3
    train(cfg, resume=True)
    a = torch.load(tmp / "full" / "supervised_final.pt", weights_only=True)
    b = torch.load(tmp / "resumed" / "supervised_final.pt", weights_only=True)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_config_refuses_the_validation_patient(tmp_path: Path) -> None:
    cfg_path = write_cfg(tmp_path, "bad", tmp_path / "cache", shared_data=str(tmp_path))
    (tmp_path / "totalsegmentator").mkdir()
    (tmp_path / "totalsegmentator" / "x.nii.gz").write_bytes(b"")
    d = json.loads(cfg_path.read_text())
    d["data"]["real_globs"] = ["totalsegmentator/*.nii.gz"]
    cfg_path.write_text(json.dumps(d))
    from sarco_core.train.data import real_sources

    with pytest.raises(SarcoError, match="validation patient"):
        real_sources(load_config(cfg_path))


def test_unknown_config_key_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"supervised": {"stepz": 3}}))
    with pytest.raises(SarcoError, match="stepz"):
        load_config(p)
