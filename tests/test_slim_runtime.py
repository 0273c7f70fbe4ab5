"""The slim runtime: the app, the CLI and ``sarco analyze`` with the shipped model run with torch unimportable
(ONNX Runtime only), and the ONNX path gives the torch path's numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sarco_core.errors import (
    ModelError,
    OptionalDependencyError,
    StoreError,
    TrainingNotInstalledError,
    require_optional,
    require_training,
)
from sarco_core.segment.base import default_model_dir
from tests.conftest import REPO, data_path


def test_the_shipped_model_has_its_onnx_file() -> None:
    d = default_model_dir()
    assert d is not None
    meta = json.loads((d / "model.onnx.json").read_text())
    cfg = json.loads((d / "config.json").read_text())
    assert meta["weights_sha256"] == cfg["sha256"]
    assert (d / "model.onnx").is_file()
    assert (d / "train.json").is_file()  # the recipe beside the weights


def test_analyze_and_app_run_without_torch() -> None:
    ct = data_path("pydicom", "pancreas_ct_0001_slice122_j2k.dcm")
    env_cmd = [sys.executable, "-m", "tools.slim_check", str(ct), "--block"]
    p = subprocess.run(env_cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["torch_imported"] == []
    # the same slice through the torch path in this process: same SMA
    from sarco_core.io.loader import load
    from sarco_core.segment.model import Segmenter

    d = default_model_dir()
    assert d is not None
    r = Segmenter.from_dir(d, backend="torch").segment(load(ct), [0])[0]
    assert abs(r.extra["areas_cm2"]["sma"] - out["sma_cm2"]) <= 0.001 * out["sma_cm2"]


def test_torch_backend_without_torch_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from sarco_core.segment.model import segmenter

    monkeypatch.setattr(segmenter, "torch_installed", lambda: False)
    d = default_model_dir()
    assert d is not None
    with pytest.raises(ModelError, match="requirements-train.txt"):
        segmenter.Segmenter.from_dir(d, backend="torch")


def test_training_without_torch_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(TrainingNotInstalledError, match="pip install -r requirements-train.txt"):
        require_training("sarco train")


def test_batch_on_dask_without_dask_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sarco_core.batch import BatchOptions, run_batch
    from sarco_core.cli import main

    monkeypatch.setitem(sys.modules, "distributed", None)  # as in the slim runtime (requirements-cluster.txt)
    (tmp_path / "in").mkdir()
    with pytest.raises(OptionalDependencyError, match=r"requirements-cluster\.txt.*--workers 0"):
        run_batch(tmp_path / "in", tmp_path / "r.csv", options=BatchOptions(workers=2))
    with pytest.raises(OptionalDependencyError, match="requirements-cluster.txt"):
        run_batch(tmp_path / "in", tmp_path / "r.csv", options=BatchOptions(workers=0, scheduler="tcp://h:8786"))
    assert not (tmp_path / "r.csv").exists()
    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "r.csv")]) == 2
    assert "pip install -r requirements-cluster.txt" in capsys.readouterr().err
    # in this process, no Dask needed: the run goes on to the cohort (here: an empty folder)
    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "r.csv"), "--workers", "0"]) == 2
    assert "No cases found" in capsys.readouterr().err


def test_postgresql_without_its_driver_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from sarco_core.store.db import make_engine

    monkeypatch.setitem(sys.modules, "psycopg", None)  # as in the slim runtime (requirements-pg.txt)
    with pytest.raises(StoreError, match=r"not installed \(psycopg\).*pip install -r requirements-pg\.txt"):
        make_engine("postgresql://user@localhost/sarco")


def test_require_optional_names_feature_and_command() -> None:
    with pytest.raises(OptionalDependencyError, match=r"Frobbing needs .*'no_such_pkg_x'.*pip install x"):
        require_optional("no_such_pkg_x", feature="Frobbing", install="pip install x")
    require_optional("numpy", feature="Arrays", install="-")  # installed: no error
