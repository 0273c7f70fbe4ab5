"""``sarco train CONFIG [--resume]``: train the muscle U-Net (seeded, logged, resumable)."""

from __future__ import annotations

import argparse
import os

from sarco_core.errors import require_training

NAME = "train"
HELP = "Train the muscle U-Net from a JSON config (models/<name>/train.json); --resume continues a run."


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="training config JSON (e.g. models/sarco-unet-v1/train.json, configs/train_ci.json)")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's checkpoints")
    p.add_argument("--stop-after", type=int, default=None, help=argparse.SUPPRESS)  # tests: simulate a crash


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    require_training("sarco train")
    from sarco_core.train.config import load_config
    from sarco_core.train.loop import Interrupted
    from sarco_core.train.run import train

    cfg = load_config(args.config)
    try:
        out = train(cfg, resume=args.resume, stop_after=args.stop_after)
    except Interrupted as exc:
        print(f"interrupted: {exc}; continue with: sarco train {args.config} --resume")
        return 3
    print(f"model written to {out}")
    return 0
