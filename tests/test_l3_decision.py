"""Issue 14: one consistent L3 decision (chosen = first candidate, probabilities, disagreement cap), plain messages,
the single-slice level check on phantoms across pixel sizes, contrast and kVp, and the analyze flags."""

from __future__ import annotations

import numpy as np
import pytest

from sarco_core.analyze import analyze
from sarco_core.l3 import assess_slice, find_l3
from sarco_core.l3 import calibration as cal
from sarco_core.l3 import decide as dc
from sarco_core.l3.decide import DISAGREE_CAP, P_AGREE, decide, transitional_words
from sarco_core.l3.ribs import RibCount
from sarco_core.phantom import phantom_slice
from sarco_core.phantom.acquisition import emulate_kvp
from sarco_core.segment.threshold import ThresholdSegmenter
from sarco_core.volume import Volume
from tests.l3_synth import synth_spine

DISCS = np.array([100.0, 136.0, 172.0, 207.0, 240.0, 271.0, 300.0, 327.0])  # L5/S1 .. T10/T11 (ascending z)


def _rc(*, weak: bool) -> RibCount:
    rc = RibCount(t12=5, head_z=280.0, paired=not weak)
    if weak:
        rc.notes.append("the lowest rib is seen on one side only")
    return rc


def _check(dec_ranked: tuple) -> None:
    ps = [h.p for h in dec_ranked]
    assert ps[0] == max(ps)  # the chosen hypothesis is the most probable
    assert sum(ps) <= 1.0 + 1e-9
    assert all(0.0 <= p <= 1.0 for p in ps)
    assert len({h.lo for h in dec_ranked}) == len(dec_ranked)


def test_agreeing_counts() -> None:
    dec = decide(DISCS, sacrum_lo=2, ribs_lo=2, rib_count=_rc(weak=False), gap=None)
    assert dec.chosen.lo == 2 and dec.chosen.p == pytest.approx(P_AGREE) and not dec.disagree
    _check(dec.ranked)


@pytest.mark.parametrize("weak", [False, True])
def test_disagreeing_counts_are_capped_and_both_returned(weak: bool) -> None:
    dec = decide(DISCS, sacrum_lo=2, ribs_lo=3, rib_count=_rc(weak=weak), gap=None)
    assert dec.disagree and dec.chosen.p <= DISAGREE_CAP
    assert {h.lo for h in dec.ranked[:2]} == {2, 3}
    assert dec.chosen.lo == (2 if weak else 3)  # a strong 12th rib goes first; a doubtful one leaves the sacrum first
    assert any("6 lumbar-type vertebrae" in w for w in dec.warnings)
    _check(dec.ranked)


def test_plausibility_can_reorder_but_the_first_stays_the_most_probable(monkeypatch: pytest.MonkeyPatch) -> None:
    # the hand priors (second count 0.38): the mechanism, not the fitted values, is tested here
    priors = cal.fit([], seeds=(0, 0), variants=(), fitted_utc="", commit="hand priors")
    monkeypatch.setattr(dc, "_calibration", lambda: priors)
    d = DISCS.copy()
    d[5] = d[4] + 15.0  # an implausible vertebra next to the rib count's L3 (lo 3: neighbour 4)
    dec = decide(d, sacrum_lo=1, ribs_lo=3, rib_count=_rc(weak=False), gap=(90.0, 150.0))
    _check(dec.ranked)
    assert dec.chosen.lo == 1  # the rib count lost more than the sacrum count's 0.38 on its checks
    assert dec.chosen.p <= DISAGREE_CAP


def test_fallback_neighbours_never_outweigh_the_guess() -> None:
    dec = decide(DISCS, sacrum_lo=None, ribs_lo=None, rib_count=None, gap=None, fallback=(3, 0.15, "middle of spine"))
    _check(dec.ranked)
    assert dec.chosen.lo == 3


def test_transitional_words_are_plain() -> None:
    assert "sacralised L5" in transitional_words(3, 2) and "lumbar rib" in transitional_words(3, 2)
    assert "lumbarised S1" in transitional_words(2, 3) and "11 rib pairs" in transitional_words(2, 3)


def test_find_l3_chosen_is_first_candidate_on_synthetic_spines() -> None:
    for s in (synth_spine(), synth_spine(lumbar=6), synth_spine(z_bottom_mm=60.0), synth_spine(slice_mm=5.0)):
        r = find_l3(s.volume)
        assert r.candidates[0].index == r.index and r.candidates[0].score == pytest.approx(r.confidence)
        assert sum(c.score for c in r.candidates) <= 1.0 + 1e-6
        assert r.levels_disagree == (
            r.counts["sacrum"] is not None and r.counts["ribs"] is not None and r.counts["sacrum"] != r.counts["ribs"]
        )
        if r.levels_disagree:
            assert r.confidence <= DISAGREE_CAP


@pytest.mark.parametrize(
    ("level", "pixel_mm", "contrast", "kvp"),
    [
        ("L3", 0.6, True, 80),
        ("L3", 1.0, False, 140),
        ("L2", 0.8, True, 70),
        ("L1", 0.8, False, 120),
        ("T12", 0.8, False, 80),
    ],
)
def test_single_lumbar_phantom_slice_is_never_called_non_lumbar(
    level: str, pixel_mm: float, contrast: bool, kvp: float
) -> None:
    ps = phantom_slice(
        3 if level != "T12" else 4, level=level, pixel_mm=pixel_mm, size=int(round(430 / pixel_mm)), contrast=contrast
    )
    vol = Volume.from_array(hu=emulate_kvp(ps.hu[None], kvp), spacing_mm=(3.0, pixel_mm, pixel_mm))
    look = assess_slice(vol, 0)
    assert look.lumbar is True, look.warnings
    assert not any("not look lumbar" in w or "not recognised" in w for w in look.warnings)


def test_emulated_kvp_brightens_bone_not_water() -> None:
    hu = np.array([[-1000, -100, 0, 40, 700]], np.int16)
    lo, hi = emulate_kvp(hu, 80), emulate_kvp(hu, 140)
    assert lo[0, 0] == -1000 and lo[0, 2] == 0 and lo[0, 3] == 40
    assert lo[0, 4] > 700 > hi[0, 4] and lo[0, 1] < -100 < hi[0, 1]
    with pytest.raises(ValueError, match="kvp"):
        emulate_kvp(hu, 300)


def test_single_slice_without_a_recognisable_body_is_unchecked_not_non_lumbar() -> None:
    hu = np.full((1, 128, 128), -1000, np.int16)
    yy, xx = np.mgrid[:128, :128]
    hu[0][(yy - 64) ** 2 / 50**2 + (xx - 64) ** 2 / 60**2 < 1] = 40  # a soft-tissue body, no bone at all
    vol = Volume.from_array(hu=hu, spacing_mm=(3.0, 2.0, 2.0))
    r = analyze(vol, segmenter=ThresholdSegmenter())
    assert r.l3.looks_lumbar is None
    assert "l3_level_not_checked" in r.qc_flags
    assert "l3_low_confidence" not in r.qc_flags  # would point to a Browse page with nothing to show
    assert "l3_user_selected_not_lumbar" not in r.qc_flags


def test_analyze_raises_levels_disagree_on_a_transitional_spine() -> None:
    r = analyze(synth_spine(lumbar=6).volume, segmenter=ThresholdSegmenter())
    assert r.l3.levels_disagree and "l3_levels_disagree" in r.qc_flags
    assert r.to_dict()["l3"]["levels_disagree"] is True
    assert r.l3.confidence <= DISAGREE_CAP


def test_decide_without_any_hypothesis_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="fallback"):
        decide(DISCS, sacrum_lo=None, ribs_lo=None, rib_count=None, gap=None)


def test_new_flags_have_plain_words_without_cli_flags() -> None:
    from sarco_core.flags import FLAG_TEXTS

    words = {k: t.text for k, t in FLAG_TEXTS.items()}
    assert "different L3 levels" in words["l3_levels_disagree"]
    single = words["l3_level_not_checked"]
    assert "single slice" in single and "Browse" not in single  # nothing to show there for one slice
    assert "lungs or heart" not in words["l3_user_selected_not_lumbar"]  # the L3 notes give the actual reason
    assert not any("--slice" in w for w in words.values())
