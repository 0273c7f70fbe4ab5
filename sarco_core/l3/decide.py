"""One consistent L3 decision from the level counts: probabilities per hypothesis, the most probable one is chosen.

Each way of placing L3 (both counts agreeing, the sacrum count, the rib count, the lumbar window, a guess) is a
*hypothesis*: the disc index of L3/L4 and a probability that it is the true L3. Plausibility checks (an implausible
neighbouring vertebra, an L3 outside the rib- and pelvis-free window) lower the probability of the hypothesis they
concern; nothing is renormalised, so the probabilities of all candidates sum to at most 1. The chosen L3 is always
the most probable hypothesis (the first candidate), and its probability is the reported confidence. When the two
counts disagree, the confidence is capped at ``DISAGREE_CAP`` and both levels are returned.

Probabilities are one value per kind of evidence, fitted on a calibration seed range of the phantom variant sweep
(``sarco_core.l3.calibration``, ``validation/l3_calibrate.py``; never to one scan); docs/l3.md checks them against
the hit rates of the evaluation seeds and the real references (the reliability table).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from sarco_core.l3 import calibration
from sarco_core.l3 import levels as lv
from sarco_core.l3 import processes as pr
from sarco_core.l3.calibration import Check, Evidence
from sarco_core.l3.ribs import RibCount

DISAGREE_CAP = calibration.DISAGREE_CAP  # the confidence never exceeds this when the counts disagree (issue 14)
# one probability per kind of evidence, fitted by validation/l3_calibrate.py and read (once, on first use) from
# sarco_core/l3/calibration.json; the old constant names stay readable: decide.P_AGREE etc.
_NAMES = {
    "P_AGREE": Evidence.AGREE,  # sacrum and rib counts give the same L3
    "P_SACRUM_ONLY": Evidence.SACRUM_ONLY,  # one count only
    "P_RIBS_ONLY": Evidence.RIBS_ONLY,
    "P_RIBS_WEAK": Evidence.RIBS_WEAK,  # rib count only, the T12 evidence has a doubt
    "P_DISAGREE_FIRST": Evidence.DISAGREE_FIRST,  # the counts disagree: the better-founded count, the other one
    "P_DISAGREE_SECOND": Evidence.DISAGREE_SECOND,
    "P_WINDOW": Evidence.WINDOW,  # no count: lumbar window / lung bases / middle of the spine
    "P_LUNGS": Evidence.LUNGS,
    "P_GUESS": Evidence.GUESS,
}


@functools.cache
def _calibration() -> calibration.Calibration:
    return calibration.load()  # CalibrationError (naming the fix) when the file is missing or malformed


def p_of(kind: Evidence) -> float:
    """The calibrated probability of one kind of evidence."""
    return _calibration().p(kind)


def __getattr__(name: str) -> float:
    if name in _NAMES:
        return p_of(_NAMES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


NEIGHBOUR_MAX = 0.9  # a neighbouring vertebra (L2, L4) never outweighs the hypothesis it neighbours
WINDOW_SLACK_MM = 25.0
# the plausibility checks on a hypothesis: the words shown when the chosen one fails (their factors are calibrated)
CHECK_WORDS = {
    Check.IRREGULAR: "Irregular disc spacing next to L3 (a disc may have been missed or added).",
    Check.OUTSIDE_WINDOW: "The chosen L3 lies outside the rib- and pelvis-free lumbar window; check the level.",
}


def checks_failed(warnings: tuple[str, ...] | list[str]) -> frozenset[Check]:
    """The plausibility checks the chosen hypothesis failed, read back from an output's warnings (for calibration)."""
    return frozenset(c for c, words in CHECK_WORDS.items() if words in warnings)


@dataclass(frozen=True)
class Hypothesis:
    """L3 lies above disc ``lo`` (L3/L4); ``p`` the probability that this is the true L3; ``source`` in words."""

    lo: int
    p: float
    source: str


@dataclass(frozen=True)
class Decision:
    """The ranked hypotheses (first = chosen), the warnings that explain them and whether the counts disagree."""

    ranked: tuple[Hypothesis, ...]
    warnings: tuple[str, ...]
    disagree: bool

    @property
    def chosen(self) -> Hypothesis:
        return self.ranked[0]


def _plausibility(d: np.ndarray, lo: int, gap: tuple[float, float] | None) -> tuple[float, list[str]]:
    failed: list[Check] = []
    for nb in (lo - 1, lo + 1):
        if nb >= 0 and nb + 1 < d.size and not lv.interval_ok(d, nb):
            failed.append(Check.IRREGULAR)
            break
    z_l3 = float((d[lo] + d[lo + 1]) / 2.0)
    if gap is not None and not (gap[0] - WINDOW_SLACK_MM <= z_l3 <= gap[1] + WINDOW_SLACK_MM):
        failed.append(Check.OUTSIDE_WINDOW)
    factor = float(np.prod([_calibration().factor(c) for c in failed])) if failed else 1.0
    return factor, [CHECK_WORDS[c] for c in failed]


def ribs_first(rc: RibCount | None) -> bool:
    """When the counts disagree, the rib count goes first when its T12 rests on strong evidence: a full rib on both
    sides, no missed disc, the lowest ribs ending behind the vertebral bodies like 12th ribs (``RibCount.weak`` is
    False). A one-sided, short or 11th-rib-like lowest rib (a lumbar rib, 11 rib pairs) leaves the sacrum first."""
    return rc is not None and rc.t12 is not None and not rc.weak


def contradicted_count(kinds: tuple[pr.VertebraKind, ...], sacrum_ref: int | None) -> tuple[str, str] | None:
    """("sacrum", the reason in words) when the transverse processes contradict the sacrum count's landmark: the
    vertebra it takes for S1 (right below its L5/S1 disc ``sacrum_ref``) has free transverse processes on both
    sides (it is L5); None otherwise. The rib count's T12 is not checked by its processes: on the phantom a 12th
    rib's head lies in line with the process and leaves it within a slice, so "free, no rib" is not clear-cut at
    T12 (docs/l3.md, run 9b). Never raises a probability: it only decides which of two disagreeing counts goes
    first."""
    s1 = None if sacrum_ref is None else pr.below_disc(kinds, sacrum_ref)
    if s1 is None or s1.kind != "lumbar-type":
        return None
    return (
        "sacrum",
        "the vertebra the sacrum count takes for S1 has free transverse processes on both sides, like L5 "
        f"(no sacral ala joined to the iliac bones: {s1.evidence})",
    )


def transitional_words(sacrum_lo: int, ribs_lo: int) -> str:
    """Plain words for what two disagreeing counts mean (``ribs_lo - sacrum_lo`` extra lumbar-type vertebrae)."""
    n = 5 + (ribs_lo - sacrum_lo)
    if n == 6:
        what = (
            "a transitional spine: 6 lumbar-type vertebrae between the last rib-bearing vertebra and the sacrum "
            "(normally 5) — a lumbarised S1, or only 11 rib pairs with the 12th missed or absent"
        )
    elif n == 4:
        what = (
            "a transitional spine: 4 lumbar-type vertebrae between the last rib-bearing vertebra and the sacrum "
            "(normally 5) — a sacralised L5, or 13 rib pairs (a full rib below the 12th ribs, or a long lumbar rib "
            "on L1)"
        )
    else:
        what = (
            f"{n} vertebrae counted between the last rib-bearing vertebra and the sacrum (normally 5): more than "
            "one level apart, so a disc space was probably missed or added"
        )
    return what + "; or one of the two counts is off by a level"


def lumbar_rib_words(rc: RibCount, *, chosen_reads_it_as_12th: bool = False) -> str:
    """Plain words for a lumbar rib found below the last full rib (``RibCount.lumbar_ribs``);
    ``chosen_reads_it_as_12th``: the chosen L3 (the sacrum count) is the level that reading it as a 12th rib gives."""
    sides = {r.side for r in rc.lumbar_ribs}
    where = "both sides" if len(sides) == 2 else ("the left side" if 1 in sides else "the right side")
    reach = max(r.reach for r in rc.lumbar_ribs)
    what = (
        f"A short rib on L1 (lumbar rib, {where}) was not counted as a 12th rib: it reaches only {reach:.0f} mm from "
        "the midline and runs laterally in line with L1's transverse process, whereas 12th ribs sweep back along "
        "the posterior abdominal wall. "
    )
    if chosen_reads_it_as_12th:
        return what + (
            "The L3 used (counted from the sacrum) is the one it gives if it is a short 12th rib instead. Check the "
            "level on the sagittal view."
        )
    return what + (
        "If it is a short 12th rib instead, L3 is one vertebra lower (listed as a candidate). Check the level on the "
        "sagittal view."
    )


def decide(
    d: np.ndarray,
    *,
    sacrum_lo: int | None,
    ribs_lo: int | None,
    rib_count: RibCount | None,
    gap: tuple[float, float] | None,
    fallback: tuple[int, float, str] | None = None,
    contradicted: tuple[str, str] | None = None,
) -> Decision:
    """Rank the L3 hypotheses. ``sacrum_lo`` / ``ribs_lo``: L3/L4 disc index of each count (None: not counted);
    ``fallback``: (lo, probability, source) used when neither count exists (window / lung-base / mid-spine);
    ``contradicted``: (count, words) when the anatomy of the vertebrae contradicts that count's landmark
    (:func:`contradicted_count`): on disagreement that count goes second, the words say why."""
    warnings: list[str] = []
    named: list[Hypothesis] = []
    disagree = False
    if sacrum_lo is not None and ribs_lo is not None:
        if sacrum_lo == ribs_lo:
            named.append(Hypothesis(sacrum_lo, p_of(Evidence.AGREE), "sacrum and ribs agree"))
        else:
            disagree = True
            first_ribs = ribs_first(rib_count)
            if contradicted is not None:  # anatomy evidence (free transverse processes): the other count goes first
                first_ribs = contradicted[0] == "sacrum"
            a, b = (ribs_lo, sacrum_lo) if first_ribs else (sacrum_lo, ribs_lo)
            named.append(Hypothesis(a, p_of(Evidence.DISAGREE_FIRST), "ribs" if first_ribs else "sacrum"))
            named.append(Hypothesis(b, p_of(Evidence.DISAGREE_SECOND), "sacrum" if first_ribs else "ribs"))
            warnings.append(
                "Counting up from the sacrum and down from the last rib give different L3 levels: "
                + transitional_words(sacrum_lo, ribs_lo)
                + "."
            )
    elif sacrum_lo is not None:
        named.append(Hypothesis(sacrum_lo, p_of(Evidence.SACRUM_ONLY), "sacrum only"))
        warnings.append("L3 was counted from the sacrum only, without a second count to confirm it.")
    elif ribs_lo is not None:
        weak = rib_count is not None and rib_count.weak
        kind = Evidence.RIBS_WEAK if weak else Evidence.RIBS_ONLY
        named.append(Hypothesis(ribs_lo, p_of(kind), "ribs only (uncertain T12)" if weak else "ribs only"))
        warnings.append("L3 was counted from the last rib (T12) only, without a second count to confirm it.")
        if weak and rib_count is not None:
            warnings.append("The last rib-bearing vertebra is uncertain: " + "; ".join(rib_count.notes) + ".")
    elif fallback is not None:
        named.append(Hypothesis(*fallback))
    if not named:
        raise ValueError("decide() needs a count or a fallback hypothesis")
    scored = [Hypothesis(h.lo, h.p * _plausibility(d, h.lo, gap)[0], h.source) for h in named]
    checks = _plausibility(d, named[0].lo, gap)[1]  # the warnings of the checks on the chosen hypothesis
    scored.sort(key=lambda h: -h.p)  # stable: ties keep the better-founded count first
    reordered = bool(scored) and scored[0].lo != named[0].lo
    if reordered:
        checks = _plausibility(d, scored[0].lo, gap)[1]
    top = scored[0]
    if disagree and top.p > DISAGREE_CAP:
        scored[0] = top = Hypothesis(top.lo, DISAGREE_CAP, top.source)
    rest = max(0.0, 1.0 - sum(h.p for h in scored))
    taken = {h.lo for h in scored}
    lumbar_rib = rib_count is not None and bool(rib_count.lumbar_ribs) and ribs_lo is not None
    alt = ribs_lo - 1 if lumbar_rib and ribs_lo is not None else None  # the rudimentary rib read as a 12th rib
    nbs = [(top.lo + 1, "L2"), (top.lo - 1, "L4")]
    if alt is not None:  # the other reading of the lumbar rib goes first among the remaining candidates
        nbs.sort(key=lambda x: x[0] != alt)
    for nb, name in nbs:
        if nb >= 0 and lv.interval_ok(d, nb) and nb not in taken:
            src = "ribs, the short rib read as a 12th rib" if nb == alt else f"neighbour {name}"
            scored.append(Hypothesis(nb, min(rest / 2.0, NEIGHBOUR_MAX * top.p), src))
    if alt is not None and rib_count is not None:
        warnings.append(lumbar_rib_words(rib_count, chosen_reads_it_as_12th=top.lo == alt))
    if disagree:
        other = scored[1]
        if reordered:
            why = f"the {other.source} count's L3 fails a plausibility check"
        elif contradicted is not None and contradicted[0] == other.source:
            why = contradicted[1]
        elif top.source == "ribs":
            why = "its lowest ribs are a full pair ending behind the vertebral bodies, like 12th ribs"
        else:
            why = "the lowest rib is uncertain" + (
                ": " + "; ".join(rib_count.notes) if rib_count and rib_count.notes else ""
            )
        words = {"ribs": "rib count (down from the last rib)", "sacrum": "sacrum count (up from the sacrum)"}
        warnings.append(
            f"The {words[top.source]} is used ({why}); the {words[other.source]} is the second "
            "candidate. Check the level on the sagittal view."
        )
    return Decision(tuple(scored), tuple(warnings + checks), disagree)
