"""Final checks of a trained model (``python -m sarco_core.train.report MODEL_DIR [--json OUT]``).

* held-out phantom slices (seeds never trained on): model vs teacher, HU-gated Dice and SMA error;
* held-out real slices: agreement with the teacher's pseudo-labels;
* plausibility on the six real upper-lumbar slices (SMA 60-250 cm², muscle HU 0-70);
* silver standard (``totalsegmentator/``, final check only, never used for training or tuning): Dice / SMA error
  for model, teacher and threshold, and Spearman(confidence, Dice) over its slices plus corrupted variants
  (noise, FOV truncation, metal streaks);
* CPU time per 512² slice with the default TTA (torch and ONNX Runtime when exported).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sarco_core import settings
from sarco_core.metrics import gated, gated_dice, gated_scores
from sarco_core.segment.base import SliceSegmenter
from sarco_core.volume import Volume

if TYPE_CHECKING:
    from sarco_core.phantom.slice import PhantomSlice

DATA = settings.shared_data()
LUMBAR = ("A027284", "A058062", "A062055")


def _summ(d: list[float], e: list[float]) -> dict[str, float]:
    ae = np.abs(np.asarray(e, float))
    signed = {"sma_error_pct_signed_median": float(np.median(e))} if len(e) else {}
    return {
        "n": len(d),
        "dice_median": float(np.median(d)),
        "dice_mean": float(np.mean(d)),
        "dice_min": float(np.min(d)),
        "sma_abs_error_pct_median": float(np.median(ae)) if len(ae) else float("nan"),
        "sma_abs_error_pct_max": float(np.max(ae)) if len(ae) else float("nan"),
        **signed,
    }


def _score(vol: Volume, k: int, truth: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    d, err = gated_scores(vol.hu[k], truth, pred, vol.pixel_area_mm2 / 100)
    return d, err or 0.0


def _score_phantom(
    res: dict[str, tuple[list[float], list[float]]], segs: dict[str, SliceSegmenter], ph: PhantomSlice
) -> None:
    """Segment one phantom slice with every method in ``segs``; append its (gated Dice, SMA error %) to ``res``."""
    vol = Volume.from_array(hu=ph.hu[None], spacing_mm=(3.0, *ph.spacing_mm))
    for n, seg in segs.items():
        r = seg.segment(vol, [0])[0]
        d, e = _score(vol, 0, ph.labels == 1, r.labels == 1)
        res[n][0].append(d)
        res[n][1].append(e)


def phantom_heldout(segs: dict[str, SliceSegmenter], seeds: range) -> dict[str, Any]:
    from sarco_core.phantom.slice import phantom_slice

    levels = ("T11", "T12", "L1", "L2", "L3", "L3", "L4")
    res: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in segs}
    for s in seeds:
        rng = np.random.default_rng([s, 99])
        ph = phantom_slice(s, level=levels[s % len(levels)], pixel_mm=float(rng.uniform(0.6, 1.0)))
        _score_phantom(res, segs, ph)
    return {n: _summ(*v) for n, v in res.items()}


HARD_SEEDS = tuple(range(7000, 7008))  # the phantom package's held-out hard-contact seeds (hard_check.HELD_OUT)
HARD_LEVELS = ("T12", "L1", "L2", "L3")


def phantom_hard_heldout(segs: dict[str, SliceSegmenter], pixel_mm: float = 0.8) -> dict[str, Any]:
    """Held-out ``contacts="hard"`` phantoms (organs against the muscle with no fat plane, crura, vessels by the
    spine): 8 seeds x T12-L3 at 0.8 mm, 410 mm field of view, as ``python -m validation.teacher_hard_check``."""
    from sarco_core.phantom.slice import phantom_slice

    res: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in segs}
    for s in HARD_SEEDS:
        for lv in HARD_LEVELS:
            ph = phantom_slice(s, level=lv, pixel_mm=pixel_mm, size=int(round(410.0 / pixel_mm)), contacts="hard")
            _score_phantom(res, segs, ph)
    return {n: _summ(*v) for n, v in res.items()}


def real_checks(segs: dict[str, SliceSegmenter]) -> dict[str, Any]:
    from sarco_core.io.loader import load

    rows = []
    for pid in LUMBAR:
        for f in sorted((DATA / "tcia_covid19_ny_sbu" / pid / "axial").glob("*.dcm")):
            vol = load(f)
            row: dict[str, Any] = {"slice": f"{pid}/{f.name}"}
            labels = {}
            for n, seg in segs.items():
                r = seg.segment(vol, [0])[0]
                labels[n] = r.labels
                sp = vol.spacing_mm
                from sarco_core.metrics import measure_slice

                m = measure_slice(vol.hu[0], r.labels, row_mm=sp.row, col_mm=sp.col, kind="labels")
                row[n] = {
                    "sma_cm2": round(m.sma_cm2, 1),
                    "muscle_hu": round(m.muscle_hu_mean or float("nan"), 1),
                    "confidence": round(r.confidence, 3),
                    "qc_flags": list(r.qc_flags),
                    "plausible": bool(60 <= m.sma_cm2 <= 250 and 0 <= (m.muscle_hu_mean or -1) <= 70),
                }
            if "model" in labels and "teacher" in labels:
                row["model_vs_teacher_gated_dice"] = round(
                    gated_dice(vol.hu[0], labels["teacher"] == 1, labels["model"] == 1), 3
                )
            rows.append(row)
    return {"slices": rows}


def silver(segs: dict[str, SliceSegmenter], seed: int = 0) -> dict[str, Any]:
    """Silver standard: per method Dice/SMA error; Spearman(confidence, Dice) for the model over corrupted copies."""
    from scipy.stats import spearmanr

    from sarco_core.io.loader import load, load_mask
    from sarco_core.metrics import reference_muscle
    from sarco_core.train.augment import add_noise, fov_truncate, metal_streaks

    ts = DATA / "totalsegmentator"
    vol = load(ts / "example_ct_sm.nii.gz")
    truth = reference_muscle(np.asarray(load_mask(ts / "example_ct_sm_tissue" / "skeletal_muscle.nii.gz").hu))
    idx = [int(i) for i in np.nonzero(truth.reshape(truth.shape[0], -1).any(1))[0]]
    out: dict[str, Any] = {"n_slices": len(idx)}
    per_slice: dict[str, list[dict[str, float]]] = {}
    for n, seg in segs.items():
        rs = seg.segment(vol, idx)
        sc = [_score(vol, r.index, truth[r.index], r.labels == 1) for r in rs]
        out[n] = _summ([s[0] for s in sc], [s[1] for s in sc])
        per_slice[n] = [
            {
                "index": r.index,
                "z_mm": round(float(vol.z_mm[r.index]), 1),
                "dice": round(s[0], 4),
                "error_pct": round(s[1], 2),
                "confidence": round(r.confidence, 3),
            }
            for r, s in zip(rs, sc, strict=True)
        ]
    out["per_slice"] = per_slice
    if "model" in segs:
        rng = np.random.default_rng(seed)
        variants: dict[str, np.ndarray] = {"clean": np.asarray(vol.hu, np.float32)}
        hu0 = variants["clean"]
        variants["noise60"] = np.stack([add_noise(h, 60.0, rng) for h in hu0])
        variants["noise150"] = np.stack([add_noise(h, 150.0, rng) for h in hu0])
        variants["truncated"] = np.stack([fov_truncate(h, None, 0.36)[0] for h in hu0])
        variants["streaks"] = np.stack([metal_streaks(h, rng, n_lines=14, amp_hu=700.0) for h in hu0])
        conf, dices, kinds = [], [], []
        for name, hu in variants.items():
            v = Volume.from_canonical(hu=hu, affine=vol.affine)
            for r in segs["model"].segment(v, idx):
                conf.append(r.confidence)
                dices.append(_score(v, r.index, truth[r.index], r.labels == 1)[0])
                kinds.append(name)
        rho = spearmanr(conf, dices).statistic
        by = {
            k: {
                "dice_median": float(np.median([d for d, kk in zip(dices, kinds, strict=True) if kk == k])),
                "confidence_median": float(np.median([c for c, kk in zip(conf, kinds, strict=True) if kk == k])),
            }
            for k in variants
        }
        worst = np.argsort(dices)[: max(1, len(dices) // 10)]
        flagged = [i for i, c in enumerate(conf) if c < 0.7]
        out["confidence"] = {
            "spearman_confidence_dice": float(rho),
            "n": len(conf),
            "by_variant": by,
            "flagged_low_confidence": len(flagged),
            "worst_decile_flagged_frac": float(np.mean([conf[i] < 0.7 for i in worst])),
        }
    return out


def overlays(seg: SliceSegmenter, out_png: Path) -> None:
    """Montage of the six real upper-lumbar slices (W400 L40) with the model's labels: red muscle (HU-gated),
    yellow SAT, blue VAT."""
    from PIL import Image

    from sarco_core.io.loader import load

    tiles = []
    for pid in LUMBAR:
        for f in sorted((DATA / "tcia_covid19_ny_sbu" / pid / "axial").glob("*.dcm")):
            vol = load(f)
            hu = np.asarray(vol.hu[0], np.float32)
            lab = seg.segment(vol, [0])[0].labels
            g = np.clip((hu + 160) / 400, 0, 1) * 255
            rgb = np.stack([g, g, g], -1)
            for _k, c, m in (
                (1, (255, 30, 30), gated(hu, lab == 1)),
                (2, (255, 210, 0), lab == 2),
                (3, (0, 170, 255), lab == 3),
            ):
                rgb[m] = 0.5 * rgb[m] + 0.5 * np.array(c)
            tiles.append(Image.fromarray(rgb.astype(np.uint8)).resize((384, 384)))
    w = Image.new("RGB", (384 * 3, 384 * 2))
    for i, t in enumerate(tiles[:6]):
        w.paste(t, ((i % 3) * 384, (i // 3) * 384))
    w.save(out_png)


def timing(model_dir: Path, n: int = 8) -> dict[str, float]:
    from sarco_core.phantom.slice import phantom_slice
    from sarco_core.segment.model import Segmenter

    hu = np.stack([phantom_slice(s, pixel_mm=0.78).hu for s in range(n)])
    vol = Volume.from_array(hu=hu, spacing_mm=(3.0, 0.78, 0.78))
    out = {}
    for backend in ("torch", "onnx"):
        if backend == "onnx" and not (model_dir / "model.onnx").is_file():
            continue
        seg = Segmenter.from_dir(model_dir, backend=backend, device="cpu")
        seg.segment(vol, [0])
        for b in (1, 8):
            t0 = time.perf_counter()
            for i in range(0, n, b):
                seg.segment(vol, list(range(i, min(n, i + b))), batch_size=b)
            out[f"{backend}_tta_batch{b}_ms_per_slice"] = round((time.perf_counter() - t0) / n * 1000, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model_dir")
    ap.add_argument("--json", default=None)
    ap.add_argument("--overlay", default=None, help="write the upper-lumbar overlay montage PNG here")
    ap.add_argument("--skip", nargs="*", default=[], help="phantom hard real silver timing")
    a = ap.parse_args(argv)
    from sarco_core.segment.model import Segmenter
    from sarco_core.segment.teacher import TeacherSegmenter
    from sarco_core.segment.threshold import ThresholdSegmenter

    d = Path(a.model_dir)
    segs: dict[str, SliceSegmenter] = {"model": Segmenter.from_dir(d, backend="torch"), "teacher": TeacherSegmenter()}
    rep: dict[str, Any] = {"model_dir": str(d)}
    if "phantom" not in a.skip:
        rep["phantom_heldout"] = phantom_heldout(segs, range(910_000, 910_021))
        print(json.dumps(rep["phantom_heldout"]), flush=True)
    if "hard" not in a.skip:
        rep["phantom_hard_heldout"] = phantom_hard_heldout(segs)
        print(json.dumps(rep["phantom_hard_heldout"]), flush=True)
    if "real" not in a.skip:
        rep["real_upper_lumbar"] = real_checks(segs)
        print(json.dumps(rep["real_upper_lumbar"]), flush=True)
    if "silver" not in a.skip:
        rep["silver_standard"] = silver({**segs, "threshold": ThresholdSegmenter()})
        print(json.dumps({k: v for k, v in rep["silver_standard"].items() if k != "per_slice"}), flush=True)
    if "timing" not in a.skip:
        rep["timing"] = timing(d)
        print(json.dumps(rep["timing"]), flush=True)
    if a.overlay:
        overlays(segs["model"], Path(a.overlay))
    if a.json:
        Path(a.json).write_text(json.dumps(rep, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
