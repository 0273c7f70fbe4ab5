"""The L3 confidence calibration: the fitting rule on small synthetic record lists, the calibration file that
``sarco_core.l3.decide`` reads, and its refusal of a malformed file (fast; no sweep is run)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sarco_core.errors import CalibrationError
from sarco_core.l3 import calibration as cal
from sarco_core.l3 import decide as dc
from sarco_core.l3.calibration import Evidence
from validation import l3_calibrate as fitter
from validation.l3_records import CandidateRecord, RecordSet, SweepRecord, read_records, write_records


def _fit(outs: list[tuple[Evidence, bool]]) -> cal.Calibration:
    return cal.fit(outs, seeds=(200, 209), variants=("normal",), fitted_utc="2026-12-04T00:00:00Z", commit="test")


def _rec(
    kind: Evidence | None, inside: bool | None, *, conf: float | None = None, seed: int = 200, **kw
) -> SweepRecord:
    p0 = cal.PRIORS[kind] if kind is not None else None
    c = p0 if conf is None else conf
    cands = kw.pop("candidates", ())
    return SweepRecord(
        variant="normal",
        seed=seed,
        chosen_index=None if inside is None else 10,
        chosen_z_mm=None if inside is None else 100.0,
        inside=inside,
        confidence=0.0 if c is None else c,
        evidence=None if kind is None else kind.value,
        kind_p=p0,
        disagree=kw.pop("disagree", False),
        warnings=tuple(kw.pop("warnings", ())),
        candidates=cands,
        error_mm=None,
    )


def test_fit_shrinks_to_the_prior_and_caps() -> None:
    outs = [(Evidence.AGREE, True)] * 200 + [(Evidence.SACRUM_ONLY, True)] * 3 + [(Evidence.RIBS_WEAK, False)] * 10
    c = _fit(outs)
    assert c.p(Evidence.AGREE) == cal.P_MAX  # 200/200 would be 1.0: capped
    m = cal.PRIOR_STRENGTH
    assert c.p(Evidence.SACRUM_ONLY) == pytest.approx((m * 0.72 + 3) / (m + 3))  # few cases: near the prior, < 1
    assert c.p(Evidence.RIBS_WEAK) == pytest.approx(m * 0.5 / (m + 10))  # 0/10: half way to 0
    assert c.p(Evidence.LUNGS) == cal.PRIORS[Evidence.LUNGS]  # no case: the prior
    assert c.kinds[Evidence.AGREE].cases == 200 and c.kinds[Evidence.AGREE].hits == 200
    few_agree = _fit([(Evidence.AGREE, False)] * 5 + [(Evidence.RIBS_ONLY, True)] * 100)
    assert few_agree.p(Evidence.RIBS_ONLY) == few_agree.p(Evidence.AGREE)  # one count never above two that agree
    assert 0.9 < (c.kinds[Evidence.AGREE].wilson_lower95 or 0) < 1.0


def test_fit_keeps_the_disagreement_cap_and_the_order_of_the_two_counts() -> None:
    outs = [(Evidence.DISAGREE_FIRST, True)] * 50 + [(Evidence.DISAGREE_SECOND, True)] * 50
    c = _fit(outs)
    assert c.p(Evidence.DISAGREE_FIRST) == cal.DISAGREE_CAP
    assert c.p(Evidence.DISAGREE_SECOND) <= c.p(Evidence.DISAGREE_FIRST)


def test_outcomes_use_unpenalised_choices_and_score_the_second_count() -> None:
    second = CandidateRecord(20, 140.0, 0.38, "ribs", True)
    first = CandidateRecord(10, 100.0, 0.5, "sacrum", False)
    recs = [
        _rec(Evidence.AGREE, True),
        _rec(  # lowered by a plausibility check: not used for the kind
            Evidence.AGREE, False, conf=0.92 * 0.8, warnings=(dc.CHECK_WORDS[cal.Check.OUTSIDE_WINDOW],)
        ),
        _rec(Evidence.DISAGREE_FIRST, False, disagree=True, candidates=(first, second)),
        _rec(None, None),  # refused
    ]
    outs = fitter.outcomes(recs)
    assert outs == [(Evidence.AGREE, True), (Evidence.DISAGREE_FIRST, False), (Evidence.DISAGREE_SECOND, True)]
    c = _fit([(Evidence.AGREE, True)] * 40)
    assert fitter.rescore(recs[1], c) == pytest.approx(c.p(Evidence.AGREE) * 0.8)  # no check case: the hand factor
    assert fitter.rescore(recs[2], c) <= cal.DISAGREE_CAP
    assert fitter.check_outcomes(recs) == [(frozenset({cal.Check.OUTSIDE_WINDOW}), Evidence.AGREE, False)]


def test_check_factors_are_fitted_from_the_choices_that_failed_them() -> None:
    outs = [(Evidence.AGREE, True)] * 100
    out_w, irr = frozenset({cal.Check.OUTSIDE_WINDOW}), frozenset({cal.Check.IRREGULAR})
    all_hit = _fit_checks(outs, [(out_w, Evidence.AGREE, True)] * 30)
    m, p = cal.PRIOR_STRENGTH, all_hit.p(Evidence.AGREE)
    assert all_hit.factor(cal.Check.OUTSIDE_WINDOW) == pytest.approx(min(1.0, (m * 0.8 * p + 30) / (m + 30) / p))
    assert all_hit.factor(cal.Check.IRREGULAR) == cal.CHECK_PRIORS[cal.Check.IRREGULAR]  # no case: the hand factor
    all_miss = _fit_checks(outs, [(irr | out_w, Evidence.AGREE, False)] * 10)  # both failed: counts for both
    assert all_miss.factor(cal.Check.IRREGULAR) == pytest.approx(0.85 * m / (m + 10))
    assert all_miss.checks[cal.Check.OUTSIDE_WINDOW].cases == 10
    big = _fit_checks(outs, [(out_w, Evidence.AGREE, True)] * 10_000)
    assert big.factor(cal.Check.OUTSIDE_WINDOW) == 1.0  # a failed check never raises a probability
    back = cal.load(_write(all_hit))
    assert back.factor(cal.Check.OUTSIDE_WINDOW) == pytest.approx(all_hit.factor(cal.Check.OUTSIDE_WINDOW), abs=1e-3)


def _fit_checks(
    outs: list[tuple[Evidence, bool]], checks: list[tuple[frozenset[cal.Check], Evidence, bool]]
) -> cal.Calibration:
    return cal.fit(outs, seeds=(200, 209), variants=("n",), fitted_utc="t", commit="test", check_outcomes=checks)


def _write(c: cal.Calibration) -> Path:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "calibration.json"
    path.write_text(json.dumps(c.to_json()), encoding="utf-8")
    return path


def test_a_schema_1_file_keeps_the_hand_factors(tmp_path: Path) -> None:
    raw = _fit([]).to_json()
    raw["schema"] = 1
    del raw["checks"]
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    c = cal.load(path)
    assert {k: c.factor(k) for k in cal.Check} == cal.CHECK_PRIORS


def test_fitting_refuses_evaluation_seeds_and_round_trips_records(tmp_path: Path) -> None:
    recs = [_rec(Evidence.SACRUM_ONLY, True, seed=201), _rec(Evidence.RIBS_ONLY, False, seed=202)]
    path = tmp_path / "r.json"
    write_records(path, recs, seeds=(201, 202))
    back = read_records(path)
    assert back.records == tuple(recs)
    c = fitter.fit_records([back])
    assert c.kinds[Evidence.RIBS_ONLY].cases == 1 and c.seeds == (201, 202)
    with pytest.raises(SystemExit, match="evaluation seeds"):
        fitter.fit_records([RecordSet((3, 3), "x", "t", (_rec(Evidence.AGREE, True, seed=3),))])


@pytest.fixture
def fresh_decide() -> Iterator[None]:
    dc._calibration.cache_clear()
    yield
    dc._calibration.cache_clear()


def test_decide_reads_the_calibration_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_decide: None) -> None:
    shipped = cal.load()
    assert dc.P_AGREE == shipped.p(Evidence.AGREE) and dc.P_RIBS_WEAK == shipped.p(Evidence.RIBS_WEAK)
    c = _fit([(Evidence.AGREE, False)] * 30)  # a distinctive value: 9.2 / 40 = 0.23
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps(c.to_json()), encoding="utf-8")
    monkeypatch.setattr(cal, "PATH", path)
    dc._calibration.cache_clear()
    d = np.arange(6) * 35.0
    dec = dc.decide(d, sacrum_lo=2, ribs_lo=2, rib_count=None, gap=None)
    assert dec.chosen.p == pytest.approx(0.23)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        json.dumps({"schema": 99, "kinds": {}}),
        "MISSING_KIND",
        "P_TOO_HIGH",
        "P_STRING",
        "DISAGREE_OVER_CAP",
        "CHECKS_MISSING",
        "FACTOR_OVER_ONE",
    ],
)
def test_a_malformed_file_is_refused_naming_the_fix(tmp_path: Path, content: str) -> None:
    good = _fit([]).to_json()
    kinds = good["kinds"]
    assert isinstance(kinds, dict)
    if content == "MISSING_KIND":
        del kinds["agree"]
    elif content == "P_TOO_HIGH":
        kinds["agree"]["p"] = 1.0
    elif content == "P_STRING":
        kinds["sacrum_only"]["p"] = "0.7"
    elif content == "DISAGREE_OVER_CAP":
        kinds["disagree_first"]["p"] = 0.6
    elif content == "CHECKS_MISSING":
        del good["checks"]
    elif content == "FACTOR_OVER_ONE":
        checks = good["checks"]
        assert isinstance(checks, dict)
        checks["outside_window"]["factor"] = 1.2
    text = json.dumps(good) if content.isupper() else content
    path = tmp_path / "calibration.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalibrationError, match="l3_calibrate"):
        cal.load(path)
    with pytest.raises(CalibrationError, match="missing"):
        cal.load(tmp_path / "absent.json")


def test_rounded_candidate_scores_never_sum_above_one() -> None:
    # the sweep found 0.813 + 0.094 + 0.094 = 1.001 when scores were rounded to nearest
    import numpy as np

    from sarco_core.l3.find import score_3dp

    for top in np.linspace(0.0, 1.0, 2001):
        rest = (1.0 - top) / 2.0
        assert score_3dp(top) + 2 * score_3dp(rest) <= 1.0
        assert abs(score_3dp(top) - top) < 0.0011
    assert score_3dp(0.8125) == 0.812 and score_3dp(0.95) == 0.95 and score_3dp(0.5) == 0.5
