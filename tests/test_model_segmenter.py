"""The U-Net Segmenter: loading errors, outputs on the input grid, confidence/QC fields, sarco segment JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import ndimage as ndi

from sarco_core.cli import main
from sarco_core.errors import ModelError
from sarco_core.io.nifti import load_nifti, save_nifti
from sarco_core.segment.model import Segmenter
from sarco_core.segment.model.prep import ArchConfig, build_network
from sarco_core.segment.model.qc import Calibration
from sarco_core.train.config import TrainConfig
from sarco_core.train.export import export_model
from sarco_core.volume import Volume

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SMALL = ArchConfig(decoder_channels=(32, 16, 16, 8))


def make_model_dir(path: Path, arch: ArchConfig = SMALL, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    net = build_network(arch)
    return export_model(
        TrainConfig(name="test-unet", version="0.0.1", arch=arch),
        net,
        path,
        calibration=Calibration(),
        summary={"note": "random weights for tests"},
    )


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model_dir(tmp_path_factory.mktemp("model") / "m")


def phantom(seed: int, pixel_mm: float) -> tuple[np.ndarray, np.ndarray]:
    from sarco_core.phantom.slice import phantom_slice

    p = phantom_slice(seed, pixel_mm=pixel_mm, size=384)
    return np.asarray(p.hu), np.asarray(p.labels)


@pytest.mark.parametrize("pixel_mm", [0.7, 0.9])
def test_outputs_are_on_the_input_grid(model_dir: Path, pixel_mm: float) -> None:
    hu, _ = phantom(3, pixel_mm)
    vol = Volume.from_array(hu=np.stack([hu, hu[:, ::-1]]), spacing_mm=(2.5, pixel_mm, pixel_mm))
    seg = Segmenter.from_dir(model_dir, backend="torch")
    res = seg.segment(vol, [1, 0])
    assert [r.index for r in res] == [1, 0]
    for r in res:
        assert r.labels.shape == hu.shape and r.labels.dtype == np.uint8
        assert set(np.unique(r.labels)) <= {0, 1, 2, 3}
        assert 0.0 <= r.confidence <= 1.0
        assert r.method == "model" and r.model is not None and r.model.sha256 == seg.cfg.sha256
        assert set(r.qc_flags) <= {
            "low_confidence",
            "implausible_area",
            "mask_touches_fov_edge",
            "body_truncated",
            "arms_in_field",
        }
        outside = ~ndi.binary_fill_holes(vol.hu[r.index] > -500)
        assert (r.labels[outside] == 0).mean() > 0.99  # (almost) nothing labelled in the air around the body


def test_truncated_body_is_flagged(model_dir: Path) -> None:
    hu, _ = phantom(5, 0.8)
    cut = hu[:, 60:-60].copy()
    vol = Volume.from_array(hu=cut[None], spacing_mm=(3.0, 0.8, 0.8))
    r = Segmenter.from_dir(model_dir, backend="torch").segment(vol, [0])[0]
    assert "body_truncated" in r.qc_flags


def test_missing_model_folder_and_weights(tmp_path: Path, model_dir: Path) -> None:
    with pytest.raises(ModelError, match=str(tmp_path / "nope")):
        Segmenter.from_dir(tmp_path / "nope")
    d = make_model_dir(tmp_path / "a")
    (d / "model.pt").unlink()
    with pytest.raises(ModelError, match=str(d / "model.pt")):
        Segmenter.from_dir(d)
    d2 = make_model_dir(tmp_path / "b")
    (d2 / "config.json").unlink()
    with pytest.raises(ModelError, match=str(d2 / "config.json")):
        Segmenter.from_dir(d2)


def test_corrupt_weights_and_sha_mismatch(tmp_path: Path) -> None:
    d = make_model_dir(tmp_path / "c")
    w = d / "model.pt"
    data = bytearray(w.read_bytes())
    data[len(data) // 2] ^= 0xFF
    w.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        Segmenter.from_dir(d)
    # garbage whose sha256 is recorded: the file itself cannot be read
    w.write_bytes(b"not a torch file")
    cfg = json.loads((d / "config.json").read_text())
    from sarco_core.segment.model import sha256_file

    cfg["sha256"] = sha256_file(w)
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match=str(w)):
        Segmenter.from_dir(d)
    (d / "config.json").write_text("{broken")
    with pytest.raises(ModelError, match="corrupt"):
        Segmenter.from_dir(d)


def test_weights_of_another_architecture(tmp_path: Path) -> None:
    d = make_model_dir(tmp_path / "d")
    cfg = json.loads((d / "config.json").read_text())
    cfg["architecture"]["decoder_channels"] = [64, 32, 16, 8]
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="architecture"):
        Segmenter.from_dir(d)


def test_cli_segment_json_contract(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SARCO_MODEL_DIR", str(model_dir))
    hu, _ = phantom(7, 0.8)
    vol = Volume.from_array(hu=np.stack([hu, hu]).astype(np.int16), spacing_mm=(3.0, 0.8, 0.8))
    img = save_nifti(vol, vol.hu, tmp_path / "img.nii.gz", dtype=np.int16)
    out = tmp_path / "mask.nii.gz"
    rc = main(["segment", str(img), "--slice", "1", "--out", str(out), "--json"])
    assert rc == 0
    js = json.loads(capsys.readouterr().out)
    assert js["method"] == "model" and js["model"]["name"] == "test-unet"
    (row,) = js["slices"]
    assert row["index"] == 1 and isinstance(row["z_mm"], float)
    assert 0.0 <= row["confidence"] <= 1.0 and isinstance(row["qc_flags"], list)
    assert set(row["areas_cm2"]) == {"sma", "imat", "sat", "vat"}
    m = load_nifti(out, is_mask=True)
    assert m.shape == (2, *hu.shape) and np.abs(m.affine - load_nifti(img).affine).max() < 1e-4
    assert m.hu[0].max() == 0  # only the requested slice is labelled
    rc = main(["segment", str(img), "--slice", "9", "--out", str(out)])
    assert rc == 2


def test_noise_estimate_tracks_added_noise() -> None:
    from sarco_core.segment.model.qc import noise_hu
    from sarco_core.train.augment import add_noise

    hu, _ = phantom(5, 0.8)
    rng = np.random.default_rng(0)
    clean = noise_hu(hu.astype(np.float32), 0.8)
    assert clean is not None and clean < 30
    for sigma in (40.0, 80.0, 150.0):
        est = noise_hu(add_noise(hu.astype(np.float32), sigma, rng), 0.8)
        assert est is not None and abs(est - sigma) < 0.2 * sigma, (sigma, est)
    assert noise_hu(np.full((64, 64), 40.0, np.float32), 0.8) is None  # no fat: nothing to measure


def test_high_noise_is_flagged_and_lowers_confidence(model_dir: Path) -> None:
    from sarco_core.train.augment import add_noise

    hu, _ = phantom(5, 0.8)
    noisy = add_noise(hu.astype(np.float32), 120.0, np.random.default_rng(1))
    vol = Volume.from_array(hu=np.stack([hu, np.round(noisy)]).astype(np.int16), spacing_mm=(2.5, 0.8, 0.8))
    clean_r, noisy_r = Segmenter.from_dir(model_dir, backend="torch").segment(vol, [0, 1])
    assert "high_noise" not in clean_r.qc_flags and "high_noise" in noisy_r.qc_flags
    assert noisy_r.extra["noise_hu"] > 100 > 30 > clean_r.extra["noise_hu"]
