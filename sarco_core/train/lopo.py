"""Leave-one-patient-out (LOPO) training and evaluation on reference-labelled real slices.

``python -m sarco_core.train.lopo CONFIG --out DIR [--resume] [--patients A B ...] [--baseline model]``

For every patient that has reference masks (``data.reference_dir`` of CONFIG: index.json + 1-bit PNGs drawn from
the image alone, ``python -m tools.blinded_tool export``), one fold is trained with that patient removed from
every real training input (pseudo-labels, reference labels, self-supervised pool, coarse copies:
``data.exclude_patients``) and tested on that patient's reference slices on their native grid: HU-gated Dice and
SMA error, beside the shipped model (``--baseline``, default the installed model) on the same slices. No fold ever
sees its test patient. Each fold is a normal resumable run (``DIR/fold-<patient>``), so the same command runs on
the CPU in the background (``--resume`` after an interruption) or on CUDA (``device: auto``).

The report (``DIR/lopo.json``) is what a shipping rule written before training is checked against
(models/sarco-unet-v2/SHIPPING_RULE.md); this module never decides.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sarco_core.metrics import DEFAULT_GATES, area_error_pct, gated, gated_dice
from sarco_core.train.config import TrainConfig, TrainConfigError, load_config

# datasets whose real slices sit in one folder per patient (the patient id is that folder's name)
PATIENT_FOLDER_DATASETS = ("tcia_covid19_ny_sbu", "tcia_lung_pet_ct_dx", "lidc_idri_0001")


def patient_of(ct: str) -> str:
    """Patient key of a reference slice's CT path (relative to the shared data): the patient folder for the TCIA
    sets, else the file's stem (one file = one patient: the pydicom single slices)."""
    parts = ct.split("/")
    if parts[0] in PATIENT_FOLDER_DATASETS and len(parts) > 1:
        return parts[1]
    return re.sub(r"\.[^.]+$", "", parts[-1])


@dataclass(frozen=True)
class RefSlice:
    name: str
    ct: str
    k: int
    mask_path: Path

    @property
    def patient(self) -> str:
        return patient_of(self.ct)


def reference_slices(folder: Path) -> list[RefSlice]:
    idx = folder / "index.json"
    if not idx.is_file():
        raise TrainConfigError(
            f"{idx} not found: export the references first (python -m tools.blinded_tool "
            "export --pass 1 --out DIR) and set data.reference_dir to DIR."
        )
    return [
        RefSlice(e["name"], e["ct"], int(e["k"]), folder / e["mask"]) for e in json.loads(idx.read_text())["slices"]
    ]


def folds(refs: Sequence[RefSlice]) -> dict[str, list[RefSlice]]:
    out: dict[str, list[RefSlice]] = {}
    for r in refs:
        out.setdefault(r.patient, []).append(r)
    return out


@dataclass(frozen=True)
class SliceScore:
    name: str
    patient: str
    method: str
    dice: float
    sma_ref_cm2: float
    sma_pred_cm2: float
    error_pct: float | None


def score_slice(ref: RefSlice, segmenter: Any, method: str, shared: Path, volume: Any = None) -> SliceScore:
    """Gated Dice and SMA error of ``segmenter`` against one reference slice, on the slice's native grid.
    ``volume``: the slice's CT already loaded (a staged copy, ``tools/device_stage.py``); else read from ``shared``."""
    from PIL import Image

    if volume is None:
        from sarco_core.io import load

        volume = load(shared / ref.ct)
    vol = volume
    hu = np.asarray(vol.hu[ref.k], np.float32)
    with Image.open(ref.mask_path) as im:
        truth = np.array(im.convert("1"), dtype=bool)
    pred = np.asarray(segmenter.segment(vol, [ref.k])[0].labels) == 1
    px = vol.pixel_area_mm2 / 100.0
    a_t = float(gated(hu, truth, DEFAULT_GATES.muscle).sum()) * px
    a_p = float(gated(hu, pred, DEFAULT_GATES.muscle).sum()) * px
    return SliceScore(ref.name, ref.patient, method, gated_dice(hu, truth, pred), a_t, a_p, area_error_pct(a_t, a_p))


def fold_config(cfg: TrainConfig, patient: str, out: Path) -> TrainConfig:
    """``cfg`` with ``patient`` excluded from every real training input and its own run folder."""
    data = dataclasses.replace(cfg.data, exclude_patients=(*cfg.data.exclude_patients, patient))
    return dataclasses.replace(cfg, data=data, run_dir=str((out / f"fold-{patient}").resolve()))


def summary(scores: Sequence[SliceScore]) -> dict[str, Any]:
    by: dict[str, list[SliceScore]] = {}
    for s in scores:
        by.setdefault(s.method, []).append(s)
    out = {}
    for m, rows in by.items():
        errs = [abs(r.error_pct) for r in rows if r.error_pct is not None]
        out[m] = {
            "n": len(rows),
            "dice_median": float(np.median([r.dice for r in rows])),
            "sma_abs_error_pct_median": float(np.median(errs)) if errs else None,
            "sma_error_pct_signed_median": float(np.median([r.error_pct for r in rows if r.error_pct is not None]))
            if errs
            else None,
        }
    return out


def run_lopo(
    cfg: TrainConfig, out: Path, *, patients: Sequence[str] = (), resume: bool = False, baseline: str | None = "model"
) -> dict[str, Any]:
    from sarco_core.segment.model import Segmenter
    from sarco_core.segment.registry import get_segmenter
    from sarco_core.train.run import train

    if not cfg.data.reference_dir:
        raise TrainConfigError("LOPO needs data.reference_dir (reference masks of real slices) in the config.")
    refs = reference_slices(cfg.resolve(cfg.data.reference_dir))
    shared = cfg.resolve(cfg.shared_data)
    todo = folds(refs)
    if patients:
        unknown = set(patients) - set(todo)
        if unknown:
            raise TrainConfigError(f"No reference slices for patient(s) {sorted(unknown)}; have {sorted(todo)}.")
        todo = {p: todo[p] for p in patients}
    out.mkdir(parents=True, exist_ok=True)
    base = get_segmenter(baseline) if baseline else None
    scores: list[SliceScore] = []
    fold_dirs = {}
    for patient, rows in todo.items():
        model_dir = train(fold_config(cfg, patient, out), resume=resume)
        fold_dirs[patient] = str(model_dir)
        seg = Segmenter.from_dir(model_dir, backend="torch")
        for r in rows:
            scores.append(score_slice(r, seg, f"{cfg.name} {cfg.version} (LOPO)", shared))
            if base is not None:
                scores.append(score_slice(r, base, baseline or "", shared))
    report = {
        "config": cfg.source,
        "reference_dir": cfg.data.reference_dir,
        "folds": fold_dirs,
        "per_slice": [dataclasses.asdict(s) for s in scores],
        "summary": summary(scores),
    }
    (out / "lopo.json").write_text(json.dumps(report, indent=1) + "\n")
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sarco_core.train.lopo", description=__doc__.split("\n")[0])
    ap.add_argument("config")
    ap.add_argument("--out", required=True)
    ap.add_argument("--patients", nargs="*", default=[])
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--baseline", default="model", help="method scored beside each fold ('' for none)")
    a = ap.parse_args(argv)
    rep = run_lopo(
        load_config(a.config), Path(a.out), patients=a.patients, resume=a.resume, baseline=a.baseline or None
    )
    print(json.dumps(rep["summary"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
