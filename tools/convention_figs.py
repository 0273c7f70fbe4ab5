"""Labelled figures of docs/convention.md, one per level: ``python -m tools.convention_figs``.

* ``docs/img/convention_L3_phantom.png`` and ``convention_T12_phantom.png``: seeded phantoms (``contacts="hard"``:
  crura, organs and bowel touching muscle), whose exact tissue map names every structure: muscle by the convention
  coloured per reporting region, structures that are NOT muscle named "(out)";
* ``docs/img/convention_L2L3_real.png``, ``convention_L1L2_real.png``, ``convention_T12L1_real.png``: real slices with
  the blinded pass-1 reference (``validation/reviewed/blinded/pass1``, drawn from the image alone by a developer
  following the convention; not an expert reading), coloured per reporting region.

Panels: the slice at W400/L40 | the muscle (HU-gated −29..150) coloured by :mod:`sarco_core.regions` region, with
labels. No segmenter (teacher or model) is run or shown.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sarco_core.phantom import TISSUES, phantom_slice
from sarco_core.regions import Region, slice_regions

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
GATE = (-29.0, 150.0)
COLOURS = {
    Region.ABDOMINAL_WALL: (230, 60, 60),
    Region.BACK: (240, 160, 40),
    Region.PSOAS_CRUS: (60, 200, 90),
    Region.INNER_LAYER: (200, 80, 220),
    Region.OTHER: (120, 120, 120),
}
MUSCLE_NAMES = {
    "rectus": "rectus abdominis",
    "external_oblique": "ext. oblique",
    "internal_oblique": "int. oblique",
    "transversus": "transversus",
    "psoas": "psoas",
    "quadratus_lumborum": "quadratus lumb.",
    "erector_spinae": "erector spinae",
    "multifidus": "multifidus",
    "latissimus": "latissimus",
}
OUT_NAMES = {
    "skin": "skin (out)",
    "liver": "liver (out)",
    "kidney": "kidney (out)",
    "diaphragm": "crus/diaphragm (out)",
    "bowel_wall": "bowel (out)",
    "spleen": "spleen (out)",
    "aorta": "aorta (out)",
    "lymph_node": "node (out)",
}
REAL = [
    ("covid_A058062_19010108-078", "L2/L3", "convention_L2L3_real.png"),
    ("covid_A062055_19001127-136", "L1/L2", "convention_L1L2_real.png"),
    ("covid_A027284_19001231-131", "T12/L1", "convention_T12L1_real.png"),
]


def _grey(hu: np.ndarray) -> np.ndarray:
    g = (np.clip((hu + 160.0) / 400.0, 0.0, 1.0) * 255).astype(np.uint8)
    return np.stack([g, g, g], -1)


def _overlay(hu: np.ndarray, muscle: np.ndarray, codes: np.ndarray) -> np.ndarray:
    rgb = _grey(hu).astype(np.float32)
    for r, col in COLOURS.items():
        m = muscle & (codes == r.code)
        rgb[m] = 0.35 * rgb[m] + 0.65 * np.asarray(col, np.float32)
    return rgb.astype(np.uint8)


def _label_at(
    d: ImageDraw.ImageDraw, mask: np.ndarray, text: str, zoom: int, x0: int, fill: tuple[int, int, int]
) -> None:
    rr, cc = np.nonzero(mask)
    if rr.size == 0:
        return
    j = int(np.argmin((rr - rr.mean()) ** 2 + (cc - cc.mean()) ** 2))  # a pixel of the structure near its centre
    d.text(
        (x0 + cc[j] * zoom - 3 * len(text), rr[j] * zoom - 5), text, fill=fill, stroke_width=2, stroke_fill=(0, 0, 0)
    )


def figure(
    hu: np.ndarray,
    muscle: np.ndarray,
    codes: np.ndarray,
    title: str,
    labels: list[tuple[np.ndarray, str, bool]],
    out: Path,
    zoom: int = 2,
) -> None:
    from sarco_core.body import find_body

    rows, cols = np.nonzero(find_body(hu, 1.0).trunk)  # crop to the trunk (no table, no arms)
    r0, r1, c0, c1 = max(0, rows.min() - 4), rows.max() + 5, max(0, cols.min() - 4), cols.max() + 5
    sub = (slice(r0, r1), slice(c0, c1))
    left = Image.fromarray(_grey(hu)[sub]).resize(((c1 - c0) * zoom, (r1 - r0) * zoom), Image.Resampling.BILINEAR)
    right = Image.fromarray(_overlay(hu, muscle, codes)[sub]).resize(left.size, Image.Resampling.NEAREST)
    w, h = left.size
    canvas = Image.new("RGB", (2 * w + 6, h + 70), (0, 0, 0))
    canvas.paste(left, (0, 0))
    canvas.paste(right, (w + 6, 0))
    d = ImageDraw.Draw(canvas)
    for mask, text, is_muscle in labels:
        _label_at(d, mask[sub], text, zoom, w + 6, (255, 255, 255) if is_muscle else (150, 220, 255))
    d.text((6, h + 6), title, fill=(255, 255, 255))
    x = 6
    for r in (Region.ABDOMINAL_WALL, Region.BACK, Region.PSOAS_CRUS, Region.INNER_LAYER):
        d.rectangle([x, h + 30, x + 14, h + 44], fill=COLOURS[r])
        d.text((x + 18, h + 32), r.value, fill=(255, 255, 255))
        x += 30 + 7 * len(r.value)
    d.text(
        (6, h + 52),
        "muscle = HU-gated -29..150 inside the muscle compartment; blue labels: never muscle",
        fill=(200, 200, 200),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out, optimize=True)


def phantom_figure(level: str, out: Path) -> None:
    ps = phantom_slice(11, level=level, size=320, pixel_mm=1.1, contacts="hard")
    hu = ps.hu.astype(np.float32)
    muscle = (ps.labels == 1) & (hu >= GATE[0]) & (hu <= GATE[1])
    codes = slice_regions(hu, row_mm=1.1, col_mm=1.1).codes
    labels: list[tuple[np.ndarray, str, bool]] = []
    for side, half in (("R", slice(0, 160)), ("L", slice(160, 320))):
        for name, text in MUSCLE_NAMES.items():
            m = np.zeros(hu.shape, bool)
            m[:, half] = ps.tissue[:, half] == TISSUES[name]
            if m.sum() > 30 and (side == "R" or name in ("psoas", "erector_spinae")):
                labels.append((m, text, True))
    for name, text in OUT_NAMES.items():
        m = ps.tissue == TISSUES[name]
        if m.sum() > 30:
            labels.append((m, text, False))
    figure(hu, muscle, codes, f"{level} phantom (seed 11, contacts=hard): exact labels by the convention", labels, out)


def real_figure(name: str, level: str, out: Path) -> None:
    from tools.blinded_build import build, read_selection
    from validation.reviewed import in_muscle_gate, load_slice

    hu, row_mm, col_mm = load_slice(name)
    muscle = build(hu, row_mm, col_mm, read_selection(name, 1)) & in_muscle_gate(hu)
    codes = slice_regions(hu, row_mm=row_mm, col_mm=col_mm).codes
    labels = [
        (muscle & (codes == r.code), r.value.replace("_", " "), True)
        for r in (Region.ABDOMINAL_WALL, Region.BACK, Region.PSOAS_CRUS, Region.INNER_LAYER)
    ]
    figure(
        hu,
        muscle,
        codes,
        f"{name} (~{level}): blinded pass-1 reference (developer, from the image alone)",
        labels,
        out,
        zoom=1,
    )


def main() -> int:
    phantom_figure("L3", IMG / "convention_L3_phantom.png")
    phantom_figure("T12", IMG / "convention_T12_phantom.png")
    for name, level, fname in REAL:
        real_figure(name, level, IMG / fname)
    for p in sorted(IMG.glob("convention_*.png")):
        print(p.relative_to(ROOT), f"{p.stat().st_size // 1024} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
