"""Figures of docs/model.md's teacher section: ``python -m tools.teacher_eval_figs REPORT.json``.

REPORT.json is the output of ``sarco evaluate IMAGE TRUTH --method teacher --json``; the worst, median and best
slices by gated Dice are drawn as docs/img/eval_{worst,median,best}.png (red = both, green = teacher only,
magenta = reference only; HU-gated; pixels shown ×4), and the six real upper-lumbar COVID slices as
docs/img/eval_covid_upper_lumbar.png (red muscle, yellow SAT, blue VAT-labelled fat). ``--covid-only`` skips
the reference figures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sarco_core.io import load, load_mask
from sarco_core.metrics import measure_slice
from sarco_core.segment.teacher import TeacherSegmenter
from validation.teacher_check import COVID, GATE  # the six real upper-lumbar slices, the muscle gate

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data"
IMG = ROOT / "docs" / "img"
TS = DATA / "totalsegmentator"


def _grey(hu: np.ndarray) -> np.ndarray:
    g = np.clip((hu + 160.0) / 400.0, 0.0, 1.0)
    return np.stack([g, g, g], -1)


def _blend(rgb: np.ndarray, mask: np.ndarray, colour: tuple[float, float, float], a: float = 0.55) -> None:
    rgb[mask] = (1 - a) * rgb[mask] + a * np.asarray(colour)


def _save(rgb: np.ndarray, path: Path, title: str, scale: int) -> None:
    img = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    ImageDraw.Draw(img).text((4, 2), title, fill=(255, 255, 0))
    img.save(path)


def reference_figures(report: dict) -> None:
    vol = load(TS / "example_ct_sm.nii.gz")
    truth = np.asarray(load_mask(TS / "example_ct_sm_tissue" / "skeletal_muscle.nii.gz").hu) > 0
    rows = sorted(report["per_slice"], key=lambda r: r["dice"])
    picks = {"worst": rows[0], "median": rows[len(rows) // 2], "best": rows[-1]}
    seg = TeacherSegmenter()
    for name, r in picks.items():
        i = int(r["index"])
        hu = np.asarray(vol.hu[i], np.float32)
        g = (hu >= GATE[0]) & (hu <= GATE[1])
        pred = (seg.segment(vol, [i])[0].labels == 1) & g
        ref = truth[i] & g
        rgb = _grey(hu)
        _blend(rgb, pred & ref, (0.9, 0.1, 0.1))
        _blend(rgb, pred & ~ref, (0.1, 0.9, 0.1), 0.8)
        _blend(rgb, ref & ~pred, (0.9, 0.1, 0.9), 0.8)
        body = hu > -500
        rr = np.nonzero(body.any(axis=1))[0]
        cc = np.nonzero(body.any(axis=0))[0]
        crop = rgb[max(0, rr[0] - 3) : rr[-1] + 4, max(0, cc[0] - 3) : cc[-1] + 4]
        title = (
            f"{name} slice {i} gated Dice {r['dice']:.3f}, SMA {r['sma_true_cm2']:.0f} -> {r['sma_pred_cm2']:.0f} cm2"
        )
        _save(crop, IMG / f"eval_{name}.png", title, 4)


def covid_figure() -> None:
    seg = TeacherSegmenter()
    tiles = []
    for rel in COVID:
        vol = load(DATA / "tcia_covid19_ny_sbu" / rel)
        hu = np.asarray(vol.hu[0], np.float32)
        lab = seg.segment(vol, [0])[0].labels
        sp = vol.spacing_mm
        m = measure_slice(hu, lab, row_mm=sp.row, col_mm=sp.col, kind="labels")
        rgb = _grey(hu)
        _blend(rgb, lab == 2, (0.85, 0.75, 0.1), 0.5)
        _blend(rgb, lab == 3, (0.1, 0.55, 0.75), 0.5)
        _blend(rgb, lab == 1, (0.9, 0.25, 0.3), 0.5)
        img = Image.fromarray((rgb * 255).astype(np.uint8)).resize((320, 320), Image.Resampling.BILINEAR)
        parts = rel.split("/")
        ImageDraw.Draw(img).text(
            (4, 2), f"{parts[0]} {parts[2][:8]}: SMA {m.sma_cm2:.0f} cm2, {m.muscle_hu_mean:.0f} HU", fill=(255, 255, 0)
        )
        tiles.append(img)
    sheet = Image.new("RGB", (960, 640))
    for k, t in enumerate(tiles):
        sheet.paste(t, ((k % 3) * 320, (k // 3) * 320))
    sheet.save(IMG / "eval_covid_upper_lumbar.png")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("report", type=Path, nargs="?")
    ap.add_argument("--covid-only", action="store_true")
    a = ap.parse_args()
    covid_figure()
    if not a.covid_only:
        if a.report is None:
            ap.error("give the evaluate JSON report (or --covid-only)")
        reference_figures(json.loads(a.report.read_text()))


if __name__ == "__main__":
    main()
