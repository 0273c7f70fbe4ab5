"""Coarse-pixel training copies: the labels follow the gated-area convention, and a config can train on them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sarco_core.phantom import phantom_slice
from sarco_core.segment.model.prep import scaled_shape
from sarco_core.train.coarse import coarse_copy, coarse_labels, draw_coarse_mm
from sarco_core.train.config import load_config
from sarco_core.train.data import prepare
from tests.test_train_ci import write_cfg

GATE = (-29.0, 150.0)


def _gated_cm2(hu: np.ndarray, lab: np.ndarray, px_mm: float) -> float:
    return float(((lab == 1) & (hu >= GATE[0]) & (hu <= GATE[1])).sum() * px_mm * px_mm / 100)


def test_gated_area_is_kept_on_phantoms() -> None:
    for seed in (11, 12):
        ph = phantom_slice(seed, level="L3", pixel_mm=0.8)
        hu, lab = np.asarray(ph.hu, np.float32), np.asarray(ph.labels)
        shape = scaled_shape(hu.shape, 0.8, 0.8, 3.0)
        hc, lc = coarse_labels(hu, lab, shape)
        native = _gated_cm2(hu, lab, 0.8)
        coarse = _gated_cm2(hc, lc, hu.shape[0] * 0.8 / shape[0])
        assert abs(coarse - native) / native < 0.06, (seed, native, coarse)


def test_soft_tissue_partial_volume_is_not_muscle() -> None:
    """A coarse pixel that is 1/4 muscle and 3/4 other soft tissue lies in the HU gate, but is not muscle."""
    hu = np.full((8, 8), 40.0, np.float32)  # all soft tissue, all inside the HU gate
    lab = np.zeros((8, 8), np.uint8)
    lab[:2, :2] = 1  # a quarter of the first 4 x 4 coarse pixel is muscle
    lab[4:, 4:] = 1  # a whole coarse pixel of muscle
    lab[:4, 4:] = 1
    lab[:4, 4] = 0  # three quarters muscle
    _, lc = coarse_labels(hu, lab, (2, 2))
    assert lc.tolist() == [[0, 1], [0, 1]]


def test_fatty_muscle_keeps_a_solid_compartment() -> None:
    """Muscle compartment with intramuscular fat: out of the HU gate on the coarse grid, still muscle."""
    hu = np.full((4, 4), -80.0, np.float32)
    hu[0, 0] = 40.0
    lab = np.ones((4, 4), np.uint8)
    hc, lc = coarse_labels(hu, lab, (1, 1))
    assert hc[0, 0] < GATE[0] and lc[0, 0] == 1


def test_copy_lands_on_the_model_grid_and_draws_are_seeded() -> None:
    ph = phantom_slice(3, level="L1", pixel_mm=0.7)
    hu, lab = np.asarray(ph.hu, np.float32), np.asarray(ph.labels)
    h2, l2 = coarse_copy(hu, lab, 0.7, 0.7, 3.0, 2.0)
    assert l2 is not None and h2.shape == l2.shape
    assert abs(h2.shape[0] - round(512 * 0.7 / 2.0)) <= 1
    assert draw_coarse_mm("phantom:3", 1, (2.4, 3.6)) == draw_coarse_mm("phantom:3", 1, (2.4, 3.6))
    assert 2.4 <= draw_coarse_mm("phantom:4", 1, (2.4, 3.6)) <= 3.6


def test_config_builds_coarse_copies(tmp_path: Path) -> None:
    p = write_cfg(tmp_path, "coarse", tmp_path / "cache")
    d = json.loads(p.read_text())
    d["data"]["coarse_fraction"] = 0.3
    p.write_text(json.dumps(d))
    data = prepare(load_config(p))
    assert len(data.phantom_coarse) == len(data.phantom_train)
    assert all(n.startswith("phantom:") for n in data.phantom_coarse.names)


def test_blur_relabel_follows_the_gated_area_convention() -> None:
    """A blurred training sample (augment's coarse_pixels) relabelled by the convention. A muscle block whose
    compartment has a fatty rim (out of the HU gate when sharp): blurred, the rim mixes with muscle and enters the
    gate, so the fine compartment over-counts; the relabelled mask keeps the sharp gated area. On a phantom at the
    2 mm model grid the relabelled gated area stays within 5 % of the sharp one."""
    from sarco_core.train.augment import blur_relabel, coarse_pixels

    hu = np.full((64, 64), -100.0, np.float32)
    lab = np.full((64, 64), 2, np.uint8)
    lab[16:48, 16:48] = 1  # compartment, with a 4-pixel rim of fat-muscle partial volume (out of the gate)
    hu[16:48, 16:48] = -60.0
    hu[20:44, 20:44] = 40.0  # the muscle itself
    sharp = _gated_cm2(hu, lab, 2.0)
    blurred = coarse_pixels(hu, 2.0)
    relab = blur_relabel(hu, lab, blurred, 2.0)
    assert relab.shape == lab.shape and relab.dtype == np.uint8
    fine_on_blur = _gated_cm2(blurred, lab, 2.0)
    new_on_blur = _gated_cm2(blurred, relab, 2.0)
    assert fine_on_blur > sharp * 1.05, (sharp, fine_on_blur)
    assert abs(new_on_blur - sharp) < 0.5 * abs(fine_on_blur - sharp), (sharp, fine_on_blur, new_on_blur)

    ph = phantom_slice(21, level="L2", pixel_mm=2.0)
    hu, lab = np.asarray(ph.hu, np.float32), np.asarray(ph.labels)
    sharp = _gated_cm2(hu, lab, 2.0)
    blurred = coarse_pixels(hu, 1.8)
    relab = blur_relabel(hu, lab, blurred, 1.8)
    assert set(np.unique(relab)) <= {0, 1, 2, 3}
    assert abs(_gated_cm2(blurred, relab, 2.0) - sharp) / sharp < 0.05


def test_blur_labels_option_changes_only_blurred_labelled_samples() -> None:
    from sarco_core.train.augment import augment
    from sarco_core.train.config import AugmentConfig, TrainConfigError

    ph = phantom_slice(22, level="L3", pixel_mm=2.0)
    hu, lab = np.asarray(ph.hu, np.float32), np.asarray(ph.labels)
    always = dict(blur_prob=1.0, noise_hu=(0.0, 0.0), streak_prob=0.0, fov_crop_prob=0.0)
    fine = augment(hu, lab, np.random.default_rng(3), AugmentConfig(**always), 160)  # type: ignore[arg-type]
    gated = augment(hu, lab, np.random.default_rng(3), AugmentConfig(**always, blur_labels="gated_area"), 160)  # type: ignore[arg-type]
    assert np.array_equal(fine[0], gated[0])  # same image: the option draws nothing extra
    assert fine[1] is not None and gated[1] is not None and not np.array_equal(fine[1], gated[1])
    never = dict(always, blur_prob=0.0)
    a = augment(hu, lab, np.random.default_rng(4), AugmentConfig(**never), 160)  # type: ignore[arg-type]
    b = augment(hu, lab, np.random.default_rng(4), AugmentConfig(**never, blur_labels="gated_area"), 160)  # type: ignore[arg-type]
    assert a[1] is not None and b[1] is not None and np.array_equal(a[1], b[1])
    try:
        AugmentConfig(blur_labels="nearest")
    except TrainConfigError as exc:
        assert "blur_labels" in str(exc)
    else:
        raise AssertionError("an unknown blur_labels value must be refused")
