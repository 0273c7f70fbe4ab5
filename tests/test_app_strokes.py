"""Canvas strokes -> mask conversion (ui.strokes): exact pixel mapping, add/erase, HU gating, undo/redo."""

from __future__ import annotations

import numpy as np
import pytest

from sarco_core.metrics import measure_slice
from ui.strokes import EditHistory, apply_strokes, disk_stroke, strokes_to_pixels


def test_integer_zoom_maps_blocks_to_pixels() -> None:
    rgba = np.zeros((40, 60, 4), np.uint8)  # 2x zoom of a 20 x 30 image
    rgba[10:14, 20:26, 3] = 255  # image rows 5..6, cols 10..12
    px = strokes_to_pixels(rgba, (20, 30))
    expected = np.zeros((20, 30), bool)
    expected[5:7, 10:13] = True
    assert np.array_equal(px, expected)


def test_non_integer_zoom_samples_pixel_centres() -> None:
    rows, cols = 7, 5
    h, w = 17, 13  # arbitrary canvas size (e.g. fit-to-width, device pixel ratio)
    rgba = np.zeros((h, w, 4), np.uint8)
    r, c = 3, 2
    y = int((r + 0.5) * h / rows)
    x = int((c + 0.5) * w / cols)
    rgba[y, x, 3] = 200
    px = strokes_to_pixels(rgba, (rows, cols))
    assert px.sum() == 1 and px[r, c]


def test_alpha_threshold() -> None:
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[0, 0, 3] = 127
    rgba[1, 1, 3] = 128
    px = strokes_to_pixels(rgba, (4, 4))
    assert not px[0, 0] and px[1, 1]


def _slice(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    hu = rng.integers(-200, 200, size=(32, 32)).astype(np.int16)
    mask = np.zeros((32, 32), np.uint8)
    mask[8:20, 8:20] = 1
    mask[0:4, :] = 2
    return hu, mask


@pytest.mark.parametrize("row_mm,col_mm", [(0.7, 0.9), (1.0, 1.0)])
def test_add_changes_sma_by_gated_pixels(row_mm: float, col_mm: float) -> None:
    hu, mask = _slice(np.random.default_rng(1))
    rgba = disk_stroke((96, 96), (60.0, 60.0), 14.0)  # 3x zoom
    new = apply_strokes(mask, rgba, "add", 1)
    painted = strokes_to_pixels(rgba, mask.shape)
    added = painted & (mask != 1)
    gated_added = int((added & (hu >= -29) & (hu <= 150)).sum())
    assert gated_added > 0
    before = measure_slice(hu, mask, row_mm=row_mm, col_mm=col_mm, kind="labels").sma_cm2
    after = measure_slice(hu, new, row_mm=row_mm, col_mm=col_mm, kind="labels").sma_cm2
    assert after - before == pytest.approx(gated_added * row_mm * col_mm / 100.0, abs=1e-9)
    assert np.all(new[painted] == 1)
    assert np.array_equal(new[~painted], mask[~painted])


def test_erase_removes_only_the_chosen_tissue() -> None:
    hu, mask = _slice(np.random.default_rng(2))
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[0:30, 0:30, 3] = 255  # covers SAT rows 0..3 and part of the muscle block (image rows/cols 0..14)
    new = apply_strokes(mask, rgba, "erase", 1)
    painted = strokes_to_pixels(rgba, mask.shape)
    removed = painted & (mask == 1)
    assert removed.sum() > 0
    assert np.all(new[removed] == 0)
    assert np.array_equal(new[mask == 2], mask[mask == 2])  # SAT untouched
    gated_removed = int((removed & (hu >= -29) & (hu <= 150)).sum())
    before = measure_slice(hu, mask, row_mm=0.8, col_mm=0.8, kind="labels").sma_cm2
    after = measure_slice(hu, new, row_mm=0.8, col_mm=0.8, kind="labels").sma_cm2
    assert before - after == pytest.approx(gated_removed * 0.64 / 100.0, abs=1e-9)


def test_smart_brush_only_changes_pixels_in_gate() -> None:
    hu, mask = _slice(np.random.default_rng(3))
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[20:32, 20:32, 3] = 255
    new = apply_strokes(mask, rgba, "add", 1, hu=hu, gate=(-29, 150))
    changed = new != mask
    assert changed.any()
    assert np.all((hu[changed] >= -29) & (hu[changed] <= 150))
    outside = (hu < -29) | (hu > 150)
    assert not np.any(changed & outside)


def test_mode_is_checked_and_input_unchanged() -> None:
    mask = np.zeros((4, 4), np.uint8)
    rgba = np.full((4, 4, 4), 255, np.uint8)
    with pytest.raises(ValueError):
        apply_strokes(mask, rgba, "paint", 1)  # type: ignore[arg-type]
    apply_strokes(mask, rgba, "add", 1)
    assert not mask.any()


def test_history_undo_redo_reset() -> None:
    a = np.zeros((3, 3), np.uint8)
    b = a.copy()
    b[0, 0] = 1
    c = b.copy()
    c[1, 1] = 1
    h = EditHistory(a)
    assert not h.can_undo() and not h.dirty
    h.push(b)
    h.push(b)  # no-op
    h.push(c)
    assert len(h.stack) == 3 and h.dirty
    assert np.array_equal(h.undo(), b)
    assert np.array_equal(h.undo(), a) and not h.can_undo()
    assert np.array_equal(h.redo(), b)
    h.push(a)  # a new edit drops the redo branch
    assert not h.can_redo()
    h.reset(c)
    assert np.array_equal(h.current, c)
    assert np.array_equal(h.undo(), a)
