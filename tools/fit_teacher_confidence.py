"""Fit the weights of the teacher's mask confidence (:mod:`sarco_core.segment.teacher.confidence`) on phantom
TRAINING seeds: ``python -m tools.fit_teacher_confidence [--first 0] [--seeds 40] [--json OUT]``.

Each seed (from the phantom training range, ``sarco_core.train.config`` ``phantom_train_seeds`` = 0..399; never
the evaluation seeds 1000+ of ``validation.anatomy_rules_eval``, never a real slice or TotalSegmentator) gives the
plain phantom, its corrupted copies (noise, coarse pixels, truncation, streaks) and the issue-15 variants
(anasarca, cachexia, bowel_flank, ascites), segmented by the teacher with the anatomy rules. The weights solve
``Dice ~ intercept - sum(w_i x badness_i)`` by non-negative least squares (``scipy.optimize.nnls``: each badness
can only lower the confidence); evidence that does not vary on these slices keeps its prior weight. Prints the
weights (to be copied into ``confidence.WEIGHTS`` / ``INTERCEPT``), the training fit and Spearman(confidence,
Dice) on these training slices. Not a test.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.optimize import nnls
from scipy.stats import spearmanr

from sarco_core.segment.teacher.confidence import WEIGHTS, MaskEvidence
from sarco_core.segment.teacher.segmenter import segment_slice
from sarco_core.train.config import DataConfig
from validation.anatomy_rules_eval import phantom_cases, score


def collect(first: int, n: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(case ids, evidence matrix (cases x features), gated Dice) of the teacher on seeds first..first+n-1."""
    lo, hi = DataConfig().phantom_train_seeds
    if not (lo <= first and first + n <= hi):
        raise SystemExit(f"Seeds {first}..{first + n - 1} are not all training seeds ({lo}..{hi - 1}).")
    ids, feats, dice = [], [], []
    names = MaskEvidence.names()
    for cid, _kind, hu, truth, (r_mm, c_mm) in phantom_cases(n, first=first):
        labels, _conf, _flags, cues = segment_slice(hu, r_mm, c_mm)
        if names[0] not in cues:  # no trunk / ring: confidence 0 by rule, nothing to fit
            continue
        ids.append(cid)
        feats.append([cues[k] for k in names])
        dice.append(score(hu, truth, labels == 1, r_mm * c_mm / 100.0)[0])
    return ids, np.asarray(feats, np.float64), np.asarray(dice, np.float64)


def fit(feats: np.ndarray, dice: np.ndarray) -> tuple[float, dict[str, float], list[str]]:
    """NNLS of ``dice ~ b - feats @ w`` with b, w >= 0 over the evidence that varies on these slices; the others
    (e.g. ``no_vertebra``: every phantom has a vertebra) keep the module's prior weight. Returns (b, weights, the
    names kept at their prior)."""
    names = MaskEvidence.names()
    varies = np.ptp(feats, axis=0) > 0
    a = np.hstack([np.ones((len(dice), 1)), -feats[:, varies]])
    x, _ = nnls(
        a, dice - feats[:, ~varies] @ np.asarray([WEIGHTS[n] for n, v in zip(names, varies, strict=True) if not v])
    )
    fitted = iter(x[1:])
    w = {n: float(next(fitted)) if v else WEIGHTS[n] for n, v in zip(names, varies, strict=True)}
    return float(x[0]), w, [n for n, v in zip(names, varies, strict=True) if not v]


def cv_spearman(ids: list[str], feats: np.ndarray, dice: np.ndarray, folds: int = 5) -> float:
    """Spearman(confidence, Dice) with the weights refitted without each fold of seeds (seed mod ``folds``)."""
    seeds = np.asarray([int(i.split("/")[0]) for i in ids])
    pred = np.zeros_like(dice)
    for f in range(folds):
        test = seeds % folds == f
        b, w, _ = fit(feats[~test], dice[~test])
        pred[test] = np.clip(b - feats[test] @ np.asarray(list(w.values())), 0.0, 1.0)
    return float(spearmanr(pred, dice).statistic)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=40)
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    t0 = time.time()
    ids, feats, dice = collect(a.first, a.seeds)
    b, w, prior = fit(feats, dice)
    pred = np.clip(b - feats @ np.asarray(list(w.values())), 0.0, 1.0)
    res = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seeds": [a.first, a.first + a.seeds - 1],
        "n": len(dice),
        "intercept": round(b, 4),
        "weights": {k: round(v, 4) for k, v in w.items()},
        "kept_at_prior": prior,
        "train_spearman": round(float(spearmanr(pred, dice).statistic), 3),
        "train_mae_dice": round(float(np.mean(np.abs(pred - dice))), 4),
        "cv5_by_seed_spearman": round(cv_spearman(ids, feats, dice), 3),
        "wall_s": round(time.time() - t0, 1),
    }
    print(json.dumps(res, indent=1))
    if a.json:
        rows = [
            {"id": i, "dice": float(d), **dict(zip(MaskEvidence.names(), map(float, f), strict=True))}
            for i, d, f in zip(ids, dice, feats, strict=True)
        ]
        with open(a.json, "w") as fh:
            json.dump({**res, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
