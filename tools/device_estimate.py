"""Measure what one training step of a config costs here, to estimate a device run:
``python -m tools.device_estimate CONFIG [--steps 3] [--json OUT]`` (run with ``nice`` on a shared box).

Per stage (SSL, supervised): the data side of a step (``batch_fn``: sampling and augmentation, numpy on one CPU
core — it stays on the CPU on the device too, and the loop does not overlap it with the network), the network's
forward + backward + optimiser step on this CPU, and the network's floating-point operations per step (counted by
``torch.utils.flop_counter``). A device estimate is then ``steps x (data_s + flops / achieved GPU rate + launch
overhead)`` per training; the rate is an assumption, stated with the result, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sarco_core.segment.model.prep import build_network
from sarco_core.train import stages
from sarco_core.train.config import load_config
from sarco_core.train.data import prepare


def _time(fn: Any, n: int) -> float:
    ts = []
    for i in range(n):
        t = time.perf_counter()
        fn(i)
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def measure(config: Path, steps: int) -> dict[str, Any]:
    from torch.utils.flop_counter import FlopCounterMode

    cfg = load_config(config)
    torch.set_num_threads(max(1, cfg.threads))
    t0 = time.time()
    d = prepare(cfg)  # staged caches: loads only
    load_s = time.time() - t0
    out: dict[str, Any] = {"config": str(config), "threads": torch.get_num_threads(), "cache_load_s": round(load_s, 1)}
    pool = d.phantom_train.hu + d.real_train.hu + d.real_val.hu
    crop_sup = cfg.supervised.crop_px or cfg.data.crop_px
    fns = {
        "ssl": (
            stages.ssl_batch_fn(pool, cfg.arch, cfg.augment, cfg.ssl, cfg.ssl.crop_px or cfg.data.crop_px),
            stages.ssl_loss,
            cfg.arch.in_channels,
            cfg.ssl.steps,
        ),
        "supervised": (
            stages.seg_batch_fn(
                d.phantom_train,
                d.real_train,
                cfg.arch,
                cfg.augment,
                cfg.supervised.batch,
                crop_sup,
                cfg.data.real_fraction,
                cfg.data.real_weights,
                coarse=(d.phantom_coarse, d.real_coarse),
                coarse_fraction=cfg.data.coarse_fraction,
            ),
            stages.seg_loss,
            None,
            cfg.supervised.steps + cfg.self_training.rounds * cfg.self_training.steps,
        ),
    }
    for name, (batch_fn, loss_fn, out_ch, n_steps) in fns.items():
        net = build_network(cfg.arch) if out_ch is None else build_network(cfg.arch, out_channels=out_ch)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
        x0, y0 = batch_fn(np.random.default_rng([cfg.seed, 9, 0]))
        data_s = _time(lambda i, f=batch_fn: f(np.random.default_rng([cfg.seed, 9, i])), steps)

        def step(_i: int, net: Any = net, opt: Any = opt, loss_fn: Any = loss_fn, x: Any = x0, y: Any = y0) -> None:
            loss = loss_fn(net, x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        step(0)  # warm-up
        net_s = _time(step, steps)
        with FlopCounterMode(display=False) as fc:
            step(0)
        out[name] = {
            "steps_in_recipe": n_steps,
            "batch_shape": list(x0.shape),
            "data_s_per_step": round(data_s, 3),
            "cpu_net_s_per_step": round(net_s, 3),
            "gflop_per_step": round(fc.get_total_flops() / 1e9, 1),
            "params_m": round(sum(p.numel() for p in net.parameters()) / 1e6, 2),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.device_estimate", description=__doc__.split("\n")[0])
    ap.add_argument("config")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    rep = measure(Path(a.config), a.steps)
    print(json.dumps(rep, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(rep, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
