"""ONNX Runtime vs torch on real slices: probabilities within 1e-3, muscle masks Dice > 0.99.

Uses the shipped model when one is installed (its model.onnx, or a fresh export in a temporary copy), else a
small randomly initialised model (the export path is the same)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from sarco_core.io.loader import load
from sarco_core.metrics import dice
from sarco_core.segment.base import default_model_dir
from sarco_core.segment.model import Segmenter
from sarco_core.train.export import export_onnx
from tests.conftest import data_path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def onnx_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("onnx")
    shipped = default_model_dir()
    if shipped is not None and (shipped / "config.json").is_file():
        d = tmp / shipped.name
        shutil.copytree(shipped, d)
    else:
        from tests.test_model_segmenter import make_model_dir

        d = make_model_dir(tmp / "random")
    export_onnx(d)
    return d


def test_export_records_the_onnx_file(onnx_model_dir: Path) -> None:
    seg = Segmenter.from_dir(onnx_model_dir, backend="onnx")
    assert seg.backend == "onnx"
    meta = json.loads((onnx_model_dir / "model.onnx.json").read_text())
    assert meta["weights_sha256"] == seg.cfg.sha256
    assert "onnx" not in json.loads((onnx_model_dir / "config.json").read_text())


def test_onnx_matches_torch_on_real_slices(onnx_model_dir: Path) -> None:
    files = [
        data_path("tcia_covid19_ny_sbu", "A027284", "axial"),
        data_path("pydicom", "pancreas_ct_0001_slice122_j2k.dcm"),
    ]
    t = Segmenter.from_dir(onnx_model_dir, backend="torch")
    o = Segmenter.from_dir(onnx_model_dir, backend="onnx")
    n = 0
    for f in files:
        paths = sorted(f.glob("*.dcm")) if f.is_dir() else [f]
        for p in paths:
            vol = load(p)
            sp = vol.spacing_mm
            hu = np.asarray(vol.hu, np.float32)
            _, pt, _, _ = t.predict(hu, sp.row, sp.col)
            _, po, _, _ = o.predict(hu, sp.row, sp.col)
            assert float(np.abs(pt - po).max()) < 1e-3
            rt = t.segment(vol, [0])[0]
            ro = o.segment(vol, [0])[0]
            assert dice(rt.labels == 1, ro.labels == 1) > 0.99
            assert abs(rt.confidence - ro.confidence) < 0.02
            n += 1
    assert n >= 3
