"""``sarco finetune``: adapt a model to a site's expert masks, with a seeded held-out split by patient.

The base model's weights are trained further on the site's training patients with the augmentation, loss and
resumable, seeded loop of ``sarco train`` (:mod:`sarco_core.train.loop`), in chunks of ``eval_every`` steps;
after each chunk the HU-gated muscle Dice on the held-out patients is measured and the best weights are kept
(early stopping after ``patience`` chunks without gain). The result is a model folder (``config.json`` with the
parent model, the training-data summary and sha256; ``CHANGELOG.md``; ``model.onnx``) plus ``heldout.json``: the
parent's and the child's agreement with the held-out cases through the full inference path, which the registry's
promotion rule reads. The same command runs on CPU or CUDA (``device``).

**Replay**: with ``replay`` cases (label maps drawn by the package's convention, e.g. standard phantoms) and
``cfg.replay_fraction`` > 0, that share of every batch's samples is drawn from them instead of the site's training
cases, so the model keeps what it does on standard patients while it adapts (rehearsal against forgetting).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from sarco_core.errors import SarcoError
from sarco_core.metrics import MUSCLE
from sarco_core.segment.model import ModelConfig, load_state_dict, sha256_file
from sarco_core.segment.model.prep import build_network, resample_labels, resample_slice
from sarco_core.train import loop, stages
from sarco_core.train.config import AugmentConfig, StageConfig, TrainConfig
from sarco_core.train.data import SliceSet
from sarco_core.train.export import export_model, export_onnx
from sarco_core.train.validate import calibrate, evaluate_set
from sarco_core.validate.cases import ReferenceCase

log = logging.getLogger("sarco.train")


class FinetuneError(SarcoError):
    """Fine-tuning cannot run on what was given (too few patients, bad settings)."""


@dataclass(frozen=True)
class FinetuneConfig:
    name: str
    version: str = "1.0.0"
    steps: int = 120
    eval_every: int = 20
    patience: int = 3
    batch: int = 4
    lr: float = 3e-4
    crop_px: int = 192
    heldout_fraction: float = 0.25
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 2
    replay_fraction: float = 0.0  # share of each batch's samples drawn from the replay cases

    def __post_init__(self) -> None:
        if not 0.0 <= self.replay_fraction < 1.0:
            raise FinetuneError(f"replay_fraction must be in [0, 1), got {self.replay_fraction}.")
        if not 0.0 < self.heldout_fraction < 1.0:
            raise FinetuneError(f"heldout_fraction must be in (0, 1), got {self.heldout_fraction}.")
        if self.steps < 1 or self.eval_every < 1 or self.steps % self.eval_every:
            raise FinetuneError(f"steps ({self.steps}) must be a positive multiple of eval_every ({self.eval_every}).")


def split_by_patient(
    cases: Sequence[ReferenceCase], heldout_fraction: float, seed: int
) -> tuple[list[ReferenceCase], list[ReferenceCase]]:
    """(train, held-out): whole patients, a seeded permutation of the sorted patient ids."""
    patients = sorted({c.patient_id for c in cases})
    if len(patients) < 2:
        raise FinetuneError(f"Fine-tuning needs cases from >= 2 patients (train and held-out); got {len(patients)}.")
    perm = np.random.default_rng([seed, 1616]).permutation(len(patients))
    n_hold = min(len(patients) - 1, max(1, int(round(heldout_fraction * len(patients)))))
    hold = {patients[i] for i in perm[:n_hold]}
    return [c for c in cases if c.patient_id not in hold], [c for c in cases if c.patient_id in hold]


# labels of the non-muscle pixels of a binary (muscle-only) reference on the model grid: (model-grid HU) -> labels
FillFn = Callable[[np.ndarray], np.ndarray]


def slice_set(cases: Sequence[ReferenceCase], pixel_mm: float, fill: FillFn | None = None) -> SliceSet:
    """The cases at the model pixel size. A label-map reference is used as drawn. A binary (muscle-only) reference
    gives muscle where traced; elsewhere SAT / VAT / background come from ``fill`` (the base model's labels,
    its muscle set to background: the expert said "not muscle" there), or 'ignore' (255) without ``fill``."""
    s = SliceSet()
    for c in cases:
        hu_m = resample_slice(c.hu, c.row_mm, c.col_mm, pixel_mm)
        if c.reference_kind == "labels":
            lab_m = resample_labels(c.reference, c.row_mm, c.col_mm, pixel_mm)
        else:
            muscle = resample_labels(c.muscle.astype(np.uint8), c.row_mm, c.col_mm, pixel_mm) == MUSCLE
            if fill is None:
                rest = np.full(muscle.shape, stages.IGNORE, np.uint8)
            else:
                rest = np.asarray(fill(hu_m), np.uint8)
                rest = np.where(rest == MUSCLE, 0, rest).astype(np.uint8)
            lab_m = np.where(muscle, MUSCLE, rest).astype(np.uint8)
        s.add(hu_m, lab_m, c.case_id)
    return s


@dataclass(frozen=True)
class FinetuneResult:
    model_dir: Path
    heldout_json: Path
    train_patients: int
    heldout_patients: int
    best_step: int
    evals: tuple[tuple[int, float], ...]  # (step, held-out median gated Dice at the model grid)


def _device(cfg: FinetuneConfig) -> str:
    if cfg.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if cfg.device == "cuda" and not torch.cuda.is_available():
        raise FinetuneError("device cuda was asked for but no CUDA device is available; use --device cpu or auto.")
    return cfg.device


def finetune(
    cases: Sequence[ReferenceCase],
    *,
    base_dir: Path,
    out_dir: Path,
    cfg: FinetuneConfig,
    resume: bool = False,
    origin: dict[str, Any] | None = None,
    replay: Sequence[ReferenceCase] = (),
) -> FinetuneResult:
    """Fine-tune ``base_dir``'s model on the training patients of ``cases`` (with ``cfg.replay_fraction`` of each
    batch from the ``replay`` cases); write the model to ``out_dir``. ``origin`` (e.g.
    :meth:`sarco_core.validate.store_cases.StoreCohort.origin`) is kept in the data summary."""
    if cfg.replay_fraction > 0 and not replay:
        raise FinetuneError(f"replay_fraction is {cfg.replay_fraction} but no replay cases were given.")
    if any(c.reference_kind != "labels" for c in replay):
        raise FinetuneError("replay cases must carry label maps (0-3), drawn by the package's convention.")
    torch.set_num_threads(max(1, cfg.threads))
    device = _device(cfg)
    base = ModelConfig.load(base_dir / "config.json")
    arch = base.arch
    train_c, hold_c = split_by_patient(cases, cfg.heldout_fraction, cfg.seed)
    run_dir = out_dir.parent / f".{out_dir.name}.run"
    run_dir.mkdir(parents=True, exist_ok=True)
    _check_same_data(run_dir, cases, origin, resume)
    log.info(
        "finetune %s from %s: %d train / %d held-out cases, device %s",
        cfg.name,
        base.name,
        len(train_c),
        len(hold_c),
        device,
    )
    torch.manual_seed(cfg.seed)
    net = build_network(arch)
    net.load_state_dict(load_state_dict(base_dir / base.weights, base.sha256))
    net.to(device)

    def fill(hu_m: np.ndarray) -> npt.NDArray[np.intp]:
        labels: npt.NDArray[np.intp] = stages.predict_probs(net, hu_m, arch, device).argmax(0)
        return labels

    tr, ho = slice_set(train_c, arch.pixel_size_mm, fill), slice_set(hold_c, arch.pixel_size_mm, fill)
    rp = slice_set(replay, arch.pixel_size_mm) if cfg.replay_fraction > 0 else SliceSet()
    evals_path = run_dir / "evals.json"
    evals: list[tuple[int, float]] = []
    if resume and evals_path.exists():
        evals = [(int(st), float(dc)) for st, dc in json.loads(evals_path.read_text())]
    if not evals:
        evals = [(0, float(evaluate_set(net, ho, arch, device)["dice_median"]))]
    best_path = run_dir / "best.pt"
    if not best_path.exists() or not resume:
        torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, best_path)
    aug = AugmentConfig()
    # the replay set is the batch function's "phantom" pool: a (1 - replay_fraction) share comes from the site
    fn = stages.seg_batch_fn(rp, tr, arch, aug, cfg.batch, cfg.crop_px, 1.0 - cfg.replay_fraction)
    done = loop.read_progress(run_dir) if resume else {}
    for k in range(cfg.steps // cfg.eval_every):
        step = (k + 1) * cfg.eval_every
        name = f"finetune{k + 1}"
        final = run_dir / f"{name}_final.pt"
        if name in done and final.exists():
            net.load_state_dict(torch.load(final, weights_only=True))
            continue
        st = StageConfig(steps=cfg.eval_every, batch=cfg.batch, lr=cfg.lr, warmup_steps=min(5, cfg.eval_every))
        res = loop.run_stage(
            name=name,
            stage_id=100 + k,
            seed=cfg.seed,
            net=net,
            cfg=st,
            batch_fn=fn,
            loss_fn=stages.seg_loss,
            run_dir=run_dir,
            device=device,
            checkpoint_every=10,
            log_every=10,
            resume=resume,
        )
        torch.save({kk: v.detach().cpu() for kk, v in net.state_dict().items()}, final)
        d = float(evaluate_set(net, ho, arch, device)["dice_median"])
        best = max(e[1] for e in evals)
        evals.append((step, d))
        if d > best:
            torch.save({kk: v.detach().cpu() for kk, v in net.state_dict().items()}, best_path)
        evals_path.write_text(json.dumps(evals))
        loop.mark_done(run_dir, name, res)
        log.info("[%s] step %d held-out median gated Dice %.4f (best so far %.4f)", name, step, d, max(best, d))
        best_step = max(evals, key=lambda e: e[1])[0]
        if (step - best_step) // cfg.eval_every >= cfg.patience:
            log.info("early stop: no held-out gain for %d evaluations", cfg.patience)
            break
    best_step = max(evals, key=lambda e: e[1])[0]
    net.load_state_dict(torch.load(best_path, weights_only=True))
    cal, cal_stats = calibrate(net, ho, arch, device, cfg.seed)
    summary = _summary(cfg, base, base_dir, train_c, hold_c, evals, best_step, device, cal_stats, len(replay))
    if origin is not None:
        summary["data"]["origin"] = origin
    tc = TrainConfig(name=cfg.name, version=cfg.version, seed=cfg.seed, arch=arch, raw={"finetune": asdict(cfg)})
    export_model(tc, net, out_dir, calibration=cal, summary=summary)
    _add_lineage(out_dir, base, base_dir, summary)
    export_onnx(out_dir)
    hj = _score_heldout(hold_c, base_dir, out_dir)
    return FinetuneResult(
        model_dir=out_dir,
        heldout_json=hj,
        train_patients=len({c.patient_id for c in train_c}),
        heldout_patients=len({c.patient_id for c in hold_c}),
        best_step=best_step,
        evals=tuple(evals),
    )


def _check_same_data(
    run_dir: Path, cases: Sequence[ReferenceCase], origin: dict[str, Any] | None, resume: bool
) -> None:
    """A resumed run must see the cases (and store versions) it started with, else its split and checkpoints
    belong to other data."""
    ids = sorted(c.case_id for c in cases)
    key = {"cases": ids, "versions": (origin or {}).get("versions")}
    path = run_dir / "data.json"
    if resume and path.exists():
        old = json.loads(path.read_text())
        if old != key:
            gone = sorted(set(old["cases"]) - set(ids))
            new = sorted(set(ids) - set(old["cases"]))
            raise FinetuneError(
                f"--resume: the cases differ from those the run in {run_dir} started with (left out {gone[:5]}, "
                f"new {new[:5]}, or other mask versions). Start a new run with another --out."
            )
    path.write_text(json.dumps(key))


def _summary(
    cfg: FinetuneConfig,
    base: ModelConfig,
    base_dir: Path,
    train_c: Sequence[ReferenceCase],
    hold_c: Sequence[ReferenceCase],
    evals: list[tuple[int, float]],
    best_step: int,
    device: str,
    cal_stats: dict[str, float],
    n_replay: int = 0,
) -> dict[str, Any]:
    return {
        "kind": "finetune",
        "device": device,
        "parent": {"name": base.name, "version": base.version, "sha256": base.sha256, "path": str(base_dir)},
        "data": {
            "train_cases": len(train_c),
            "train_patients": len({c.patient_id for c in train_c}),
            "heldout_cases": len(hold_c),
            "heldout_patients": sorted({c.patient_id for c in hold_c}),
            "reference_kinds": sorted({c.reference_kind for c in train_c}),
            "split": f"seeded permutation of patient ids (seed {cfg.seed}), held-out fraction {cfg.heldout_fraction}",
            "replay_cases": n_replay if cfg.replay_fraction > 0 else 0,
            "replay_fraction": cfg.replay_fraction,
        },
        "heldout_dice_by_step": evals,
        "best_step": best_step,
        "calibration": {**cal_stats, "calibrated_on": "held-out site cases and their corrupted variants"},
    }


def _add_lineage(out_dir: Path, base: ModelConfig, base_dir: Path, summary: dict[str, Any]) -> None:
    p = out_dir / "config.json"
    conf = json.loads(p.read_text())
    conf["parent"] = summary["parent"]
    conf["training_data"] = summary["data"]
    p.write_text(json.dumps(conf, indent=2))
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    (out_dir / "CHANGELOG.md").write_text(
        f"# {conf['name']} {conf['version']}\n\n- {stamp}: fine-tuned from {base.name} {base.version} "
        f"(sha256 {base.sha256[:12]}) on {summary['data']['train_cases']} site cases "
        f"({summary['data']['train_patients']} patients); best held-out step {summary['best_step']}; "
        f"weights sha256 {sha256_file(out_dir / conf['weights'])[:12]}.\n"
    )


def _score_heldout(hold_c: Sequence[ReferenceCase], base_dir: Path, out_dir: Path) -> Path:
    """Parent and child on the held-out cases through the full inference path -> heldout.json."""
    from sarco_core.segment.model import Segmenter
    from sarco_core.validate.compare import validate_cases

    out: dict[str, Any] = {}
    for key, d in (("parent", base_dir), ("child", out_dir)):
        rep = validate_cases(hold_c, Segmenter.from_dir(d, backend="torch"))
        out[key] = {
            "n_cases": len(rep.cases),
            "dice_median": rep.dice.median,
            "sma_abs_error_pct_median": rep.sma_abs_error_pct.median,
            "summary": rep.to_dict(),
        }
    path = out_dir / "heldout.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    return path
