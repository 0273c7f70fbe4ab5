"""Overlay PNG of one slice: windowed CT, tissue colours, R/L markers and a scale bar (Pillow)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from sarco_core.export.files import deliver
from sarco_core.volume import Spacing

COLOURS = {1: (230, 30, 30), 2: (245, 220, 30), 3: (30, 220, 235)}  # muscle red, SAT yellow, VAT cyan


def window_to_uint8(hu2d: np.ndarray, window: tuple[float, float] = (400, 40)) -> npt.NDArray[np.uint8]:
    """Map HU to 0-255 with (width, level)."""
    width, level = float(window[0]), float(window[1])
    lo = level - width / 2.0
    g = (np.asarray(hu2d, dtype=np.float32) - lo) / max(width, 1e-6) * 255.0
    grey: npt.NDArray[np.uint8] = np.clip(g, 0, 255).astype(np.uint8)
    return grey


def _pixel_mm(spacing: Spacing | tuple[float, ...]) -> tuple[float, float]:
    if isinstance(spacing, Spacing):
        return spacing.row, spacing.col
    s = tuple(float(v) for v in spacing if v is not None)
    return (s[-2], s[-1])


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # very old Pillow
        return ImageFont.load_default()


def overlay_png(
    hu2d: np.ndarray,
    labels2d: np.ndarray | None,
    spacing: Spacing | tuple[float, ...],
    path: str | Path | None = None,
    *,
    window: tuple[float, float] = (400, 40),
    alpha: float = 0.45,
    min_size_px: int = 512,
) -> bytes:
    """PNG bytes (also written to ``path`` when given) of a canonical slice with the mask overlaid.

    Pixels are shown square in millimetres (anisotropic spacing is resampled for display only); patient right
    is on the image left (radiological convention), marked R and L.
    """
    row_mm, col_mm = _pixel_mm(spacing)
    hu2d = np.asarray(hu2d)
    rows, cols = hu2d.shape
    mm_per_px = min(row_mm, col_mm)
    w_mm, h_mm = cols * col_mm, rows * row_mm
    scale = max(1.0, min_size_px / max(w_mm / mm_per_px, h_mm / mm_per_px))
    out_w, out_h = round(w_mm / mm_per_px * scale), round(h_mm / mm_per_px * scale)
    disp_mm = w_mm / out_w
    grey = Image.fromarray(window_to_uint8(hu2d, window)).resize((out_w, out_h), Image.Resampling.BILINEAR)
    img = Image.merge("RGB", (grey, grey, grey))
    if labels2d is not None:
        lab = np.asarray(labels2d).astype(np.uint8)
        if lab.shape != hu2d.shape:
            raise ValueError(f"labels shape {lab.shape} differs from the slice's {hu2d.shape}")
        big = np.asarray(Image.fromarray(lab).resize((out_w, out_h), Image.Resampling.NEAREST))
        rgb = np.asarray(img).astype(np.float32)
        for value, colour in COLOURS.items():
            m = big == value
            rgb[m] = (1 - alpha) * rgb[m] + alpha * np.asarray(colour, np.float32)
        img = Image.fromarray(rgb.astype(np.uint8))
    draw = ImageDraw.Draw(img)
    fs = max(12, out_h // 28)
    font = _font(fs)
    pad = max(4, fs // 2)
    for xy, text, anchor in (
        ((pad, out_h // 2), "R", "lm"),
        ((out_w - pad, out_h // 2), "L", "rm"),
        ((out_w // 2, pad), "A", "mt"),
    ):
        draw.text(xy, text, fill=(255, 255, 255), font=font, anchor=anchor, stroke_width=2, stroke_fill=(0, 0, 0))
    # scale bar: the largest of 10/5/2/1 cm (or 5/2/1 mm) that fits in a third of the width
    bar_mm = next((b for b in (100, 50, 20, 10, 5, 2, 1) if b / disp_mm <= out_w / 3), 1)
    bar_px = round(bar_mm / disp_mm)
    x1, y = out_w - pad, out_h - pad - fs
    draw.rectangle((x1 - bar_px, y, x1, y + max(3, fs // 4)), fill=(255, 255, 255), outline=(0, 0, 0))
    text = f"{bar_mm // 10} cm" if bar_mm >= 10 else f"{bar_mm} mm"
    draw.text(
        (x1 - bar_px / 2, y - 2),
        text,
        fill=(255, 255, 255),
        font=font,
        anchor="mb",
        stroke_width=2,
        stroke_fill=(0, 0, 0),
    )
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return deliver(buf.getvalue(), path)
