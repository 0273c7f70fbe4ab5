"""Phantom vs real upper-lumbar slices: tissue HU, areas and a montage (``python -m validation.phantom_compare``).

Real slices have no labels, so their figures come from simple, stated estimates that are computed the same
way on the phantoms:

* body = largest connected component above -500 HU (holes filled);
* ``fat_hu`` / ``soft_hu``: mean and SD of body pixels within -190..-30 HU / -29..150 HU;
* ``sat_roi_hu`` / ``muscle_roi_hu``: 8 x 8 mm ROIs placed from the spine: SAT ROI 4 mm inside the posterior
  skin 40 mm lateral of the midline, paraspinal muscle ROI 30 mm lateral and 25 mm behind the canal (the
  vertebral body is the largest > 200 HU component near the centre); their SD is the image noise + texture;
* ``fat_cm2`` / ``soft_cm2``: body area within -190..-30 / -29..150 HU; ``body_cm2``, width and depth;
* ``teacher_*``: muscle / SAT / VAT areas from the anatomical teacher (an estimate, not a reference), and its
  ``wall_leaky_fraction`` cue: the share of directions where soft tissue touches the wall with no fat plane.
On phantoms the true labels give ``true_*`` areas and true per-tissue HU.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage as ndi

from sarco_core.body import BODY_HU

REAL = ("A027284", "A058062", "A062055")


@dataclass
class SliceStats:
    name: str
    values: dict[str, float]
    rois: list[tuple[int, int, int, int]]


def _body(hu: np.ndarray, px_mm: float = 0.8) -> np.ndarray:
    """Largest > -500 HU component after a 3 mm opening (detaches the table), holes filled."""
    st = ndi.generate_binary_structure(2, 1)
    lab, n = ndi.label(ndi.binary_opening(hu > BODY_HU, st, iterations=max(1, int(round(3 / px_mm)))))
    if n == 0:
        return np.zeros(hu.shape, bool)
    sizes = ndi.sum(np.ones_like(hu), lab, index=np.arange(1, n + 1))
    return ndi.binary_fill_holes(lab == (int(np.argmax(sizes)) + 1))


def _spine(hu: np.ndarray, body: np.ndarray) -> tuple[float, float] | None:
    lab, n = ndi.label((hu > 200) & body)
    if n == 0:
        return None
    rr, cc = np.nonzero(body)
    cr, ccn = rr.mean(), cc.mean()
    best, score = None, -1.0
    for i, sl in enumerate(ndi.find_objects(lab), start=1):
        m = lab[sl] == i
        size = float(m.sum())
        r0, c0 = ndi.center_of_mass(m)
        r0 += sl[0].start
        c0 += sl[1].start
        s = size / (1.0 + abs(c0 - ccn) / 20.0) * (1.0 if r0 > cr - 20 else 0.2)
        if s > score:
            best, score = (r0, c0), s
    return best


def stats(
    hu: np.ndarray,
    row_mm: float,
    col_mm: float,
    name: str,
    labels: np.ndarray | None = None,
    tissue: np.ndarray | None = None,
    teacher: bool = True,
) -> SliceStats:
    hu = np.asarray(hu, dtype=np.float32)
    px = row_mm * col_mm / 100.0
    body = _body(hu, min(row_mm, col_mm))
    v: dict[str, float] = {}
    fat = body & (hu >= -190) & (hu <= -30)
    soft = body & (hu >= -29) & (hu <= 150)
    v["fat_hu_mean"], v["fat_hu_sd"] = float(hu[fat].mean()), float(hu[fat].std())
    v["soft_hu_mean"], v["soft_hu_sd"] = float(hu[soft].mean()), float(hu[soft].std())
    v["body_cm2"], v["fat_cm2"], v["soft_cm2"] = body.sum() * px, fat.sum() * px, soft.sum() * px
    rr, cc = np.nonzero(body)
    v["width_mm"] = float((cc.max() - cc.min() + 1) * col_mm)
    v["depth_mm"] = float((rr.max() - rr.min() + 1) * row_mm)
    rois: list[tuple[int, int, int, int]] = []
    sp = _spine(hu, body)
    if sp is not None:
        r0, c0 = sp
        h, w = int(round(4 / row_mm)), int(round(4 / col_mm))
        # paraspinal ROI: 30 mm lateral, 62 % of the way from the vertebral body centre to the back skin
        mus, sat = [], []
        for s in (-1, 1):
            c = int(c0 + s * 30 / col_mm)
            back = np.nonzero(body[:, c])[0]
            r = int(r0 + 0.62 * ((back.max() if back.size else r0) - r0))
            mus.append(hu[r - h : r + h, c - w : c + w].ravel())
            rois.append((r - h, c - w, r + h, c + w))
            cs = int(c0 + s * 40 / col_mm)
            col = np.nonzero(body[:, cs])[0]
            if col.size:
                rb = int(col.max() - round(4 / row_mm) - h)
                sat.append(hu[rb - h : rb + h, cs - w : cs + w].ravel())
                rois.append((rb - h, cs - w, rb + h, cs + w))
        m, s_ = np.concatenate(mus), np.concatenate(sat) if sat else np.array([np.nan])
        v["muscle_roi_hu_mean"], v["muscle_roi_hu_sd"] = float(m.mean()), float(m.std())
        v["sat_roi_hu_mean"], v["sat_roi_hu_sd"] = float(np.mean(s_)), float(np.std(s_))
    if teacher:
        from sarco_core.segment.teacher import segment_slice

        lab_t, _conf, _flags, cues = segment_slice(hu, row_mm, col_mm)
        v["teacher_wall_leaky"] = float(cues.get("wall_leaky_fraction", float("nan")))
        v["teacher_sma_cm2"] = float(((lab_t == 1) & (hu >= -29) & (hu <= 150)).sum() * px)
        v["teacher_sat_cm2"] = float(((lab_t == 2) & (hu >= -190) & (hu <= -30)).sum() * px)
        v["teacher_vat_cm2"] = float(((lab_t == 3) & (hu >= -150) & (hu <= -50)).sum() * px)
    if labels is not None:
        v["true_sma_cm2"] = float(((labels == 1) & (hu >= -29) & (hu <= 150)).sum() * px)
        v["true_sat_cm2"] = float(((labels == 2) & (hu >= -190) & (hu <= -30)).sum() * px)
        v["true_vat_cm2"] = float(((labels == 3) & (hu >= -150) & (hu <= -50)).sum() * px)
        v["true_muscle_hu"] = float(hu[(labels == 1) & (hu >= -29) & (hu <= 150)].mean())
    if tissue is not None:
        from sarco_core.phantom.tissues import TISSUES as T

        for nm in ("sat", "vat", "liver", "kidney", "spleen", "bowel_wall", "vertebral_body", "aorta"):
            sel = tissue == T[nm]
            if sel.sum() > 50:
                v[f"true_{nm}_hu"] = float(hu[sel].mean())
    return SliceStats(name, v, rois)


def _win(hu: np.ndarray, size: int = 320) -> Image.Image:
    g = (np.clip((np.asarray(hu, float) + 160) / 400, 0, 1) * 255).astype(np.uint8)
    return Image.fromarray(g).resize((size, size), Image.Resampling.BILINEAR)


def _overlay(hu: np.ndarray, labels: np.ndarray, size: int = 320) -> Image.Image:
    """Soft-tissue window with labels blended in; ``size`` 1 keeps the array's own shape."""
    g = (np.clip((np.asarray(hu, float) + 160) / 400, 0, 1) * 255)[..., None].repeat(3, -1)
    pal = np.array([[0, 0, 0], [230, 50, 50], [240, 210, 60], [70, 150, 240]], np.float32)
    a = (labels > 0)[..., None] * 0.45
    out = Image.fromarray((g * (1 - a) + pal[labels] * a).astype(np.uint8))
    return out if size == 1 else out.resize((size, size), Image.Resampling.NEAREST)


def _summary(rows: list[SliceStats]) -> dict[str, tuple[float, float, int]]:
    keys = sorted({k for r in rows for k in r.values})
    out = {}
    for k in keys:
        vals = np.array([r.values[k] for r in rows if k in r.values and np.isfinite(r.values[k])])
        if vals.size:
            out[k] = (float(vals.mean()), float(vals.std()), int(vals.size))
    return out


def _real_slices(data: Path) -> list[tuple[str, np.ndarray, float, float]]:
    from sarco_core.io.loader import load

    files = [f for pid in REAL for f in sorted((data / "tcia_covid19_ny_sbu" / pid / "axial").glob("*.dcm"))]
    out = []
    for f in files:
        vol = load(f)
        out.append((f"{f.parent.parent.name}/{f.name}", vol.hu[0], vol.spacing_mm.row, vol.spacing_mm.col))
    pan = data / "pydicom" / "pancreas_ct_0001_slice122_j2k.dcm"
    if pan.exists():
        vol = load(pan)
        out.append(("pancreas_ct_0001_slice122", vol.hu[0], vol.spacing_mm.row, vol.spacing_mm.col))
    return out


def run(data: Path, out_dir: Path, n_phantoms: int = 24) -> dict[str, object]:
    """Stats of the real slices and of ``n_phantoms`` default and ``contacts="hard"`` phantoms (same seeds);
    writes phantom_vs_real.png / .json and phantom_hard_vs_real.png to ``out_dir``."""
    from sarco_core.phantom.slice import phantom_slice

    real, real_imgs = [], []
    for name, hu, row_mm, col_mm in _real_slices(data):
        st = stats(hu, row_mm, col_mm, name)
        real.append(st)
        real_imgs.append((hu, st))
    groups: dict[str, list[SliceStats]] = {"default": [], "hard": []}
    imgs: dict[str, list] = {"default": [], "hard": []}
    for contacts in groups:
        rng = np.random.default_rng(2024)
        for seed in range(1000, 1000 + n_phantoms):
            px = float(rng.uniform(0.72, 0.95))
            s = phantom_slice(seed, level=str(rng.choice(["L1", "L2", "L3"])), pixel_mm=px, contacts=contacts)
            st = stats(s.hu, px, px, f"seed {seed} {s.level} {s.params.body}", s.labels, s.tissue)
            groups[contacts].append(st)
            imgs[contacts].append(s)
    out_dir.mkdir(parents=True, exist_ok=True)
    tile = 320
    sheet = Image.new("RGB", (3 * tile, 3 * tile + 60), "white")
    d = ImageDraw.Draw(sheet)
    for j, (hu, _st) in enumerate([real_imgs[i] for i in (0, 2, 4)]):
        sheet.paste(_win(hu, tile).convert("RGB"), (j * tile, 20))
    for j, s in enumerate(imgs["default"][:3]):
        sheet.paste(_win(s.hu, tile).convert("RGB"), (j * tile, tile + 40))
        sheet.paste(_overlay(s.hu, s.labels, tile), (j * tile, 2 * tile + 60))
    d.text((4, 4), "real (TCIA COVID-19-NY-SBU, upper lumbar), W400 L40", fill="black")
    d.text((4, tile + 24), "phantom (seeded), W400 L40", fill="black")
    d.text((4, 2 * tile + 44), "phantom labels: red muscle, yellow SAT, blue VAT", fill="black")
    sheet.save(out_dir / "phantom_vs_real.png")
    hard_montage(real_imgs, out_dir / "phantom_hard_vs_real.png")
    res = {
        "real": _summary(real),
        "phantom": _summary(groups["default"]),
        "phantom_hard": _summary(groups["hard"]),
        "real_slices": {r.name: r.values for r in real},
        "phantom_slices": {r.name: r.values for r in groups["default"]},
        "phantom_hard_slices": {r.name: r.values for r in groups["hard"]},
    }
    (out_dir / "phantom_vs_real.json").write_text(json.dumps(res, indent=1))
    return res


def gallery(out_dir: Path) -> Path:
    """docs/img/phantom_gallery.png: body types and levels (with labels), plus a stack's sagittal/coronal cut."""
    from sarco_core.phantom.slice import phantom_slice
    from sarco_core.phantom.volume import phantom_volume

    tile = 256
    specs: list[tuple[int, str, str, dict[str, bool]]] = [
        (1, "L3", "thin", {}),
        (2, "L3", "normal", {"contrast": True}),
        (3, "L3", "obese", {"arms": True}),
        (4, "L1", "overweight", {}),
        (5, "T12", "normal", {"truncated": True}),
        (6, "L5", "normal", {}),
    ]
    pv = phantom_volume(7, size=256, pixel_mm=1.6, top="T10", bottom="femur")
    f = pv.spacing_mm[0] / pv.spacing_mm[2]
    sheet = Image.new("RGB", (len(specs) * tile, 2 * tile + 10 + int(pv.volume.n_slices * f)), "black")
    d = ImageDraw.Draw(sheet)
    for j, (seed, level, body, kw) in enumerate(specs):
        s = phantom_slice(
            seed,
            level=level,
            body=body,
            pixel_mm=0.8,
            contrast=kw.get("contrast"),
            arms=kw.get("arms"),
            truncated=kw.get("truncated", False),
        )
        sheet.paste(_win(s.hu, tile).convert("RGB"), (j * tile, 0))
        sheet.paste(_overlay(s.hu, s.labels, tile), (j * tile, tile))
        d.text((j * tile + 4, 4), f"{level} {body} {' '.join(kw)}", fill="yellow")
    hu = pv.volume.hu
    ks, rs, cs = np.nonzero(pv.vertebrae)
    sag = hu[::-1, :, int(np.median(cs))]
    cor = hu[::-1, int(np.median(rs)), :]

    def bone(a: np.ndarray) -> Image.Image:
        g = (np.clip((a.astype(float) + 400) / 1400, 0, 1) * 255).astype(np.uint8)
        return Image.fromarray(g).resize((a.shape[1], int(a.shape[0] * f))).convert("RGB")

    y0 = 2 * tile + 10
    sheet.paste(bone(sag), (0, y0))
    sheet.paste(bone(cor), (tile, y0))
    lab = pv.labels[::-1, int(np.median(rs)), :]
    sheet.paste(_overlay(cor, lab, 1).resize((cor.shape[1], int(cor.shape[0] * f))), (2 * tile, y0))
    d.text((4, y0 + 2), "stack T10-femoral heads: sagittal (anterior left)", fill="yellow")
    d.text((tile + 4, y0 + 2), "coronal through the spine", fill="yellow")
    d.text((2 * tile + 4, y0 + 2), "coronal labels", fill="yellow")
    path = out_dir / "phantom_gallery.png"
    sheet.save(path)
    return path


HARD_SPECS = ((7010, "L1", True), (7011, "L2", False), (7012, "T12", True), (7013, "L3", False))


def _crop(img: Image.Image, hu: np.ndarray, size: int) -> Image.Image:
    """A square around the vertebral body, about half the body width wide, resized to ``size``."""
    body = _body(np.asarray(hu, np.float32))
    rr, cc = np.nonzero(body)
    sp = _spine(np.asarray(hu, np.float32), body)
    r0, c0 = (int(sp[0]), int(sp[1])) if sp is not None else (int(rr.mean()), int(cc.mean()))
    h = int(0.27 * (cc.max() - cc.min()))
    f = img.width / hu.shape[1]
    box = (int((c0 - h) * f), int((r0 - h) * f), int((c0 + h) * f), int((r0 + h) * f))
    return img.crop(box).resize((size, size), Image.Resampling.BILINEAR)


def hard_montage(real_imgs: list, path: Path, tile: int = 300) -> Path:
    """``contacts="hard"`` phantoms next to real slices: full slices, labels, and 2x crops around the spine."""
    from sarco_core.phantom.slice import phantom_slice

    picks = [real_imgs[i] for i in (2, 4, len(real_imgs) - 1, 1) if i < len(real_imgs)]
    ph = [phantom_slice(seed, level=lv, contrast=c, pixel_mm=0.8, contacts="hard") for seed, lv, c in HARD_SPECS]
    n = max(len(picks), len(ph))
    sheet = Image.new("RGB", (n * tile, 5 * tile + 100), "white")
    d = ImageDraw.Draw(sheet)
    for j, (hu, st) in enumerate(picks):
        w = _win(hu, 512)
        sheet.paste(w.resize((tile, tile)).convert("RGB"), (j * tile, 20))
        sheet.paste(_crop(w, hu, tile).convert("RGB"), (j * tile, 3 * tile + 80))
        d.text((j * tile + 4, 22), st.name, fill="yellow")
    for j, s in enumerate(ph):
        w = _win(s.hu, 512)
        sheet.paste(w.resize((tile, tile)).convert("RGB"), (j * tile, tile + 40))
        sheet.paste(_overlay(s.hu, s.labels, tile), (j * tile, 2 * tile + 60))
        sheet.paste(_crop(w, s.hu, tile).convert("RGB"), (j * tile, 4 * tile + 100))
        d.text(
            (j * tile + 4, tile + 42), f"seed {s.seed} {s.level} {'IV+' if s.params.contrast else 'IV-'}", fill="yellow"
        )
    d.text((4, 4), "real: TCIA COVID-19-NY-SBU A058062, A062055, pydicom pancreas, A027284 (W400 L40)", fill="black")
    d.text((4, tile + 24), 'phantom contacts="hard" (W400 L40)', fill="black")
    d.text(
        (4, 2 * tile + 44), "phantom labels: red muscle, yellow SAT, blue VAT (crura, bowel, organs: 0)", fill="black"
    )
    d.text((4, 3 * tile + 64), "real, 2x around the spine", fill="black")
    d.text((4, 4 * tile + 84), "phantom hard, 2x around the spine", fill="black")
    sheet.save(path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--out", type=Path, default=Path("docs/img"))
    ap.add_argument("-n", type=int, default=24)
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    gallery(a.out)
    res = run(a.data, a.out, a.n)
    cols: list[dict[str, tuple[float, float, int]]] = []
    for key in ("real", "phantom", "phantom_hard"):
        c = res[key]
        assert isinstance(c, dict)
        cols.append(c)
    print("| quantity | real | phantom default | phantom hard |")
    print("|---|---|---|---|")
    for k in sorted(set(cols[0]) | set(cols[1]) | set(cols[2])):
        cells = [f"{c[k][0]:.3g} ± {c[k][1]:.2g} (n={c[k][2]})" if k in c else "—" for c in cols]
        print(f"| {k} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
