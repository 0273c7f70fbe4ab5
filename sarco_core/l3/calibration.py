"""Calibrated probabilities of the L3 decision, one per kind of evidence (read from ``calibration.json``).

The decision (:mod:`sarco_core.l3.decide`) gives each way of placing L3 a probability that it is the true L3. That
probability depends only on the *kind of evidence* behind it (:class:`Evidence`: both counts agree, the sacrum count
only, ...). The values are fitted by ``validation/l3_calibrate.py`` on a calibration seed range of the phantom variant
sweep (disjoint from the evaluation seeds) and stored in ``calibration.json`` next to this module, with the seeds,
date, commit and the counts per kind. :data:`PRIORS` are the round hand-set values of issue 14 (before fitting): the
fit shrinks towards them, and a kind without calibration cases keeps its prior.

Fitting rule (:func:`fit`): per kind, with ``n`` cases of which ``h`` were inside the true L3, the probability is the
mean of the Beta posterior with a Beta prior of ``PRIOR_STRENGTH`` pseudo-cases centred on the hand prior
(``(m·p0 + h) / (m + n)``), capped at ``P_MAX``; one count only is never above two agreeing counts; the counts
disagreeing keep the issue-14 cap (``DISAGREE_CAP``) and the second count never outranks the first. The 95 % Wilson
lower bound of ``h / n`` is stored beside each value for reference.

The plausibility checks of the decision (:class:`Check`: an irregular disc interval next to L3, an L3 outside the
rib- and pelvis-free window) multiply a hypothesis's probability by a factor. The factors are fitted the same way
(schema 2): over the ``n`` calibration decisions whose chosen hypothesis failed that check (``h`` inside L3, mean
kind probability ``p̄``), the lowered probability is the Beta posterior mean ``(m·f0·p̄ + h) / (m + n)`` with the
hand factor ``f0`` as prior, and the factor is that divided by ``p̄``, never above 1 (a failed check never raises a
probability). A schema-1 file (kinds only) keeps the hand factors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sarco_core.errors import CalibrationError

PATH = Path(__file__).with_name("calibration.json")
SCHEMA = 2
SCHEMAS_READ = (1, 2)  # 1: kinds only (the checks keep their hand factors)
PRIOR_STRENGTH = 10.0  # pseudo-cases of the Beta prior: a kind with 10 cases is half data, half hand prior
# Never claim more than this: the phantom is easier than real CT (runs 1-6 in docs/l3.md) and cannot show real
# transitional anatomy; the one held-back real failure was a confidently wrong count. A policy bound, not fitted.
P_MAX = 0.95
DISAGREE_CAP = 0.5  # the confidence never exceeds this when the counts disagree (issue 14)


class Evidence(StrEnum):
    """Kind of evidence behind one L3 hypothesis (``value``: the key in calibration.json)."""

    AGREE = "agree"  # sacrum and rib counts give the same L3
    SACRUM_ONLY = "sacrum_only"
    RIBS_ONLY = "ribs_only"  # rib count only, strong T12 evidence
    RIBS_WEAK = "ribs_weak"  # rib count only, the T12 evidence has a doubt
    DISAGREE_FIRST = "disagree_first"  # the counts disagree: the better-founded count
    DISAGREE_SECOND = "disagree_second"  # ... and the other one
    WINDOW = "window"  # no count: the middle of the rib- and pelvis-free lumbar window
    LUNGS = "lungs"  # no count: three vertebrae below the lung bases
    GUESS = "guess"  # no count: the middle of the spine in view


class Check(StrEnum):
    """A plausibility check on an L3 hypothesis (``value``: the key in calibration.json)."""

    IRREGULAR = "irregular_spacing"  # an irregular disc interval next to L3 (a disc missed or added)
    OUTSIDE_WINDOW = "outside_window"  # L3 outside the rib- and pelvis-free lumbar window


CHECK_PRIORS: dict[Check, float] = {Check.IRREGULAR: 0.85, Check.OUTSIDE_WINDOW: 0.8}  # hand factors (run 7)

ONE_COUNT = frozenset({Evidence.SACRUM_ONLY, Evidence.RIBS_ONLY, Evidence.RIBS_WEAK})

PRIORS: dict[Evidence, float] = {
    Evidence.AGREE: 0.92,
    Evidence.SACRUM_ONLY: 0.72,
    Evidence.RIBS_ONLY: 0.65,
    Evidence.RIBS_WEAK: 0.5,
    Evidence.DISAGREE_FIRST: 0.5,
    Evidence.DISAGREE_SECOND: 0.38,
    Evidence.WINDOW: 0.3,
    Evidence.LUNGS: 0.25,
    Evidence.GUESS: 0.15,
}

# Candidate.source of the chosen hypothesis -> its kind (sarco_core.l3.decide / find name the sources)
_SOURCE_KIND = {
    "sacrum and ribs agree": Evidence.AGREE,
    "sacrum only": Evidence.SACRUM_ONLY,
    "ribs only": Evidence.RIBS_ONLY,
    "ribs only (uncertain T12)": Evidence.RIBS_WEAK,
    "lumbar window": Evidence.WINDOW,
    "lung bases": Evidence.LUNGS,
    "middle of spine": Evidence.GUESS,
}


def evidence_of(source: str, *, disagree: bool, rank: int = 0) -> Evidence | None:
    """The kind of a candidate from its ``source`` and rank (None: a neighbouring level, not a hypothesis)."""
    if disagree and source in ("sacrum", "ribs"):
        return Evidence.DISAGREE_FIRST if rank == 0 else Evidence.DISAGREE_SECOND
    return _SOURCE_KIND.get(source)


@dataclass(frozen=True)
class KindFit:
    """One kind's fitted probability with the data behind it."""

    p: float
    prior: float
    cases: int
    hits: int
    wilson_lower95: float | None


@dataclass(frozen=True)
class CheckFit:
    """One plausibility check's fitted factor with the data behind it (cases: decisions whose chosen hypothesis
    failed the check; hits: of those, inside the true L3)."""

    factor: float
    prior: float
    cases: int
    hits: int


@dataclass(frozen=True)
class Calibration:
    """Probability per kind of evidence and factor per plausibility check, with where they came from (seeds,
    variants, date, commit)."""

    kinds: Mapping[Evidence, KindFit]
    seeds: tuple[int, int]
    variants: tuple[str, ...]
    fitted_utc: str
    commit: str
    checks: Mapping[Check, CheckFit]

    def p(self, kind: Evidence) -> float:
        return self.kinds[kind].p

    def factor(self, check: Check) -> float:
        return self.checks[check].factor

    def to_json(self) -> dict[str, object]:
        return {
            "schema": SCHEMA,
            "what": "L3 decision probabilities per kind of evidence (sarco_core/l3/calibration.py)",
            "refit": "nice python -m validation.l3_calibrate --sweep",
            "method": (
                f"Beta posterior mean, prior {PRIOR_STRENGTH:g} pseudo-cases at the hand prior, capped at {P_MAX}; "
                f"counts disagreeing capped at {DISAGREE_CAP}"
            ),
            "seeds": list(self.seeds),
            "variants": list(self.variants),
            "fitted_utc": self.fitted_utc,
            "commit": self.commit,
            "kinds": {
                k.value: {
                    "p": round(f.p, 3),
                    "prior": f.prior,
                    "cases": f.cases,
                    "hits": f.hits,
                    "wilson_lower95": None if f.wilson_lower95 is None else round(f.wilson_lower95, 3),
                }
                for k, f in self.kinds.items()
            },
            "checks": {
                c.value: {"factor": round(f.factor, 3), "prior": f.prior, "cases": f.cases, "hits": f.hits}
                for c, f in self.checks.items()
            },
        }


def wilson_lower(hits: int, n: int, z: float = 1.96) -> float | None:
    """Lower bound of the Wilson score interval (95 % for z = 1.96; Wilson 1927) of ``hits / n``."""
    if n == 0:
        return None
    ph = hits / n
    den = 1.0 + z * z / n
    centre = ph + z * z / (2 * n)
    return (centre - z * math.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n))) / den


def fit(
    outcomes: Iterable[tuple[Evidence, bool]],
    *,
    seeds: tuple[int, int],
    variants: Iterable[str],
    fitted_utc: str,
    commit: str,
    check_outcomes: Iterable[tuple[frozenset[Check], Evidence, bool]] = (),
) -> Calibration:
    """Fit the probability of each kind from (kind, inside the true L3) outcomes of hypotheses that passed the checks,
    and each check's factor from (checks failed, kind, inside) of chosen hypotheses that failed one or more (see the
    module docstring)."""
    n = dict.fromkeys(Evidence, 0)
    h = dict.fromkeys(Evidence, 0)
    for kind, inside in outcomes:
        n[kind] += 1
        h[kind] += bool(inside)
    kinds: dict[Evidence, KindFit] = {}
    for kind in Evidence:
        p0 = PRIORS[kind]
        p = min(P_MAX, (PRIOR_STRENGTH * p0 + h[kind]) / (PRIOR_STRENGTH + n[kind]))
        if kind in ONE_COUNT:
            p = min(p, kinds[Evidence.AGREE].p)  # one count never outweighs two that agree
        if kind is Evidence.DISAGREE_FIRST:
            p = min(p, DISAGREE_CAP)
        if kind is Evidence.DISAGREE_SECOND:
            p = min(p, kinds[Evidence.DISAGREE_FIRST].p)  # never outranks the better-founded count
        kinds[kind] = KindFit(p, p0, n[kind], h[kind], wilson_lower(h[kind], n[kind]))
    failed = list(check_outcomes)
    checks: dict[Check, CheckFit] = {}
    for check in Check:
        f0 = CHECK_PRIORS[check]
        mine = [(kinds[kind].p, inside) for fired, kind, inside in failed if check in fired]
        if not mine:
            checks[check] = CheckFit(f0, f0, 0, 0)
            continue
        p_bar = sum(p for p, _ in mine) / len(mine)
        hits = sum(bool(inside) for _, inside in mine)
        lowered = (PRIOR_STRENGTH * f0 * p_bar + hits) / (PRIOR_STRENGTH + len(mine))
        checks[check] = CheckFit(min(1.0, lowered / p_bar), f0, len(mine), hits)
    return Calibration(kinds, seeds, tuple(variants), fitted_utc, commit, checks)


def _bad(path: Path, what: str) -> CalibrationError:
    return CalibrationError(
        f"The L3 confidence calibration file {path} is {what}. Restore it from the repository (git checkout -- "
        "sarco_core/l3/calibration.json), or write the hand priors with `python -m validation.l3_calibrate --priors` "
        "and refit with `nice python -m validation.l3_calibrate --sweep`"
    )


def load(path: Path | None = None) -> Calibration:
    """Read and check a calibration file (default: :data:`PATH`); :class:`CalibrationError` (naming the fix) when it is
    missing or malformed."""
    path = PATH if path is None else path
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _bad(path, "missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _bad(path, f"not readable JSON ({exc})") from None
    if not isinstance(raw, dict) or raw.get("schema") not in SCHEMAS_READ or not isinstance(raw.get("kinds"), dict):
        raise _bad(path, f"not a schema-{SCHEMA} calibration (needs 'schema': {SCHEMA} and a 'kinds' object)")
    kinds: dict[Evidence, KindFit] = {}
    for kind in Evidence:
        e = raw["kinds"].get(kind.value)
        if not isinstance(e, dict):
            raise _bad(path, f"missing the kind '{kind.value}'")
        p = e.get("p")
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 < p <= P_MAX:
            raise _bad(path, f"giving '{kind.value}' the probability {p!r} (needs a number in (0, {P_MAX}])")
        cases, hits = e.get("cases", 0), e.get("hits", 0)
        if not (isinstance(cases, int) and isinstance(hits, int) and 0 <= hits <= cases):
            raise _bad(path, f"giving '{kind.value}' inconsistent counts (cases {cases!r}, hits {hits!r})")
        kinds[kind] = KindFit(float(p), PRIORS[kind], cases, hits, e.get("wilson_lower95"))
    if kinds[Evidence.DISAGREE_FIRST].p > DISAGREE_CAP:
        raise _bad(path, f"giving disagreeing counts more than the cap {DISAGREE_CAP}")
    seeds = raw.get("seeds") or [0, 0]
    return Calibration(
        kinds,
        (int(seeds[0]), int(seeds[-1])),
        tuple(str(v) for v in raw.get("variants") or ()),
        str(raw.get("fitted_utc", "")),
        str(raw.get("commit", "")),
        _load_checks(path, raw),
    )


def _load_checks(path: Path, raw: dict[str, object]) -> dict[Check, CheckFit]:
    if raw.get("schema") == 1:  # kinds only: the hand factors
        return {c: CheckFit(f0, f0, 0, 0) for c, f0 in CHECK_PRIORS.items()}
    got = raw.get("checks")
    if not isinstance(got, dict):
        raise _bad(path, "missing the 'checks' object of schema 2 (one factor per plausibility check)")
    checks: dict[Check, CheckFit] = {}
    for check in Check:
        e = got.get(check.value)
        f = e.get("factor") if isinstance(e, dict) else None
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0.0 < f <= 1.0:
            raise _bad(path, f"giving the check '{check.value}' the factor {f!r} (needs a number in (0, 1])")
        assert isinstance(e, dict)
        cases, hits = e.get("cases", 0), e.get("hits", 0)
        if not (isinstance(cases, int) and isinstance(hits, int) and 0 <= hits <= cases):
            raise _bad(path, f"giving the check '{check.value}' inconsistent counts (cases {cases!r}, hits {hits!r})")
        checks[check] = CheckFit(float(f), CHECK_PRIORS[check], cases, hits)
    return checks
