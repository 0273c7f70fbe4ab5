"""Fit the L3 decision probabilities (one per kind of evidence) on a calibration seed range of the variant sweep.

One command (after any change to the finder, e.g. after merging; about 25-40 min on the shared 2-core box)::

    nice python -m validation.l3_calibrate --sweep

runs ``validation.l3_variant_sweep`` on the CALIBRATION seeds 200-209 (all variants; ``--seeds`` / ``--seed0`` /
``--variants`` to change), writes the per-volume records to ``--records`` (default /tmp/l3_calibration_records.json),
fits, and writes ``sarco_core/l3/calibration.json`` (read by ``sarco_core.l3.decide``). ``--fit RECORDS...`` fits
from records written before; ``--evaluate RECORDS...`` prints the reliability table of records of the EVALUATION
seeds (0-9, held-out 100-104) re-scored with the calibration file in place; ``--priors`` writes the hand priors
(issue 14) back, e.g. when the file was lost.

Fitting (``sarco_core.l3.calibration.fit``): the decisions are grouped by the kind of evidence of the chosen
hypothesis (both counts agree / sacrum count only / rib count only, strong or weak T12 / counts disagree / lumbar
window / lung bases / mid-spine guess); for the counts disagreeing, the second count's kind is scored by whether the
second candidate lies inside L3. Only hypotheses that passed the plausibility checks (factor 1) are used for their
kind; the chosen hypotheses that failed a check (read back from the output's warnings) fit that check's factor
(hand prior x 0.85 irregular disc spacing, x 0.8 outside the lumbar window; ``sarco_core.l3.calibration``).
Per kind the value is the Beta posterior mean with 10 pseudo-cases of
the hand prior, capped at 0.95 (a kind with few cases stays near its prior, none reaches 1); one count only is
never above two agreeing counts; the disagreement cap (0.5) stays. Calibration seeds must be disjoint from the
evaluation seeds (checked).

After merging, the coordinator's sequence is: ``nice python -m validation.l3_calibrate --sweep`` (fit), then the
evaluation sweeps ``nice python -m validation.l3_variant_sweep --seeds 10 --json /tmp/l3_eval_0_9.json`` and
``... --seeds 5 --seed0 100 --json /tmp/l3_eval_100_104.json``, then
``python -m validation.l3_calibrate --evaluate /tmp/l3_eval_0_9.json /tmp/l3_eval_100_104.json`` (docs/l3.md).

Re-scoring for ``--evaluate``: a record's confidence is its kind's probability times the factors of the checks its
chosen hypothesis failed (read back from its warnings), capped at 0.5 when the counts disagree. That is exact as
long as the new values do not reorder two disagreeing counts (the second never outranks the first by construction;
a check lowered the first below the second in no evaluation record: counted and printed).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from sarco_core.l3 import calibration as cal
from sarco_core.l3.calibration import Calibration, Check, Evidence
from sarco_core.l3.decide import checks_failed
from validation.l3_records import RecordSet, SweepRecord, commit, read_records

REPO = Path(__file__).resolve().parents[1]
CAL_PATH = REPO / "sarco_core" / "l3" / "calibration.json"
# docs/l3.md's evaluation seeds (never fitted on): development 0-9, held out 100-104 (run 7-8) and 110-119 (run 9)
EVAL_SEEDS = frozenset(range(0, 10)) | frozenset(range(100, 105)) | frozenset(range(110, 120))
BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.01)
FACTOR_ONE = 0.99  # plausibility factor treated as "passed the checks" (rounding of the stored confidences)


def factor(r: SweepRecord) -> float:
    """Plausibility factor of the chosen hypothesis when the sweep ran (1: it passed the checks)."""
    return 1.0 if not r.kind_p else min(1.0, r.confidence / r.kind_p)


def check_outcomes(records: Iterable[SweepRecord]) -> list[tuple[frozenset[Check], Evidence, bool]]:
    """(checks failed, kind, inside L3) per answered record whose chosen hypothesis failed one check or more."""
    out: list[tuple[frozenset[Check], Evidence, bool]] = []
    for r in records:
        if r.inside is None or r.evidence is None:
            continue
        fired = checks_failed(r.warnings)
        if fired:
            out.append((fired, Evidence(r.evidence), bool(r.inside)))
    return out


def outcomes(records: Iterable[SweepRecord]) -> list[tuple[Evidence, bool]]:
    """(kind, inside L3) per answered record whose chosen hypothesis passed the checks, plus the second count's
    outcome where the counts disagreed."""
    out: list[tuple[Evidence, bool]] = []
    for r in records:
        if r.inside is None or r.evidence is None:
            continue
        kind = Evidence(r.evidence)
        if not checks_failed(r.warnings) and factor(r) >= FACTOR_ONE:
            out.append((kind, bool(r.inside)))
        if r.disagree and len(r.candidates) > 1:
            second = r.candidates[1]
            if cal.evidence_of(second.source, disagree=True, rank=1) is Evidence.DISAGREE_SECOND:
                out.append((Evidence.DISAGREE_SECOND, bool(second.inside)))
    return out


def fit_records(sets: Sequence[RecordSet]) -> Calibration:
    seeds = sorted({r.seed for s in sets for r in s.records})
    clash = sorted(set(seeds) & EVAL_SEEDS)
    if clash:
        raise SystemExit(
            f"These records include evaluation seeds {clash} (0-9, 100-104, 110-119 are never fitted on): sweep a "
            "calibration range instead, e.g. --seeds 10 --seed0 200."
        )
    recs = [r for s in sets for r in s.records]
    variants = tuple(dict.fromkeys(r.variant for r in recs))
    source = "; ".join(sorted({s.commit for s in sets}))
    return cal.fit(
        outcomes(recs),
        seeds=(seeds[0], seeds[-1]) if seeds else (0, 0),
        variants=variants,
        fitted_utc=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        commit=f"records of {source}; fitted at {commit()}",
        check_outcomes=check_outcomes(recs),
    )


def write(c: Calibration, path: Path = CAL_PATH) -> None:
    path.write_text(json.dumps(c.to_json(), indent=2) + "\n", encoding="utf-8")


def rescore(r: SweepRecord, c: Calibration) -> float:
    """The record's confidence under calibration ``c`` (see the module docstring)."""
    if r.evidence is None:
        return r.confidence
    p = c.p(Evidence(r.evidence)) * float(np.prod([c.factor(k) for k in checks_failed(r.warnings)]))
    return min(p, cal.DISAGREE_CAP) if r.disagree else p


def table(records: Sequence[SweepRecord], c: Calibration) -> list[str]:
    """Markdown reliability table (per confidence bin) and per-kind table of ``records`` re-scored with ``c``."""
    ans = [(r, rescore(r, c)) for r in records if r.inside is not None]
    lines = [
        "| confidence bin | cases | inside L3 | share | mean confidence | calibration error |",
        "|---|---|---|---|---|---|",
    ]
    worst = 0.0
    for b0, b1 in zip(BINS[:-1], BINS[1:], strict=True):
        sel = [(r, p) for r, p in ans if b0 <= p < b1]
        if not sel:
            lines.append(f"| {b0:.1f}-{min(b1, 1.0):.1f} | 0 | - | - | - | - |")
            continue
        hit = sum(bool(r.inside) for r, _ in sel)
        mc = float(np.mean([p for _, p in sel]))
        worst = max(worst, abs(mc - hit / len(sel)))
        lines.append(
            f"| {b0:.1f}-{min(b1, 1.0):.1f} | {len(sel)} | {hit} | {hit / len(sel):.2f} | {mc:.2f} | "
            f"{abs(mc - hit / len(sel)):.2f} |"
        )
    lines.append(f"\nworst bin error {worst:.2f}; {sum(r.inside is None for r in records)} refused (not binned)")
    lines += [
        "",
        "| kind of evidence | probability | cases (checks passed / lowered) | inside L3 |",
        "|---|---|---|---|",
    ]
    for kind in Evidence:
        of_kind = [r for r, _ in ans if r.evidence == kind.value]
        if not of_kind:
            continue
        ok = [r for r in of_kind if not checks_failed(r.warnings)]
        low = [r for r in of_kind if checks_failed(r.warnings)]
        lines.append(
            f"| {kind.value} | {c.p(kind):.3f} | {len(ok)} / {len(low)} | "
            f"{sum(bool(r.inside) for r in ok)}/{len(ok)} / {sum(bool(r.inside) for r in low)}/{len(low)} |"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--sweep", action="store_true", help="sweep the calibration seeds, fit, write calibration.json")
    g.add_argument("--fit", nargs="+", metavar="RECORDS", help="fit from records files and write calibration.json")
    g.add_argument("--evaluate", nargs="+", metavar="RECORDS", help="reliability table of evaluation records")
    g.add_argument("--priors", action="store_true", help="write the hand priors (issue 14) as calibration.json")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--seed0", type=int, default=200)
    ap.add_argument("--variants", default="", help="as l3_variant_sweep --variants (default: all)")
    ap.add_argument("--records", default="/tmp/l3_calibration_records.json", help="where --sweep writes records")
    ap.add_argument("--out", default=str(CAL_PATH), help="calibration file to write (default: the shipped one)")
    a = ap.parse_args(argv)
    out = Path(a.out)
    if a.priors:
        write(cal.fit([], seeds=(0, 0), variants=(), fitted_utc="", commit="hand priors (issue 14), not fitted"), out)
        print(f"hand priors written to {out}")
        return
    if a.evaluate:
        sets = [read_records(Path(p)) for p in a.evaluate]
        recs = [r for s in sets for r in s.records]
        fitted_on = sorted({r.seed for r in recs} - EVAL_SEEDS)
        if fitted_on:
            print(f"note: seeds {fitted_on} are not evaluation seeds")
        c = cal.load(out)
        print(f"calibration {out} (seeds {c.seeds[0]}-{c.seeds[1]}, fitted {c.fitted_utc or '-'}, {c.commit})")
        print(f"{len(recs)} records ({', '.join(f'{s.commit} {s.written_utc}' for s in sets)})\n")
        print("\n".join(table(recs, c)))
        return
    if a.sweep:
        from validation import l3_variant_sweep as sw

        cmd = ["--seeds", str(a.seeds), "--seed0", str(a.seed0), "--json", a.records]
        sw.main([*cmd, *(["--variants", a.variants] if a.variants else [])])
        paths = [a.records]
    else:
        paths = list(a.fit)
    sets = [read_records(Path(p)) for p in paths]
    c = fit_records(sets)
    write(c, out)
    print(f"\ncalibration written to {out}:")
    for kind, f in c.kinds.items():
        print(
            f"  {kind.value:16s} p {f.p:.3f} (prior {f.prior:.2f}; {f.hits}/{f.cases} inside, Wilson 95 % lower "
            f"{'-' if f.wilson_lower95 is None else f'{f.wilson_lower95:.2f}'})"
        )
    for check, g in c.checks.items():
        print(f"  check {check.value:16s} factor {g.factor:.3f} (prior {g.prior:.2f}; {g.hits}/{g.cases} inside)")
    print("\n".join(["", "fit records re-scored (in-sample):", *table([r for s in sets for r in s.records], c)]))


if __name__ == "__main__":
    main()
