"""``sarco finetune (COHORT | --from-store [--cases GLOB]) --out DIR [--base NAME|DIR]``: fine-tune a model on a
site's expert masks."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

NAME = "finetune"
HELP = (
    "Fine-tune the active (or --base) model on the expert masks of an import set or manifest, or (--from-store) "
    "on the latest edited or imported mask of each case in the case store, with a seeded "
    "held-out split by patient and early stopping on the held-out Dice; resumable (--resume); CPU or CUDA. Writes "
    "a model folder (config.json with parent and data summary, CHANGELOG.md, model.onnx, heldout.json) and "
    "registers it as a candidate; promote it with `sarco models promote NAME`."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "cohort",
        nargs="?",
        default=None,
        help="import set folder or CSV manifest of image + expert mask pairs (as for validate); omit with --from-store",
    )
    p.add_argument(
        "--from-store",
        action="store_true",
        help="train on the case store ($SARCO_DB_URL): per case its latest saved edit or imported mask (sources "
        "edit, import, imported:<format>); cases are grouped by the store's salted patient hash for the split",
    )
    p.add_argument("--cases", default=None, metavar="GLOB", help="with --from-store: only case labels matching GLOB")
    p.add_argument("--out", required=True, help="new model folder; its name is the model's registry name")
    p.add_argument("--base", default=None, help="registry name or model folder to start from (default: active)")
    p.add_argument("--steps", type=int, default=120, help="training steps at most (default 120)")
    p.add_argument("--eval-every", type=int, default=20, help="held-out evaluation every N steps (default 20)")
    p.add_argument("--patience", type=int, default=3, help="stop after N evaluations without held-out gain")
    p.add_argument("--heldout-fraction", type=float, default=0.25, help="share of patients held out (default 0.25)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument(
        "--replay-phantoms",
        type=int,
        default=0,
        help="mix N standard phantoms (the package's convention) into every batch, to keep standard performance",
    )
    p.add_argument("--replay-fraction", type=float, default=0.5, help="share of each batch from them (default 0.5)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run of the same --out")
    p.add_argument("--no-register", action="store_true", help="do not add the result to the model registry")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sarco_core.model_registry import HeldOutScores, Registry, resolve_model
    from sarco_core.segment.base import default_model_dir
    from sarco_core.train.finetune import FinetuneConfig, FinetuneError, finetune
    from sarco_core.validate.store_cases import resolve_cohort

    log = logging.getLogger("sarco.train")
    if not log.handlers:
        h = logging.StreamHandler(sys.stdout)
        h.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
        log.addHandler(h)
        log.setLevel(logging.INFO)
        log.propagate = False
    out = Path(args.out)
    if (out / "config.json").exists() and not args.resume:
        raise FinetuneError(f"{out} already holds a model; choose a new --out name (models are never overwritten).")
    base = resolve_model(args.base) if args.base else default_model_dir()
    if base is None:
        raise FinetuneError("No base model: install models/<name> or pass --base.")
    cfg = FinetuneConfig(
        name=out.name,
        steps=args.steps,
        eval_every=args.eval_every,
        patience=args.patience,
        heldout_fraction=args.heldout_fraction,
        seed=args.seed,
        lr=args.lr,
        batch=args.batch,
        device=args.device,
        replay_fraction=args.replay_fraction if args.replay_phantoms > 0 else 0.0,
    )
    if args.replay_phantoms < 0:
        raise FinetuneError(f"--replay-phantoms must be >= 0, got {args.replay_phantoms}.")
    replay = []
    if args.replay_phantoms:
        from sarco_core.validate.site_phantoms import REPLAY_SEED0, SiteConvention, site_cases

        replay = site_cases(args.replay_phantoms, convention=SiteConvention.STANDARD, seed0=REPLAY_SEED0)
    cases, from_store = resolve_cohort(args.cohort, from_store=args.from_store, label_glob=args.cases)
    if from_store is not None:
        print(from_store.describe())
    res = finetune(
        cases,
        base_dir=base,
        out_dir=out,
        cfg=cfg,
        resume=args.resume,
        origin=from_store.origin() if from_store is not None else None,
        replay=replay,
    )
    import json

    h = json.loads(res.heldout_json.read_text())
    c, p = HeldOutScores.from_dict(h["child"]), HeldOutScores.from_dict(h["parent"])
    print(
        f"model written to {res.model_dir} (best step {res.best_step}; {res.train_patients} train / "
        f"{res.heldout_patients} held-out patients)"
    )
    print(
        f"held-out ({c.n_cases} cases): median gated Dice parent {p.dice_median:.4f} -> child {c.dice_median:.4f}; "
        f"median |SMA error| {p.sma_abs_error_pct_median:.2f} % -> {c.sma_abs_error_pct_median:.2f} %"
    )
    if not args.no_register:
        reg = Registry.load()
        parent_name = next((e.name for e in reg.entries if Path(e.path).resolve() == base.resolve()), base.name)
        if parent_name not in {e.name for e in reg.entries}:
            print(f"not registered: the base {base} is not in the registry")
            return 0
        reg.register(out, parent=parent_name, child_scores=c, parent_scores=p)
        print(f"registered {out.name} as a candidate; promote with: sarco models promote {out.name}")
    return 0
