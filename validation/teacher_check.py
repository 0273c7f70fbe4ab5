"""Teacher check on the data we may tune on / hold out (never the silver standard).

``python -m validation.teacher_check [--set tune|held|all] [--png DIR]`` prints per-case gated Dice, signed
SMA error (phantoms) or SMA / muscle HU (real slices) and CPU time; with ``--png`` it writes overlays
(red = teacher muscle, green = phantom truth only) to look at.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from sarco_core.io import load
from sarco_core.metrics import gated_dice
from sarco_core.phantom import phantom_slice
from sarco_core.segment.teacher import segment_slice

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
TUNE = (
    [(s, "L3", 0.8) for s in range(1001, 1007)]
    + [(s, lv, 0.7) for s in range(2000, 2006) for lv in ("L1", "L2")]
    + [(s, lv, 3.0) for s in range(1001, 1007) for lv in ("L1", "L3")]
)
HELD = (
    [(s, "L3", 0.8) for s in range(5000, 5008)]
    + [(s, lv, 0.7) for s in range(5100, 5104) for lv in ("L1", "L2")]
    + [(s, lv, 3.0) for s in range(5200, 5204) for lv in ("L1", "L3")]
)
# hard-contact phantoms (organs / bowel / crura against the muscle with no fat plane): tune 6000+, held out 7000+
HARD_TUNE = [(s, lv, px) for s in range(6000, 6004) for lv in ("T12", "L1", "L2", "L3") for px in (0.8, 3.0)]
HARD_HELD = [(s, lv, px) for s in range(7000, 7004) for lv in ("T12", "L1", "L2", "L3") for px in (0.8, 3.0)]
COVID = [
    "A027284/axial/19000925-116.dcm",
    "A027284/axial/19001231-131.dcm",
    "A058062/axial/19001231-084.dcm",
    "A058062/axial/19010108-078.dcm",
    "A062055/axial/19001127-136.dcm",
    "A062055/axial/19001228-131.dcm",
]
GATE = (-29.0, 150.0)


def _png(path: Path, hu: np.ndarray, pred: np.ndarray, truth: np.ndarray | None, scale: int = 1) -> None:
    from PIL import Image

    g = np.clip((hu + 160.0) / 400.0, 0, 1)
    rgb = np.stack([g, g, g], -1)
    edge = pred & ~ndi.binary_erosion(pred)
    rgb[pred] = 0.6 * rgb[pred] + 0.4 * np.array([1.0, 0.0, 0.0])
    rgb[edge] = (1.0, 0.2, 0.2)
    if truth is not None:
        miss = truth & ~pred
        extra = pred & ~truth
        rgb[miss] = (0.0, 1.0, 0.0)
        rgb[extra] = (1.0, 0.0, 1.0)
    img = Image.fromarray((rgb * 255).astype(np.uint8))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    img.save(path)


def run_phantoms(cases: list, png: Path | None, contacts: str = "default") -> list[float]:
    dices, errs = [], []
    for seed, level, px in cases:
        size = 512 if px < 1.5 else 160
        ph = phantom_slice(seed, level=level, pixel_mm=px, size=size, contacts=contacts)
        t0 = time.process_time()
        lab, conf, flags, _ = segment_slice(ph.hu, px, px)
        dt = time.process_time() - t0
        g = (ph.hu >= GATE[0]) & (ph.hu <= GATE[1])
        truth, pred = ph.labels == 1, lab == 1
        d = gated_dice(ph.hu, truth, pred)
        e = ((pred & g).sum() - (truth & g).sum()) / max(1, (truth & g).sum()) * 100
        dices.append(d)
        errs.append(e)
        print(f"ph {seed} {level} {px}mm dice {d:.3f} err {e:+.1f}% conf {conf:.2f} t {dt:.2f}s {','.join(flags)}")
        if png is not None:
            _png(png / f"ph_{contacts}_{seed}_{level}_{px}.png", ph.hu, pred, truth, 4 if px > 1.5 else 1)
    print(
        f"PHANTOM median dice {np.median(dices):.3f} min {np.min(dices):.3f} "
        f"median |err| {np.median(np.abs(errs)):.1f}% signed {np.median(errs):+.1f}%"
    )
    return dices


def _real(name: str, hu: np.ndarray, row_mm: float, col_mm: float, png: Path | None) -> None:
    t0 = time.process_time()
    lab, conf, flags, cues = segment_slice(hu, row_mm, col_mm)
    dt = time.process_time() - t0
    m = (lab == 1) & (hu >= GATE[0]) & (hu <= GATE[1])
    sma = m.sum() * row_mm * col_mm / 100
    mhu = float(hu[m].mean()) if m.any() else float("nan")
    print(
        f"{name:44s} px {row_mm:.2f} SMA {sma:6.1f} HU {mhu:5.1f} conf {conf:.2f} t {dt:.2f}s "
        f"leak {cues.get('wall_leaky_fraction', 0):.2f} {','.join(flags)}"
    )
    if png is not None:
        _png(png / (name.replace("/", "_") + ".png"), hu, lab == 1, None, 3 if row_mm > 1.5 else 1)


def _to_3mm(hu: np.ndarray, px: tuple[float, float]) -> tuple[np.ndarray, float]:
    f = (px[0] / 3.0, px[1] / 3.0)
    return ndi.zoom(hu.astype(np.float32), f, order=1), 3.0


def run_real(png: Path | None) -> None:
    for rel in COVID:
        vol = load(DATA / "tcia_covid19_ny_sbu" / rel)
        hu = np.asarray(vol.hu[0], np.float32)
        sp = (vol.spacing_mm.row, vol.spacing_mm.col)
        _real(rel, hu, *sp, png)
        h3, p3 = _to_3mm(hu, sp)
        _real(rel + "@3mm", h3, p3, p3, png)
    vol = load(DATA / "pydicom" / "pancreas_ct_0001_slice122_j2k.dcm")
    _real("pancreas", np.asarray(vol.hu[0], np.float32), vol.spacing_mm.row, vol.spacing_mm.col, png)
    lung = load(DATA / "tcia_lung_pet_ct_dx" / "Lung_Dx-A0001")
    for i in (0, 2):  # lowest slices (T12/L1, upper abdomen; index 0 is the lowest)
        _real(f"lungdx_{i}", np.asarray(lung.hu[i], np.float32), lung.spacing_mm.row, lung.spacing_mm.col, png)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=["tune", "held", "hard_tune", "hard_held", "real", "all"], default="all")
    ap.add_argument("--png", type=Path)
    a = ap.parse_args()
    if a.png:
        a.png.mkdir(parents=True, exist_ok=True)
    if a.set in ("tune", "all"):
        run_phantoms(TUNE, a.png)
    if a.set in ("held", "all"):
        run_phantoms(HELD, a.png)
    if a.set in ("hard_tune", "all"):
        run_phantoms(HARD_TUNE, a.png, "hard")
    if a.set in ("hard_held", "all"):
        run_phantoms(HARD_HELD, a.png, "hard")
    if a.set in ("real", "all"):
        run_real(a.png)


if __name__ == "__main__":
    main()
