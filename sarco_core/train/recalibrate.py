"""Refit a shipped model's confidence calibration on real CT as well as phantoms.

``python -m sarco_core.train.recalibrate [MODEL_DIR] [--write]``: the isotonic map raw score -> expected gated Dice
(``sarco_core.train.validate.calibrate``) is fitted on the 40 held-out phantom slices of training (seeds
900000-900039) **plus** the reviewed real slices (``validation/reviewed/``, native pixels and re-acquired at 3 mm
by the gated-area convention), each with its corrupted variants (noise, coarse pixels, FOV truncation, metal
streaks). Phantom-only calibration is optimistic on real CT (phantoms are easier); the reviewed slices bring real
anatomy and noise into the fit. Prints the old and new maps and the Spearman correlation; ``--write`` stores the
new map in ``MODEL_DIR/config.json`` (``confidence.calibration``, ``confidence.calibrated_on``). The weights are not
touched. Never uses the validation patient.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from sarco_core.io import load
from sarco_core.segment.model import Segmenter
from sarco_core.segment.model.prep import resample_labels, resample_slice
from sarco_core.train.coarse import coarse_copy
from sarco_core.train.data import SliceSet, build_phantoms
from sarco_core.train.validate import calibrate
from validation.reviewed import load_reviewed, names

REPO = Path(__file__).resolve().parents[2]
PHANTOM_VAL = range(900_000, 900_040)
COARSE_MM = 3.0
SEED = 1


def reviewed_set(pixel_mm: float) -> SliceSet:
    """The reviewed slices on the model grid (label 1 = reviewed muscle), native and re-acquired at 3 mm."""
    s = SliceSet()
    for name in names():
        path, k, mask = load_reviewed(name)
        vol = load(path)
        hu = np.asarray(vol.hu[k], np.float32)
        r, c = vol.spacing_mm.row, vol.spacing_mm.col
        lab = mask.astype(np.uint8)
        s.add(resample_slice(hu, r, c, pixel_mm), resample_labels(lab, r, c, pixel_mm), name)
        h3, l3 = coarse_copy(hu, lab, r, c, COARSE_MM, pixel_mm)
        s.add(h3, l3, f"{name}@{COARSE_MM:g}mm")
    return s


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir", nargs="?", type=Path, default=REPO / "models" / "sarco-unet-v1")
    ap.add_argument("--write", action="store_true", help="store the new calibration in config.json")
    a = ap.parse_args(argv)
    seg = Segmenter.from_dir(a.model_dir, backend="torch")
    arch = seg.cfg.arch
    assert seg.net is not None  # backend="torch"
    phantoms = build_phantoms(PHANTOM_VAL, arch.pixel_size_mm)
    real = reviewed_set(arch.pixel_size_mm)
    cal, stats = calibrate(seg.net, phantoms, arch, seg.device, SEED, extra=real)
    cfg_path = a.model_dir / "config.json"
    cfg = json.loads(cfg_path.read_text())
    print("old:", json.dumps(cfg["confidence"]["calibration"]))
    print("new:", json.dumps(cal.to_dict()))
    print(
        f"points {stats['n']} ({len(phantoms.labelled()) * 5} phantom, {len(real) * 5} reviewed real), "
        f"Spearman(raw, Dice) {stats['spearman_conf_dice']:.3f}, median Dice {stats['dice_median']:.3f}"
    )
    if a.write:
        cfg["confidence"]["calibration"] = cal.to_dict()
        cfg["confidence"]["calibrated_on"] = (
            "40 held-out phantom slices (seeds 900000-900039) and the 9 reviewed real slices of validation/reviewed "
            "(native and re-acquired at 3 mm), each with corrupted variants (noise, coarse pixels, FOV truncation, "
            "metal streaks): python -m sarco_core.train.recalibrate; confidence ~ expected gated muscle Dice"
        )
        cfg_path.write_text(json.dumps(cfg, indent=2) + "\n")
        print(f"written to {cfg_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
