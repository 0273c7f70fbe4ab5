"""Turn HU arrays and label masks into display images (PIL): windowing, tissue overlays, orientation
markers, scale bar and sagittal/coronal reformats. Pure functions, no Streamlit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from sarco_core.metrics import DEFAULT_GATES

# name -> (width, level) in HU
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "Soft tissue (W400 / L40)": (400.0, 40.0),
    "Muscle (W250 / L50)": (250.0, 50.0),
    "Bone (W1500 / L300)": (1500.0, 300.0),
    "Lung (W1500 / L-600)": (1500.0, -600.0),
}
DEFAULT_PRESET = "Soft tissue (W400 / L40)"

TISSUE_GATES: dict[int, tuple[float, float]] = {
    1: DEFAULT_GATES.muscle,
    2: DEFAULT_GATES.sat,
    3: DEFAULT_GATES.vat,
}

# label -> (name, RGB)
TISSUES: dict[int, tuple[str, tuple[int, int, int]]] = {
    1: ("Skeletal muscle", (230, 40, 40)),
    2: ("Subcutaneous fat (SAT)", (250, 200, 30)),
    3: ("Visceral fat (VAT)", (40, 200, 220)),
}


def window(hu: np.ndarray, width: float, level: float) -> npt.NDArray[np.uint8]:
    """Map HU to uint8 grey with the given window width / level."""
    lo = level - width / 2.0
    g = (np.asarray(hu, dtype=np.float32) - lo) / max(float(width), 1e-6)
    grey: npt.NDArray[np.uint8] = (np.clip(g, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return grey


def overlay(
    grey: np.ndarray,
    labels: np.ndarray | None,
    *,
    show: dict[int, bool] | None = None,
    opacity: float = 0.45,
    hu: np.ndarray | None = None,
    faint: float = 0.3,
) -> npt.NDArray[np.uint8]:
    """RGB uint8 image: ``grey`` with each shown tissue label blended in its colour.

    With ``hu`` the pixels that are measured (inside the tissue's HU gate) get full ``opacity`` and the rest of
    the label's compartment ``faint × opacity``, so the overlay shows what the numbers count."""
    rgb = np.repeat(np.asarray(grey, dtype=np.float32)[..., None], 3, axis=2)
    if labels is not None:
        lab = np.asarray(labels)
        for value, (_, colour) in TISSUES.items():
            if show is not None and not show.get(value, True):
                continue
            m = lab == value
            if not m.any():
                continue
            col = np.asarray(colour, dtype=np.float32)
            if hu is None:
                rgb[m] = (1.0 - opacity) * rgb[m] + opacity * col
                continue
            lo, hi = TISSUE_GATES[value]
            inside = m & (hu >= lo) & (hu <= hi)
            rest = m & ~inside
            rgb[inside] = (1.0 - opacity) * rgb[inside] + opacity * col
            a = opacity * faint
            rgb[rest] = (1.0 - a) * rgb[rest] + a * col
    out: npt.NDArray[np.uint8] = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
    return out


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    for name in ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def _nice_length_mm(max_mm: float) -> float:
    for v in (200, 100, 50, 20, 10, 5, 2, 1):
        if v <= max_mm:
            return float(v)
    return max_mm


@dataclass(frozen=True)
class AxialView:
    """Display settings for one axial slice."""

    width: float = 400.0
    level: float = 40.0
    opacity: float = 0.45
    show: tuple[tuple[int, bool], ...] = ((1, True), (2, True), (3, True))
    display_px: int = 512
    markers: bool = True
    scale_bar: bool = True
    gated: bool = True  # measured (HU-gated) pixels strong, rest of the compartment faint


def axial_image(
    hu: np.ndarray,
    labels: np.ndarray | None,
    *,
    row_mm: float,
    col_mm: float,
    view: AxialView = AxialView(),
) -> Image.Image:
    """The slice windowed, overlaid, resized to ``display_px`` wide with correct aspect, with R/L
    markers (patient right on the image left) and a scale bar."""
    rgb = overlay(
        window(hu, view.width, view.level),
        labels,
        show=dict(view.show),
        opacity=view.opacity,
        hu=hu if view.gated else None,
    )
    img = Image.fromarray(rgb)
    rows, cols = hu.shape
    out_w = int(view.display_px)
    scale = out_w / cols  # display px per image column
    out_h = max(1, int(round(rows * row_mm / col_mm * scale)))
    img = img.resize((out_w, out_h), Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(img)
    fsize = max(12, out_w // 28)
    font = _font(fsize)
    if view.markers:
        draw.text(
            (8, out_h // 2 - fsize // 2), "R", fill=(255, 255, 0), font=font, stroke_width=2, stroke_fill=(0, 0, 0)
        )
        draw.text(
            (out_w - 8 - fsize, out_h // 2 - fsize // 2),
            "L",
            fill=(255, 255, 0),
            font=font,
            stroke_width=2,
            stroke_fill=(0, 0, 0),
        )
        draw.text(
            (out_w // 2 - fsize // 3, 4), "A", fill=(255, 255, 0), font=font, stroke_width=2, stroke_fill=(0, 0, 0)
        )
        draw.text(
            (out_w // 2 - fsize // 3, out_h - fsize - 8),
            "P",
            fill=(255, 255, 0),
            font=font,
            stroke_width=2,
            stroke_fill=(0, 0, 0),
        )
    if view.scale_bar:
        mm_per_px = col_mm / scale
        length_mm = _nice_length_mm(0.25 * out_w * mm_per_px)
        bar = int(round(length_mm / mm_per_px))
        x1 = out_w - 12
        x0 = x1 - bar
        y = out_h - 14
        draw.rectangle([x0 - 1, y - 1, x1 + 1, y + 5], fill=(0, 0, 0))
        draw.rectangle([x0, y, x1, y + 4], fill=(255, 255, 255))
        label = f"{length_mm:g} mm" if length_mm < 10 else f"{length_mm / 10:g} cm"
        draw.text(
            (x0, y - fsize - 4),
            label,
            fill=(255, 255, 255),
            font=_font(max(10, fsize * 3 // 4)),
            stroke_width=2,
            stroke_fill=(0, 0, 0),
        )
    return img


@dataclass(frozen=True)
class Level:
    label: str
    z_lo_mm: float
    z_hi_mm: float


def reformat_image(
    hu: np.ndarray,
    *,
    plane: str,
    position: int,
    slice_mm: float,
    inplane_mm: float,
    width: float,
    level: float,
    z_mm: np.ndarray,
    lines: list[tuple[int, str, tuple[int, int, int]]] = (),  # type: ignore[assignment]
    levels: list[Level] = (),  # type: ignore[assignment]
    display_w: int = 320,
) -> Image.Image:
    """Sagittal (``plane='sagittal'``, ``position`` = column) or coronal (``position`` = row) reformat,
    head at the top, resampled to the true aspect; ``lines`` = (slice index, text, colour) drawn across,
    ``levels`` = vertebral levels labelled at the side."""
    vol = np.asarray(hu)
    if plane == "sagittal":
        img2 = vol[:, :, int(position)]  # (k, r): anterior left
    elif plane == "coronal":
        img2 = vol[:, int(position), :]  # (k, c): patient right left
    else:
        raise ValueError(plane)
    img2 = img2[::-1]  # head at the top
    n = vol.shape[0]
    grey = window(img2, width, level)
    im = Image.fromarray(grey).convert("RGB")
    h_mm = n * (slice_mm or inplane_mm)
    w_mm = img2.shape[1] * inplane_mm
    disp_h = max(n, int(round(display_w * h_mm / w_mm)))
    im = im.resize((display_w, disp_h), Image.Resampling.BILINEAR)
    draw = ImageDraw.Draw(im)
    font = _font(12)

    def y_of(k: float) -> float:
        return float((n - 0.5 - k) / n * disp_h)

    z = np.asarray(z_mm, dtype=float)
    if len(levels) and n > 1:
        order = np.argsort(z)
        for lv in levels:
            k_lo = float(np.interp(lv.z_lo_mm, z[order], np.arange(n)[order]))
            k_hi = float(np.interp(lv.z_hi_mm, z[order], np.arange(n)[order]))
            y0, y1 = sorted((y_of(k_lo), y_of(k_hi)))
            draw.line([(2, y0), (8, y0)], fill=(120, 200, 255), width=1)
            draw.line([(2, y1), (8, y1)], fill=(120, 200, 255), width=1)
            draw.text(
                (10, (y0 + y1) / 2 - 6),
                lv.label,
                fill=(120, 200, 255),
                font=font,
                stroke_width=1,
                stroke_fill=(0, 0, 0),
            )
    for k, text, colour in lines:
        y = y_of(k)
        draw.line([(0, y), (display_w, y)], fill=colour, width=2)
        if text:
            draw.text(
                (display_w - 6 - int(font.getlength(text)), y - 16),
                text,
                fill=colour,
                font=font,
                stroke_width=1,
                stroke_fill=(0, 0, 0),
            )
    return im


def to_png(img: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
