"""Review images of :mod:`tools.blinded_tool`: the slice in two windows beside its numbered HU-gated components
(or the built mask), with a row / col grid and the reader's cuts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from tools.blinded_build import MIN_COMPONENT_PX, build, components, read_selection
from validation.reviewed import load_slice

RENDERS = Path("/tmp/blinded_renders")


def _window(hu: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (np.clip((hu - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def render(name: str, pass_no: int, box: tuple[int, int, int, int] | None, zoom: int, final: bool) -> Path:
    from PIL import Image, ImageDraw

    hu, row_mm, col_mm = load_slice(name)
    sel = read_selection(name, pass_no)
    comp, _ = components(hu, row_mm, col_mm, sel)
    if box is None:
        rr, cc = np.nonzero(comp > 0)
        box = (max(0, rr.min() - 5), rr.max() + 6, max(0, cc.min() - 5), cc.max() + 6)
    r0, r1, c0, c1 = box
    sub = (slice(r0, r1), slice(c0, c1))
    w1 = _window(hu, -160, 240)[sub]
    w2 = _window(hu, -30, 130)[sub]
    rng = np.random.default_rng(0)
    pal = rng.integers(60, 255, size=(int(comp.max()) + 1, 3)).astype(np.uint8)
    base = np.stack([w1] * 3, -1).astype(np.float32)
    c = comp[sub]
    if final:
        m = build(hu, row_mm, col_mm, sel)[sub]
        over = base.copy()
        over[m] = 0.55 * over[m] + 0.45 * np.array([255, 40, 40])
        edge = m & ~ndi.binary_erosion(m)
        over[edge] = [255, 255, 0]
    else:
        over = base.copy()
        col = pal[c].astype(np.float32)
        over[c > 0] = 0.45 * over[c > 0] + 0.55 * col[c > 0]
    panels = [np.stack([w1] * 3, -1), np.stack([w2] * 3, -1), over.astype(np.uint8)]
    ims = [Image.fromarray(p).resize((p.shape[1] * zoom, p.shape[0] * zoom), Image.Resampling.NEAREST) for p in panels]
    d = ImageDraw.Draw(ims[2])
    step = 20 if (r1 - r0) < 200 else 50
    for r in range((r0 // step + 1) * step, r1, step):
        d.line([(0, (r - r0) * zoom), (8, (r - r0) * zoom)], fill=(0, 255, 255))
        d.text((10, (r - r0) * zoom - 5), str(r), fill=(0, 255, 255))
    for cc_ in range((c0 // step + 1) * step, c1, step):
        d.line([((cc_ - c0) * zoom, 0), ((cc_ - c0) * zoom, 8)], fill=(0, 255, 255))
        d.text(((cc_ - c0) * zoom - 8, 10), str(cc_), fill=(0, 255, 255))
    if not final:
        for k in range(1, int(c.max()) + 1):
            m = c == k
            if m.sum() < MIN_COMPONENT_PX:
                continue
            pr, pc = np.nonzero(m)
            j = int(np.argmin((pr - pr.mean()) ** 2 + (pc - pc.mean()) ** 2))  # a pixel of the piece near its centre
            d.text(
                (pc[j] * zoom - 4, pr[j] * zoom - 5),
                str(k),
                fill=(255, 255, 255),
                stroke_width=2,
                stroke_fill=(0, 0, 0),
            )
    for cut in sel.get("cuts", []):
        d.line([((cc_ - c0) * zoom, (r - r0) * zoom) for r, cc_ in cut], fill=(255, 0, 255), width=1)
    out = Image.new("RGB", (sum(i.width for i in ims) + 8, ims[0].height), (0, 0, 0))
    x = 0
    for i in ims:
        out.paste(i, (x, 0))
        x += i.width + 4
    RENDERS.mkdir(parents=True, exist_ok=True)
    p = RENDERS / f"{name}_p{pass_no}{'_final' if final else ''}.png"
    out.save(p)
    return p
