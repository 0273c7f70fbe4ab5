"""Model v2 preparation: the native-pixel-size input channel, reference labels, leave-one-patient-out folds."""

from __future__ import annotations

import numpy as np
import pytest

from sarco_core.segment.model.prep import PIXEL_CHANNEL_SCALE_MM, ArchConfig, input_channels, windows_to_channels
from sarco_core.train.augment import augment, augment_sample
from sarco_core.train.config import AugmentConfig, load_config
from sarco_core.train.data import SliceSet, with_reference_muscle
from sarco_core.train.lopo import RefSlice, fold_config, folds, patient_of


def test_pixel_channel_is_a_constant_native_size_channel() -> None:
    hu = np.linspace(-300, 400, 2 * 16 * 16, dtype=np.float32).reshape(2, 1, 16, 16)
    v1 = ArchConfig()
    assert v1.in_channels == 3
    assert np.array_equal(input_channels(hu, v1, 0.7), windows_to_channels(hu, v1.windows_hu))
    v2 = ArchConfig(pixel_size_mm=1.25, pixel_channel=True)
    assert v2.in_channels == 4
    x = input_channels(hu, v2, [0.7, 3.0])
    assert x.shape == (2, 4, 16, 16) and x.dtype == np.float32
    assert np.array_equal(x[:, :3], windows_to_channels(hu, v2.windows_hu))
    assert np.allclose(x[0, 3], 0.7 / PIXEL_CHANNEL_SCALE_MM)
    assert np.allclose(x[1, 3], 3.0 / PIXEL_CHANNEL_SCALE_MM)
    assert np.allclose(input_channels(hu, v2)[:, 3], 1.25 / PIXEL_CHANNEL_SCALE_MM)
    with pytest.raises(ValueError):
        input_channels(hu, v2, [1.0, 2.0, 3.0])


def test_arch_config_round_trip_keeps_v1_configs_unchanged() -> None:
    assert "pixel_channel" not in ArchConfig().to_dict()
    v2 = ArchConfig(pixel_size_mm=1.25, pixel_channel=True)
    assert ArchConfig.from_dict(v2.to_dict()) == v2


def test_v2_config_is_on_a_fine_grid_with_the_pixel_channel() -> None:
    cfg = load_config("models/sarco-unet-v2/train.json")
    assert cfg.arch.pixel_size_mm <= 1.25 and cfg.arch.pixel_channel and cfg.arch.in_channels == 4
    assert cfg.data.reference_dir and cfg.device == "auto"
    assert "totalsegmentator" in cfg.data.real_exclude


def test_augment_sample_reports_the_blur_with_the_same_draws() -> None:
    rng_hu = np.random.default_rng(0).normal(0, 50, (96, 96)).astype(np.float32)
    lab = (rng_hu > 0).astype(np.uint8)
    cfg = AugmentConfig(blur_prob=1.0)
    a = augment(rng_hu, lab, np.random.default_rng(5), cfg, 64)
    s = augment_sample(rng_hu, lab, np.random.default_rng(5), cfg, 64)
    assert np.array_equal(a[0], s.hu) and s.labels is not None and np.array_equal(a[1], s.labels)
    assert cfg.blur_factor[0] <= s.blur_factor <= cfg.blur_factor[1]
    none = augment_sample(rng_hu, lab, np.random.default_rng(5), AugmentConfig(blur_prob=0.0), 64)
    assert none.blur_factor == 1.0


def test_slice_set_records_the_native_pixel_size(tmp_path) -> None:
    s = SliceSet()
    s.add(np.zeros((8, 8)), None, "a", 1.0, native_mm=0.7)
    s.add(np.zeros((8, 8)), None, "b")
    assert s.native(0, 1.25) == 0.7 and s.native(1, 1.25) == 1.25
    s.save(tmp_path / "s.npz")
    t = SliceSet.load(tmp_path / "s.npz")
    assert t.native_mm == [0.7, 0.0]


def test_reference_muscle_replaces_the_teacher_muscle_only() -> None:
    teacher = np.array([[1, 1, 2], [3, 0, 1]], np.uint8)
    ref = np.array([[True, False, False], [False, True, True]])
    out = with_reference_muscle(teacher, ref)
    assert out.tolist() == [[1, 0, 2], [3, 1, 1]]
    assert with_reference_muscle(None, ref).tolist() == ref.astype(np.uint8).tolist()


def test_lopo_folds_group_by_patient_and_exclude_the_test_patient(tmp_path) -> None:
    assert patient_of("tcia_covid19_ny_sbu/A058062/axial/19001231-084.dcm") == "A058062"
    assert patient_of("tcia_lung_pet_ct_dx/Lung_Dx-A0001") == "Lung_Dx-A0001"
    assert patient_of("pydicom/pancreas_ct_0001_slice122_j2k.dcm") == "pancreas_ct_0001_slice122_j2k"
    refs = [
        RefSlice("a", "tcia_covid19_ny_sbu/A1/axial/x.dcm", 0, tmp_path / "a.png"),
        RefSlice("b", "tcia_covid19_ny_sbu/A1/axial/y.dcm", 0, tmp_path / "b.png"),
        RefSlice("c", "pydicom/p.dcm", 0, tmp_path / "c.png"),
    ]
    f = folds(refs)
    assert {k: [r.name for r in v] for k, v in f.items()} == {"A1": ["a", "b"], "p": ["c"]}
    cfg = fold_config(load_config("models/sarco-unet-v2/train.json"), "A1", tmp_path)
    assert cfg.data.exclude_patients[-1] == "A1" and cfg.run_dir.endswith("fold-A1")
