"""Site-adaptation demonstration (docs/site-adaptation.md): a phantom "site" whose patients differ in the
images (default ``--site anasarca``: oedematous subcutaneous fat, traced by the package's convention); validate the
shipped model, fine-tune on the training patients with standard phantoms replayed in every batch, compare parent
and child on the held-out patients, check the standard held-out phantoms, promote by the registry rule.
``--site psoas_ql_separate --replay-fraction 0`` reruns the contrasting case (a site convention that contradicts
the Alberta protocol).

    nice python -m benchmarks.site_adaptation --out /tmp/site-demo [--n 40 --steps 120 --eval-every 20]

Prints the figures the doc records. CPU on 2 cores: a few minutes (most of it the fine-tuning steps).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import machine


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=40, help="site patients (one slice each)")
    ap.add_argument("--n-standard", type=int, default=10, help="standard-convention held-out phantoms")
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--eval-every", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument(
        "--n-standard-fresh", type=int, default=10, help="more standard phantoms, seeds after the --n-standard ones"
    )
    ap.add_argument("--site", choices=("anasarca", "psoas_ql_separate"), default="anasarca")
    ap.add_argument("--replay-fraction", type=float, default=0.5, help="share of each batch from standard phantoms")
    ap.add_argument("--n-replay", type=int, default=30, help="standard phantoms replayed (seeds 800 000..)")
    a = ap.parse_args(argv)

    import os

    out = Path(a.out)
    os.environ.setdefault("SARCO_MODELS_HOME", str(out / "registry"))
    from sarco_core.model_registry import HeldOutScores, Registry
    from sarco_core.segment.base import default_model_dir
    from sarco_core.segment.model import Segmenter
    from sarco_core.train.finetune import FinetuneConfig, finetune, split_by_patient
    from sarco_core.validate.compare import validate_cases
    from sarco_core.validate.report import write_report
    from sarco_core.validate.site_phantoms import (
        REPLAY_SEED0,
        SiteConvention,
        SitePopulation,
        site_cases,
        write_site_folder,
    )

    log = logging.getLogger("sarco.train")
    log.addHandler(logging.StreamHandler(sys.stdout))
    log.setLevel(logging.INFO)
    log.propagate = False
    t0 = time.time()
    if a.site == "anasarca":
        cases = site_cases(a.n, convention=SiteConvention.STANDARD, population=SitePopulation.ANASARCA)
    else:
        cases = site_cases(a.n, convention=SiteConvention.PSOAS_QL_SEPARATE)
    replay = (
        site_cases(a.n_replay, convention=SiteConvention.STANDARD, seed0=REPLAY_SEED0) if a.replay_fraction > 0 else []
    )
    man = write_site_folder(cases, out / "site")
    base = default_model_dir()
    assert base is not None
    parent = Segmenter.from_dir(base, backend="torch")
    rep0 = validate_cases(cases, parent)
    write_report(rep0, out / "report_before")
    cfg = FinetuneConfig(
        name="site-demo",
        steps=a.steps,
        eval_every=a.eval_every,
        seed=a.seed,
        replay_fraction=a.replay_fraction,
        lr=a.lr,
    )
    train_c, hold_c = split_by_patient(cases, cfg.heldout_fraction, cfg.seed)
    t1 = time.time()
    res = finetune(cases, base_dir=base, out_dir=out / "models" / "site-demo", cfg=cfg, replay=replay)
    t_ft = time.time() - t1
    child = Segmenter.from_dir(res.model_dir, backend="torch")
    before, after = validate_cases(hold_c, parent), validate_cases(hold_c, child)
    write_report(after, out / "report_after_heldout")
    std = site_cases(a.n_standard, convention=SiteConvention.STANDARD, seed0=900_000)
    std_p, std_c = validate_cases(std, parent), validate_cases(std, child)
    fresh = site_cases(a.n_standard_fresh, convention=SiteConvention.STANDARD, seed0=900_000 + a.n_standard)
    fresh_p, fresh_c = (validate_cases(fresh, parent), validate_cases(fresh, child)) if fresh else (None, None)
    h = json.loads(res.heldout_json.read_text())
    reg = Registry.load().register(
        res.model_dir,
        parent=base.name,
        child_scores=HeldOutScores.from_dict(h["child"]),
        parent_scores=HeldOutScores.from_dict(h["parent"]),
    )
    try:
        reg, decision = reg.promote("site-demo")
    except Exception as exc:  # the refusal is a result too
        decision = f"refused: {exc}"

    def med(r: object) -> tuple[float, float]:
        return float(r.dice.median), float(r.sma_abs_error_pct.median)  # type: ignore[attr-defined]

    (d0, e0), (d1, e1) = med(before), med(after)
    figures = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": f"{machine().get('cpu') or platform.machine()}, {os.cpu_count()} CPUs (shared)",
        "site": a.site,
        "site_cases": a.n,
        "replay": {"fraction": a.replay_fraction, "cases": len(replay), "seed0": REPLAY_SEED0},
        "steps": a.steps,
        "eval_every": a.eval_every,
        "lr": cfg.lr,
        "train_cases": len(train_c),
        "heldout_cases": len(hold_c),
        "all_site_before": {
            "dice_median": med(rep0)[0],
            "sma_abs_error_pct_median": med(rep0)[1],
            "sma_bias_cm2": rep0.agreement[0].bland_altman.bias,
        },
        "heldout_before": {"dice_median": d0, "sma_abs_error_pct_median": e0},
        "heldout_after": {
            "dice_median": d1,
            "sma_abs_error_pct_median": e1,
            "sma_bias_cm2": after.agreement[0].bland_altman.bias,
            "icc_2_1_sma": after.agreement[0].icc_2_1,
            "ccc_sma": after.agreement[0].lin_ccc,
        },
        "heldout_before_agreement": {
            "sma_bias_cm2": before.agreement[0].bland_altman.bias,
            "icc_2_1_sma": before.agreement[0].icc_2_1,
            "ccc_sma": before.agreement[0].lin_ccc,
        },
        "dice_gain": d1 - d0,
        "sma_error_reduction_pct": (1 - e1 / e0) * 100 if e0 else float("nan"),
        "standard_phantoms": {
            "n": len(std),
            "parent_dice_median": med(std_p)[0],
            "child_dice_median": med(std_c)[0],
            "dice_change": med(std_c)[0] - med(std_p)[0],
            "parent_sma_abs_error_pct_median": med(std_p)[1],
            "child_sma_abs_error_pct_median": med(std_c)[1],
        },
        "standard_phantoms_fresh": {
            "n": len(fresh),
            "seed0": 900_000 + a.n_standard,
            "parent_dice_median": med(fresh_p)[0],
            "child_dice_median": med(fresh_c)[0],
            "dice_change": med(fresh_c)[0] - med(fresh_p)[0],
            "parent_sma_abs_error_pct_median": med(fresh_p)[1],
            "child_sma_abs_error_pct_median": med(fresh_c)[1],
        }
        if fresh
        else None,
        "best_step": res.best_step,
        "heldout_dice_by_step_model_grid": res.evals,
        "finetune_seconds": round(t_ft, 1),
        "total_seconds": round(time.time() - t0, 1),
        "promotion": decision,
        "manifest": str(man),
    }
    (out / "figures.json").write_text(json.dumps(figures, indent=2, default=float))
    print(json.dumps(figures, indent=2, default=float))
    print(
        f"\nheld-out: Dice {d0:.3f} -> {d1:.3f} (gain {d1 - d0:+.3f}, target >= +0.03); median |SMA error| "
        f"{e0:.1f} % -> {e1:.1f} % ({figures['sma_error_reduction_pct']:.0f} % lower, target >= 30 %); standard "
        f"phantoms Dice change {figures['standard_phantoms']['dice_change']:+.3f} (target >= -0.01)"
    )
    return 0 if np.isfinite(d1) else 1


if __name__ == "__main__":
    raise SystemExit(main())
