"""``sarco train CONFIG``: data preparation -> self-supervised pretraining -> supervised training ->
self-training rounds -> held-out validation -> calibrated model folder. Seeded, logged, resumable."""

from __future__ import annotations

import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from sarco_core.segment.model.prep import build_network
from sarco_core.train import loop, stages
from sarco_core.train.config import StageConfig, TrainConfig
from sarco_core.train.data import Datasets, SliceSet, prepare
from sarco_core.train.export import export_model
from sarco_core.train.validate import calibrate, evaluate_set

log = logging.getLogger("sarco.train")


def setup_logging(run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    log.setLevel(logging.INFO)
    log.propagate = False
    for h in list(log.handlers):
        log.removeHandler(h)
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    for h in (logging.FileHandler(run_dir / "train.log"), logging.StreamHandler(sys.stdout)):
        h.setFormatter(fmt)
        log.addHandler(h)


def pick_device(cfg: TrainConfig) -> str:
    if cfg.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return cfg.device


def _transfer(ssl_state: dict[str, torch.Tensor], net: torch.nn.Module) -> int:
    """Copy encoder and decoder weights from the reconstruction network (the heads differ)."""
    own = net.state_dict()
    take = {
        k: v
        for k, v in ssl_state.items()
        if (k.startswith("encoder.") or k.startswith("decoder.")) and k in own and own[k].shape == v.shape
    }
    net.load_state_dict(take, strict=False)
    return len(take)


def train(cfg: TrainConfig, *, resume: bool = False, stop_after: int | None = None) -> Path:
    """Run (or resume) every stage of ``cfg``; returns the exported model folder."""
    run_dir = cfg.resolve(cfg.run_dir)
    setup_logging(run_dir)
    torch.set_num_threads(max(1, cfg.threads))
    device = pick_device(cfg)
    log.info(
        "sarco train %s -> %s (device %s, %d threads, resume=%s)",
        cfg.source,
        run_dir,
        device,
        torch.get_num_threads(),
        resume,
    )
    (run_dir / "config.used.json").write_text(json.dumps(cfg.raw, indent=2))
    data = prepare(cfg)
    done = loop.read_progress(run_dir) if resume else {}
    steps_before = 0

    def stage_stop(steps: int) -> int | None:
        if stop_after is None:
            return None
        k = stop_after - steps_before
        if k == steps:  # the stage is finished and saved first, then the run stops
            return None
        return k if 0 < k < steps else None

    def maybe_stop() -> None:
        if stop_after is not None and stop_after == steps_before:
            raise loop.Interrupted(f"stopped after {steps_before} steps")

    common: dict[str, Any] = dict(
        seed=cfg.seed,
        run_dir=run_dir,
        device=device,
        checkpoint_every=cfg.checkpoint_every,
        log_every=cfg.log_every,
        resume=resume,
    )
    # ---- stage 0: self-supervised pretraining
    ssl_state = None
    if cfg.ssl.steps > 0:
        final = run_dir / "ssl_final.pt"
        if "ssl" in done and final.exists():
            ssl_state = torch.load(final, weights_only=True)
        else:
            torch.manual_seed(cfg.seed)
            net = build_network(cfg.arch, out_channels=cfg.arch.in_channels)
            pool = data.phantom_train.hu + data.real_train.hu + data.real_val.hu
            res = loop.run_stage(
                name="ssl",
                stage_id=0,
                net=net,
                cfg=cfg.ssl,
                batch_fn=stages.ssl_batch_fn(pool, cfg.arch, cfg.augment, cfg.ssl, cfg.ssl.crop_px or cfg.data.crop_px),
                loss_fn=stages.ssl_loss,
                stop_after=stage_stop(cfg.ssl.steps),
                **common,
            )  # type: ignore[arg-type]
            ssl_state = {k: v.cpu() for k, v in net.state_dict().items()}
            torch.save(ssl_state, final)
            loop.mark_done(run_dir, "ssl", res)
        steps_before += cfg.ssl.steps
        maybe_stop()
    elif cfg.ssl_init_from:
        ssl_state = torch.load(cfg.resolve(cfg.ssl_init_from), weights_only=True)
    # ---- stage 1: supervised
    torch.manual_seed(cfg.seed + 1)
    net = build_network(cfg.arch)
    final = run_dir / "supervised_final.pt"
    if "supervised" in done and final.exists():
        net.load_state_dict(torch.load(final, weights_only=True))
    else:
        if ssl_state is not None and cfg.ssl_init:
            log.info("initialised %d tensors from the self-supervised network", _transfer(ssl_state, net))
        res = _supervised(
            cfg,
            net,
            data.phantom_train,
            data.real_train,
            "supervised",
            1,
            cfg.supervised,
            stage_stop(cfg.supervised.steps),
            common,
            (data.phantom_coarse, data.real_coarse),
        )
        torch.save({k: v.cpu() for k, v in net.state_dict().items()}, final)
        loop.mark_done(run_dir, "supervised", res)
    steps_before += cfg.supervised.steps
    maybe_stop()
    # ---- stages 2..: self-training rounds
    real = data.real_train
    for r in range(cfg.self_training.rounds):
        name = f"selftrain{r + 1}"
        final = run_dir / f"{name}_final.pt"
        if name in done and final.exists():
            net.load_state_dict(torch.load(final, weights_only=True))
        else:
            real, stats = stages.refresh_labels(net, real, cfg.arch, device, cfg.self_training)
            log.info("[%s] refreshed pseudo-labels: %s", name, stats)
            res = _supervised(
                cfg,
                net,
                data.phantom_train,
                real,
                name,
                2 + r,
                cfg.self_training,
                stage_stop(cfg.self_training.steps),
                common,
                (data.phantom_coarse, data.real_coarse),
            )
            torch.save({k: v.cpu() for k, v in net.state_dict().items()}, final)
            loop.mark_done(run_dir, name, res)
        steps_before += cfg.self_training.steps
        maybe_stop()
    return _finish(cfg, net, data, run_dir, device)


def _supervised(
    cfg: TrainConfig,
    net: torch.nn.Module,
    ph: SliceSet,
    real: SliceSet,
    name: str,
    sid: int,
    st: StageConfig,
    stop: int | None,
    common: dict[str, Any],
    coarse: tuple[SliceSet, SliceSet] | None = None,
) -> loop.StageResult:
    batch = st.batch
    crop = st.crop_px or cfg.data.crop_px
    fn = stages.seg_batch_fn(
        ph,
        real,
        cfg.arch,
        cfg.augment,
        batch,
        crop,
        cfg.data.real_fraction,
        cfg.data.real_weights,
        coarse=coarse,
        coarse_fraction=cfg.data.coarse_fraction,
    )
    return loop.run_stage(
        name=name,
        stage_id=sid,
        net=net,
        cfg=st,
        batch_fn=fn,  # type: ignore[arg-type]
        loss_fn=stages.seg_loss,
        stop_after=stop,
        **common,
    )


def _finish(cfg: TrainConfig, net: torch.nn.Module, data: Datasets, run_dir: Path, device: str) -> Path:
    t0 = time.time()
    val = {
        "phantom_val": evaluate_set(net, data.phantom_val, cfg.arch, device),
        "real_val_vs_teacher": evaluate_set(net, data.real_val, cfg.arch, device),
    }
    cal, cal_stats = calibrate(net, data.phantom_val, cfg.arch, device, cfg.seed)
    val["calibration"] = cal_stats
    log.info("validation: %s", json.dumps(val))
    prog = loop.read_progress(run_dir)
    summary = {
        "device": device,
        "device_name": torch.cuda.get_device_name(0)
        if device == "cuda"
        else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "train_seconds": round(sum(v["seconds"] for v in prog.values()), 1),
        "stages": prog,
        "data": {
            "phantom_train_slices": len(data.phantom_train),
            "phantom_train_seeds": list(cfg.data.phantom_train_seeds),
            "real_train_slices": len(data.real_train),
            "real_train_pseudo_labelled": len(data.real_train.labelled()),
            "real_sources": sorted({n.split("#")[0] for n in data.real_train.names}),
            "real_val_slices": len(data.real_val),
            "pseudo_labels": cfg.data.pseudo_labels,
            "phantom_hard_fraction": cfg.data.phantom_hard_fraction,
            "phantom_variant_fraction": cfg.data.phantom_variant_fraction,
            "real_weights": [list(w) for w in cfg.data.real_weights],
            "coarse_fraction": cfg.data.coarse_fraction,
            "coarse_mm": list(cfg.data.coarse_mm),
            "coarse_copies": len(data.phantom_coarse) + len(data.real_coarse),
            **data.sources,
            "self_training_rounds": cfg.self_training.rounds,
            "validation_patient_used": False,
        },
        "validation": val,
    }
    (run_dir / "validation.json").write_text(json.dumps(summary, indent=2))
    out = export_model(cfg, net, run_dir / "model", calibration=cal, summary=summary)
    log.info("exported %s (%.0f s for validation + export)", out, time.time() - t0)
    return out
