"""A resumable, seeded optimisation loop used by every training stage.

Batch ``i`` of a stage is drawn from ``np.random.default_rng([seed, stage_id, i])`` and the torch RNG is
re-seeded per step, so the data order is a function of the step number alone; a checkpoint holds the model,
optimiser, scheduler, step and RNG states, so an interrupted run resumed from it ends with the same weights
as the uninterrupted run (same device and thread count).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sarco_core.train.config import StageConfig

log = logging.getLogger("sarco.train")

BatchFn = Callable[[np.random.Generator], tuple[torch.Tensor, torch.Tensor]]
LossFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


class Interrupted(Exception):
    """Raised after the checkpoint at ``stop_after`` total steps (tests simulate a crash with it)."""


@dataclass
class StageResult:
    losses: list[float]
    seconds: float
    steps: int


def _lr_lambda(warmup: int, total: int) -> Callable[[int], float]:
    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(1, warmup)
        t = (step - warmup) / max(1, total - warmup)
        return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))

    return f


def run_stage(
    *,
    name: str,
    stage_id: int,
    seed: int,
    net: torch.nn.Module,
    cfg: StageConfig,
    batch_fn: BatchFn,
    loss_fn: LossFn,
    run_dir: Path,
    device: str,
    checkpoint_every: int,
    log_every: int,
    resume: bool,
    stop_after: int | None = None,
) -> StageResult:
    """Train ``net`` for ``cfg.steps`` steps (or finish them from the stage's checkpoint)."""
    ckpt_path = run_dir / f"ckpt_{name}.pt"
    net.to(device).train()
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _lr_lambda(cfg.warmup_steps, cfg.steps))
    start = 0
    losses: list[float] = []
    elapsed = 0.0
    if resume and ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        torch.set_rng_state(ck["torch_rng"])
        start, losses, elapsed = int(ck["step"]), list(ck["losses"]), float(ck.get("seconds", 0.0))
        log.info("[%s] resumed at step %d/%d", name, start, cfg.steps)
    t0 = time.time()
    for step in range(start, cfg.steps):
        rng = np.random.default_rng([seed, stage_id, step])
        torch.manual_seed(int(rng.integers(2**31)))
        x, y = batch_fn(rng)
        loss = loss_fn(net, x.to(device), y.to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        done = step + 1
        if done % log_every == 0 or done == cfg.steps:
            recent = losses[-log_every:]
            log.info(
                "[%s] step %d/%d loss %.4f lr %.2e (%.1f s/step)",
                name,
                done,
                cfg.steps,
                float(np.mean(recent)),
                sched.get_last_lr()[0],
                (time.time() - t0) / max(1, done - start),
            )
        if done % checkpoint_every == 0 or done == cfg.steps or (stop_after is not None and done == stop_after):
            _save(ckpt_path, net, opt, sched, done, losses, elapsed + time.time() - t0)
        if stop_after is not None and done == stop_after and done < cfg.steps:
            raise Interrupted(f"stopped after step {done} of stage {name}")
    net.eval()
    return StageResult(losses=losses, seconds=elapsed + time.time() - t0, steps=cfg.steps)


def _save(
    path: Path,
    net: torch.nn.Module,
    opt: torch.optim.Optimizer,
    sched: object,
    step: int,
    losses: list[float],
    seconds: float,
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    torch.save(
        {
            "model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),  # type: ignore[attr-defined]
            "torch_rng": torch.get_rng_state(),
            "step": step,
            "losses": losses,
            "seconds": seconds,
        },
        tmp,
    )
    tmp.replace(path)


def read_progress(run_dir: Path) -> dict[str, dict[str, float]]:
    p = run_dir / "progress.json"
    return json.loads(p.read_text()) if p.exists() else {}


def mark_done(run_dir: Path, name: str, result: StageResult) -> None:
    prog = read_progress(run_dir)
    prog[name] = {
        "steps": result.steps,
        "seconds": round(result.seconds, 1),
        "first_loss": result.losses[0] if result.losses else float("nan"),
        "last_loss": float(np.mean(result.losses[-10:])) if result.losses else float("nan"),
    }
    tmp = run_dir / "progress.json.partial"
    tmp.write_text(json.dumps(prog, indent=2))
    tmp.replace(run_dir / "progress.json")
