"""Display helpers (ui.render): windowing, HU-gated overlays, true aspect of axial and reformatted images."""

from __future__ import annotations

import numpy as np

from ui.render import TISSUES, WINDOW_PRESETS, AxialView, Level, axial_image, overlay, reformat_image, window


def test_window_maps_level_and_edges() -> None:
    hu = np.array([[-160.0, 40.0, 240.0, 1000.0]])
    g = window(hu, 400, 40)
    assert g.tolist() == [[0, 128, 255, 255]]
    assert WINDOW_PRESETS["Lung (W1500 / L-600)"] == (1500.0, -600.0)


def test_overlay_gated_pixels_strong_rest_faint() -> None:
    grey = np.zeros((1, 3), np.uint8)
    labels = np.array([[1, 1, 0]], np.uint8)
    hu = np.array([[50.0, -100.0, 50.0]])  # muscle in gate, muscle label on fat, background
    rgb = overlay(grey, labels, opacity=0.5, hu=hu, faint=0.3)
    red = TISSUES[1][1][0]
    assert rgb[0, 0, 0] == int(0.5 * red + 0.5)
    assert rgb[0, 1, 0] == int(0.15 * red + 0.5)
    assert rgb[0, 2].tolist() == [0, 0, 0]


def test_axial_image_keeps_physical_aspect() -> None:
    hu = np.zeros((40, 80))
    img = axial_image(hu, None, row_mm=1.0, col_mm=0.5, view=AxialView(display_px=400, markers=False))
    assert img.size == (400, 400)  # 40 mm tall, 40 mm wide


def test_reformat_uses_slice_spacing_and_draws_lines() -> None:
    vol = np.full((10, 20, 30), -1000.0)
    vol[:, :, 15] = 500.0
    z = np.arange(10) * 5.0
    img = reformat_image(
        vol,
        plane="sagittal",
        position=15,
        slice_mm=5.0,
        inplane_mm=1.0,
        width=400,
        level=40,
        z_mm=z,
        lines=[(4, "L3", (255, 0, 0))],
        levels=[Level("L3", 15.0, 25.0)],
        display_w=100,
    )
    assert img.size == (100, 250)  # 50 mm high / 20 mm wide
    arr = np.asarray(img)
    y = int(round((10 - 0.5 - 4) / 10 * 250))
    assert (arr[y - 1 : y + 2, 30:70, 0] == 255).any()
