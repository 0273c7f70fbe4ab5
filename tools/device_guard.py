"""Time guard of a device run and the mechanical reading of rules 1-2 (the leave-one-patient-out part of a
shipping rule written before training: models/sarco-unet-v2.1/SHIPPING_RULE.md). Pure functions, tested on CPU."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# one device command may run 10 min; the run stops itself by 9.5 min, so its outputs are written and come back
COMMAND_LIMIT_S = 600.0
DEFAULT_BUDGET_S = 570.0
# rule 2: a reference slice may be worse than the incumbent by at most this many percentage points of SMA
RULE2_SLACK_PP = 2.0


@dataclass
class TimeGuard:
    """Seconds left of ``budget_s`` since ``start``; ``fits(need_s)`` = there is room for ``need_s`` more plus
    the ``reserve_s`` kept for writing the outputs."""

    budget_s: float = DEFAULT_BUDGET_S
    reserve_s: float = 20.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    start: float = -1.0

    def __post_init__(self) -> None:
        if not 0 < self.budget_s <= COMMAND_LIMIT_S:
            raise ValueError(f"budget_s must be in (0, {COMMAND_LIMIT_S:.0f}] s, got {self.budget_s}.")
        if self.start < 0:
            self.start = self.clock()

    def elapsed(self) -> float:
        return self.clock() - self.start

    def left(self) -> float:
        return self.budget_s - self.elapsed()

    def fits(self, need_s: float) -> bool:
        return self.left() - self.reserve_s >= need_s

    def must_stop(self) -> bool:
        return self.left() <= self.reserve_s


def _med(v: Sequence[float]) -> float:
    a = np.asarray([x for x in v if x is not None and np.isfinite(x)], float)
    return float(np.median(a)) if a.size else float("nan")


def rules_1_2(rows: Sequence[dict[str, Any]], cand: str, base: str, slack_pp: float = RULE2_SLACK_PP) -> dict[str, Any]:
    """Rules 1-2 on one reference pass. ``rows``: per-slice scores (``name``, ``method``, ``dice``,
    ``error_pct``) of both methods on the same slices. Rule 1: the candidate's median gated Dice is higher AND its
    median |SMA error| lower (ties do not beat). Rule 2: on every slice, |error| of the candidate <= the
    incumbent's + ``slack_pp``."""
    c = {r["name"]: r for r in rows if r["method"] == cand}
    b = {r["name"]: r for r in rows if r["method"] == base}
    if not c or set(c) != set(b):
        raise ValueError(f"both methods must be scored on the same slices: {sorted(c)} vs {sorted(b)}")
    names = sorted(c)

    def err(r: dict[str, Any]) -> float:
        return float("nan") if r["error_pct"] is None else abs(float(r["error_pct"]))

    cd, bd = _med([c[n]["dice"] for n in names]), _med([b[n]["dice"] for n in names])
    ce, be = _med([err(c[n]) for n in names]), _med([err(b[n]) for n in names])
    worse = {n: err(c[n]) - err(b[n]) for n in names}
    bad = sorted(n for n, d in worse.items() if not d <= slack_pp)  # a NaN error fails too
    return {
        "n_slices": len(names),
        "rule1": {
            "candidate_median_dice": cd,
            "incumbent_median_dice": bd,
            "candidate_median_abs_sma_err_pct": ce,
            "incumbent_median_abs_sma_err_pct": be,
            "met": bool(cd > bd and ce < be),
        },
        "rule2": {
            "slack_pp": slack_pp,
            "worst_slice": max(worse, key=lambda n: worse[n] if np.isfinite(worse[n]) else np.inf),
            "worst_excess_pp": max(worse.values()),
            "slices_failing": bad,
            "met": not bad,
        },
    }


def decide(lopo_by_pass: dict[str, dict[str, Any]] | None, rules_3_5: dict[str, Any] | None) -> dict[str, Any]:
    """The rule's decision: every rule on every pass, or no decision when a part is missing (a run cut short)."""
    missing = []
    if not lopo_by_pass:
        missing.append("rules 1-2 (every LOPO fold)")
    if not rules_3_5:
        missing.append("rules 3-5 (the final model's shipping check)")
    if missing or lopo_by_pass is None or rules_3_5 is None:
        return {"decision": "no decision", "missing": missing, "ships": False}
    met = {f"rule{k}_{p}": bool(v[f"rule{k}"]["met"]) for p, v in lopo_by_pass.items() for k in (1, 2)}
    met.update({k: bool(v["met"]) for k, v in rules_3_5.items()})
    ships = all(met.values())
    return {"decision": "ships" if ships else "does not ship", "met": met, "ships": ships}
