"""Review images of :mod:`tools.reviewed_tool`: zoomed, gridded tiles of a slice with its candidates (component
ids) or its reviewed mask, and the montage of the whole set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from tools.reviewed_build import candidates, pieces
from validation.reviewed import in_muscle_gate, load_slice, mask_path, read_mask

WINDOW = (-160.0, 240.0)  # W400 / L40


def _font(size: int) -> Any:
    from PIL import ImageFont

    for f in ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(f, size)
        except OSError:
            continue
    return ImageFont.load_default()


def body_box(hu: np.ndarray, cand: np.ndarray, margin: int = 16) -> tuple[int, int, int, int]:
    """Bounding box of the teacher muscle (arms left out) plus a margin; the overview shows the rest."""
    if not cand.any():
        return 0, hu.shape[0], 0, hu.shape[1]
    rr, cc = np.nonzero(cand)
    return (
        max(0, rr.min() - margin),
        min(hu.shape[0], rr.max() + margin + 1),
        max(0, cc.min() - margin),
        min(hu.shape[1], cc.max() + margin + 1),
    )


def tiles(box: tuple[int, int, int, int], size: int, overlap: int = 16) -> list[tuple[int, int, int, int]]:
    r0, r1, c0, c1 = box

    def cuts(a: int, b: int) -> list[tuple[int, int]]:
        n = max(1, int(np.ceil((b - a - overlap) / (size - overlap))))
        step = (b - a - size) / max(1, n - 1) if n > 1 else 0
        return [(int(round(a + i * step)), int(round(a + i * step)) + min(size, b - a)) for i in range(n)]

    return [(a, b, c, d) for a, b in cuts(r0, r1) for c, d in cuts(c0, c1)]


def _edge(mask: np.ndarray) -> np.ndarray:
    return np.asarray(mask & ~ndi.binary_erosion(mask, structure=np.ones((3, 3), bool), border_value=0))


def _panel(
    hu: np.ndarray,
    box: tuple[int, int, int, int],
    z: int,
    layers: list[tuple[str, Any]],
    labels: list[tuple[float, float, str, tuple[int, int, int]]],
    grid: int,
    window: tuple[float, float] = WINDOW,
) -> Any:
    """One zoomed panel: gray image + layers ("fill", mask, rgb, alpha) / ("edge", mask, rgb) + grid + labels."""
    from PIL import Image, ImageDraw

    r0, r1, c0, c1 = box
    g = np.kron(np.clip((hu[r0:r1, c0:c1] - window[0]) / (window[1] - window[0]), 0, 1), np.ones((z, z)))
    rgb = np.stack([g, g, g], -1)
    for kind, spec in layers:
        mk = np.kron(spec[0][r0:r1, c0:c1].astype(np.uint8), np.ones((z, z), np.uint8)).astype(bool)
        rgb_c = np.array(spec[1], float) / 255.0
        if kind == "fill":
            rgb[mk] = (1 - spec[2]) * rgb[mk] + spec[2] * rgb_c
        else:
            rgb[_edge(mk)] = rgb_c
    im = Image.fromarray((rgb * 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    h, w = im.height, im.width
    for r in range((r0 // grid + 1) * grid, r1, grid):
        y = (r - r0) * z + z // 2
        for x in range(0, w, 6):
            d.point((x, y), fill=(90, 200, 255))
    for c in range((c0 // grid + 1) * grid, c1, grid):
        x = (c - c0) * z + z // 2
        for y in range(0, h, 6):
            d.point((x, y), fill=(90, 200, 255))
    f = _font(max(10, 4 * z))
    for lr, lc, text, lcol in labels:
        if r0 <= lr < r1 and c0 <= lc < c1:
            tx, ty = (lc - c0) * z + z // 2, (lr - r0) * z + z // 2
            d.text((tx + 3, ty - 6), text, fill=lcol, font=f, stroke_width=2, stroke_fill=(0, 0, 0))
    return im


def _framed(panels: list[Any], box: tuple[int, int, int, int], z: int, grid: int, title: str) -> Any:
    from PIL import Image, ImageDraw

    r0, r1, c0, c1 = box
    ml, mt, gap = 34, 34, 40
    w = ml + sum(p.width for p in panels) + gap * (len(panels) - 1) + 8
    h = mt + panels[0].height + 24
    out = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(out)
    f = _font(12)
    d.text((ml, 2), title, fill=(0, 0, 0), font=f)
    x = ml
    for p in panels:
        out.paste(p, (x, mt))
        for c in range((c0 // grid + 1) * grid, c1, grid):
            xx = x + (c - c0) * z + z // 2
            d.line([(xx, mt - 5), (xx, mt)], fill=(0, 0, 0))
            d.text((xx - 10, mt - 18), str(c), fill=(0, 0, 180), font=f)
            d.text((xx - 10, mt + p.height + 3), str(c), fill=(0, 0, 180), font=f)
        for r in range((r0 // grid + 1) * grid, r1, grid):
            yy = mt + (r - r0) * z + z // 2
            d.line([(x - 5, yy), (x, yy)], fill=(0, 0, 0))
            d.text((x - 32, yy - 7), str(r), fill=(180, 0, 0), font=f)
        x += p.width + gap
    return out


def _label_points(
    lab: np.ndarray, n: int, min_px: int, prefix: str, col: tuple[int, int, int]
) -> list[tuple[float, float, str, tuple[int, int, int]]]:
    out: list[tuple[float, float, str, tuple[int, int, int]]] = []
    if n == 0:
        return out
    idx = np.arange(1, n + 1)
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    cms = ndi.center_of_mass(np.ones(lab.shape), lab, idx)
    for i, (r, c) in zip(idx, cms, strict=True):
        if sizes[i] < min_px:
            continue
        rr, cc = np.nonzero(lab == i)
        j = np.argmin((rr - r) ** 2 + (cc - c) ** 2)  # a pixel of the piece nearest its centre
        out.append((float(rr[j]), float(cc[j]), f"{prefix}{i}", col))
    return out


def render(
    name: str,
    what: str,
    box_arg: list[int] | None,
    zoom: int,
    tile: int,
    grid: int,
    out_dir: Path,
    min_px: int,
    narrow: bool = False,
    smooth: bool = False,
) -> list[Path]:
    hu, _, _ = load_slice(name)
    t, m = candidates(name, hu)
    g = in_muscle_gate(hu)
    layers: list[tuple[str, Any]]
    labels: list[tuple[float, float, str, tuple[int, int, int]]] = []
    if what == "cand":
        pc = pieces(t, m)
        layers = [
            ("fill", (pc["t"][0] > 0, (0, 200, 255), 0.55)),
            ("fill", (pc["m"][0] > 0, (255, 0, 220), 0.55)),
            ("edge", (t & m, (255, 230, 0))),
        ]
        labels = (
            _label_points(*pc["t"], min_px, "t", (0, 230, 255))
            + _label_points(*pc["m"], min_px, "m", (255, 90, 240))
            + _label_points(*pc["a"], 4 * min_px, "a", (255, 240, 60))
        )
    else:
        final = read_mask(mask_path(name))
        fg = final & g
        layers = [("fill", (fg, (255, 0, 0), 0.30)), ("edge", (final, (255, 40, 40)))]
        if what == "diff":  # final vs teacher (t-, t+) and model; bright pixels (cartilage, bone, vessel?) in yellow
            layers += [
                ("edge", (t & ~final, (0, 200, 255))),
                ("edge", (m & ~final, (255, 0, 220))),
                ("fill", (fg & (ndi.gaussian_filter(hu, 1.0) > 85), (255, 255, 0), 0.7)),
            ]
    box: tuple[int, int, int, int] = (box_arg[0], box_arg[1], box_arg[2], box_arg[3]) if box_arg else body_box(hu, t)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    tl = [box] if box_arg else tiles(box, tile)
    for i, b in enumerate(tl):
        panels = [_panel(hu, b, zoom, [], [], grid)]
        if narrow:  # W160 / L50: muscle vs liver / kidney / bowel
            panels.append(_panel(hu, b, zoom, [], [], grid, (-30.0, 130.0)))
        if smooth:  # Gaussian 1.2 px, 10..80 HU: muscle (~35 HU) darker than liver / spleen / kidney
            panels.append(_panel(ndi.gaussian_filter(hu, 1.2), b, zoom, [], [], grid, (10.0, 80.0)))
        panels.append(_panel(hu, b, zoom, layers, labels, grid))
        title = (
            f"{name} [{what}] rows {b[0]}-{b[1]} cols {b[2]}-{b[3]} x{zoom}"
            + (" | W160/L50" if narrow else "")
            + (" | smoothed 10..80 HU" if smooth else "")
        )
        im = _framed(panels, b, zoom, grid, title)
        p = out_dir / f"{name}_{what}_{i}.png"
        im.save(p)
        paths.append(p)
    # overview: whole body at x2, overlay only, with the tile boxes
    if not box_arg:
        from PIL import ImageDraw

        ov = _panel(hu, box, 2, layers, [], 40)
        d = ImageDraw.Draw(ov)
        for i, b in enumerate(tl):
            d.rectangle(
                [(b[2] - box[2]) * 2, (b[0] - box[0]) * 2, (b[3] - box[2]) * 2, (b[1] - box[0]) * 2],
                outline=(0, 255, 0),
            )
            d.text(((b[2] - box[2]) * 2 + 4, (b[0] - box[0]) * 2 + 4), str(i), fill=(0, 255, 0), font=_font(14))
        p = out_dir / f"{name}_{what}_overview.png"
        _framed([_panel(hu, box, 2, [], [], 40), ov], box, 2, 40, f"{name} [{what}] overview").save(p)
        paths.append(p)
    return paths


def montage(out: Path, width: int = 380) -> Path:
    """All finished masks (red = mask within -29..150 HU) over their slices, 3 per row, into one PNG."""
    from PIL import Image, ImageDraw

    from validation.reviewed import names

    cells = []
    for name in names():
        hu, rmm, cmm = load_slice(name)
        mask = read_mask(mask_path(name))
        r0, r1, c0, c1 = body_box(hu, mask, margin=12)
        g = np.clip((hu[r0:r1, c0:c1] - WINDOW[0]) / (WINDOW[1] - WINDOW[0]), 0, 1)
        rgb = np.stack([g, g, g], -1)
        fg = (mask & in_muscle_gate(hu))[r0:r1, c0:c1]
        rgb[fg] = 0.45 * rgb[fg] + 0.55 * np.array([1.0, 0.0, 0.0])
        im = Image.fromarray((rgb * 255).astype(np.uint8))
        im = im.resize((width, max(1, round(im.height * width / im.width))), Image.Resampling.LANCZOS)
        sma = float(fg.sum()) * rmm * cmm / 100.0
        cells.append((im, f"{name}  SMA {sma:.1f} cm²"))
    cols = 3
    rows = (len(cells) + cols - 1) // cols
    hmax = max(c[0].height for c in cells) + 22
    sheet = Image.new("RGB", (cols * (width + 6) + 6, rows * hmax + 6), (255, 255, 255))
    d = ImageDraw.Draw(sheet)
    f = _font(13)
    for i, (im, label) in enumerate(cells):
        x, y = 6 + (i % cols) * (width + 6), 6 + (i // cols) * hmax
        d.text((x, y), label, fill=(0, 0, 0), font=f)
        sheet.paste(im, (x, y + 20))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)  # < 1 MB
    return out
