"""Coarse-pixel training copies: the labels follow the gated-area convention, and a config can train on them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sarco_core.phantom import phantom_slice
from sarco_core.segment.model_prep import scaled_shape
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
