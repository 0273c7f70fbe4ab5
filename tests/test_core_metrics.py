"""Measurements: exact areas for anisotropic pixels, HU gates, label maps, Dice and empty-mask policy."""

from __future__ import annotations

import numpy as np
import pytest

from sarco_core.errors import GridMismatchError, InvalidMaskError, NotHUError
from sarco_core.metrics import (
    HUGates,
    area_error_pct,
    dice,
    gated_dice,
    mask_kind,
    measure_slice,
    measure_volume,
)
from sarco_core.volume import Volume


def _slice() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    hu = rng.integers(-300, 300, size=(40, 50)).astype(np.int16)
    labels = rng.integers(0, 4, size=(40, 50)).astype(np.uint8)
    return hu, labels


def test_areas_exact_for_anisotropic_pixels() -> None:
    hu, labels = _slice()
    m = measure_slice(hu, labels, row_mm=0.7, col_mm=0.9)
    px_cm2 = 0.7 * 0.9 / 100
    sma = ((labels == 1) & (hu >= -29) & (hu <= 150)).sum()
    imat = ((labels == 1) & (hu >= -190) & (hu <= -30)).sum()
    sat = ((labels == 2) & (hu >= -190) & (hu <= -30)).sum()
    vat = ((labels == 3) & (hu >= -150) & (hu <= -50)).sum()
    assert m.sma_cm2 == pytest.approx(sma * px_cm2, rel=1e-12)
    assert m.imat_cm2 == pytest.approx(imat * px_cm2, rel=1e-12)
    assert m.sat_cm2 == pytest.approx(sat * px_cm2, rel=1e-12)
    assert m.vat_cm2 == pytest.approx(vat * px_cm2, rel=1e-12)
    gate = (labels == 1) & (hu >= -29) & (hu <= 150)
    assert m.muscle_hu_mean == pytest.approx(hu[gate].mean())


def test_gate_bounds_are_inclusive_and_configurable() -> None:
    hu = np.array([[-30, -29, 150, 151]], dtype=np.int16)
    mask = np.ones_like(hu, dtype=np.uint8)
    m = measure_slice(hu, mask, row_mm=1.0, col_mm=1.0)
    assert m.sma_cm2 == pytest.approx(0.02)
    assert m.imat_cm2 == pytest.approx(0.01)
    m2 = measure_slice(hu, mask, row_mm=1.0, col_mm=1.0, gates=HUGates(muscle=(-30.0, 151.0)))
    assert m2.sma_cm2 == pytest.approx(0.04)


def test_binary_mask_has_no_fat_areas() -> None:
    hu, labels = _slice()
    m = measure_slice(hu, (labels > 0).astype(np.uint8), row_mm=1, col_mm=1)
    assert m.sat_cm2 is None and m.vat_cm2 is None
    assert mask_kind(labels) == "labels"
    assert mask_kind(labels > 0) == "binary"


def test_bad_mask_values_refused() -> None:
    hu, _ = _slice()
    with pytest.raises(InvalidMaskError, match="expected 0/1"):
        measure_slice(hu, np.full(hu.shape, 7), row_mm=1, col_mm=1)
    with pytest.raises(InvalidMaskError, match="non-integer"):
        measure_slice(hu, np.full(hu.shape, 0.5), row_mm=1, col_mm=1)
    with pytest.raises(GridMismatchError):
        measure_slice(hu, np.zeros((3, 3)), row_mm=1, col_mm=1)


def test_measure_volume_selects_slices_with_muscle_and_refuses_non_hu() -> None:
    hu = np.zeros((4, 10, 10), dtype=np.int16) + 40
    mask = np.zeros_like(hu, dtype=np.uint8)
    mask[1, 2:5, 2:6] = 1
    mask[3, 0, 0] = 1
    vol = Volume.from_array(hu=hu, spacing_mm=(2.5, 0.7, 0.9))
    rows = measure_volume(vol, mask)
    assert [r.index for r in rows] == [1, 3]
    assert rows[0].sma_cm2 == pytest.approx(12 * 0.63 / 100)
    assert rows[0].z_mm == pytest.approx(2.5)
    non_hu = Volume.from_array(hu=hu, spacing_mm=(2.5, 0.7, 0.9), is_hu=False)
    with pytest.raises(NotHUError, match="Hounsfield"):
        measure_volume(non_hu, mask)


def test_dice_and_area_error_policies() -> None:
    a = np.zeros((5, 5), bool)
    b = np.zeros((5, 5), bool)
    assert dice(a, b) == 1.0
    b[0, 0] = True
    assert dice(a, b) == 0.0
    a[0, :2] = True
    assert dice(a, b) == pytest.approx(2 / 3)
    assert area_error_pct(0, 0) == 0.0
    assert area_error_pct(0, 1) is None
    assert area_error_pct(100, 95) == pytest.approx(-5)
    hu = np.array([[0, 500]])
    assert gated_dice(hu, np.array([[1, 1]]), np.array([[1, 0]])) == 1.0


def test_gated_scores_are_gated_dice_and_the_gated_area_error() -> None:
    from sarco_core.metrics import gated_scores

    hu = np.array([[40, 40, 40, 500, -100]])
    truth = np.array([[1, 1, 0, 1, 1]], bool)  # gated: 2 pixels
    pred = np.array([[1, 1, 1, 1, 0]], bool)  # gated: 3 pixels
    d, err = gated_scores(hu, truth, pred, px_cm2=0.5)
    assert d == pytest.approx(gated_dice(hu, truth, pred)) and d == pytest.approx(0.8)
    assert err == pytest.approx(50.0)  # 1.5 cm² against 1.0 cm²
    assert gated_scores(hu, np.zeros_like(truth), pred, 0.5)[1] is None  # no reference muscle
