"""Transverse processes per vertebra (sarco_core.l3.processes) on phantoms, and the decision hook that lets a count
whose landmark they contradict go second (never above the calibrated values, the disagreement cap kept)."""

from __future__ import annotations

import numpy as np
import pytest

from sarco_core.l3 import levels as lv
from sarco_core.l3 import processes as pr
from sarco_core.l3.calibration import Evidence
from sarco_core.l3.decide import DISAGREE_CAP, contradicted_count, decide, p_of
from sarco_core.l3.find import _features
from sarco_core.l3.ribs import RibCount
from sarco_core.phantom import phantom_volume

KW = dict(pixel_mm=1.6, size=256, bottom="sacrum")


def _kinds(**kw: object) -> tuple[dict[str, tuple[float, float]], tuple[pr.VertebraKind, ...]]:
    ph = phantom_volume(1, **{**KW, **kw})  # type: ignore[arg-type]
    f = _features(ph.volume)
    return ph.levels, pr.classify(f, lv.analyse(f).discs_z)


def _of(levels: dict[str, tuple[float, float]], kinds: tuple[pr.VertebraKind, ...], name: str) -> pr.VertebraKind:
    lo, hi = levels[name]
    got = [v for v in kinds if lo <= (v.z_lo_mm + v.z_hi_mm) / 2.0 <= hi]
    assert got, f"no vertebra classified at {name}"
    return got[0]


@pytest.fixture(scope="module")
def normal() -> tuple[dict[str, tuple[float, float]], tuple[pr.VertebraKind, ...]]:
    return _kinds(top="T10")


def test_l3_is_lumbar_type_with_free_processes_of_lumbar_length(normal) -> None:
    v = _of(*normal, "L3")
    assert v.kind == "lumbar-type", v.evidence
    for side in (v.right, v.left):  # phantom L3 process: 48 mm from the midline (frame.tp_len)
        assert side.kind == "free" and 35.0 <= side.reach_mm <= 60.0


def test_s1_is_sacral(normal) -> None:
    v = _of(*normal, "S1")
    assert v.kind == "sacral", v.evidence
    assert v.right.plate_half_mm >= pr.PLATE_HALF_MM and v.left.plate_half_mm >= pr.PLATE_HALF_MM


def test_a_thoracic_vertebra_is_rib_bearing(normal) -> None:
    kinds = [_of(*normal, n).kind for n in ("T11", "T12")]
    assert "rib-bearing" in kinds, kinds  # T12 alone is not reliable (docs/l3.md, run 9b)
    assert "sacral" not in kinds


@pytest.mark.parametrize("si_joints", [False, True])
def test_l5_between_the_iliac_wings_has_free_processes(si_joints: bool) -> None:
    levels, kinds = _kinds(top="L1", crest_key=4.0, l5_tp_scale=1.5, si_joints=si_joints)
    v = _of(levels, kinds, "L5")
    assert v.kind == "lumbar-type", v.evidence
    assert min(v.right.reach_mm, v.left.reach_mm) >= 50.0  # the massive process (phantom 66 mm) ends free
    assert _of(levels, kinds, "S1").kind == "sacral"


def _vk(lo: int, kind: str) -> pr.VertebraKind:
    side = pr.Side(45.0, 3.0, 0.0, "free" if kind == "lumbar-type" else "ala")
    return pr.VertebraKind(lo, 0.0, 30.0, kind, side, side, False, f"{kind} (synthetic)")


DISCS = np.array([100.0, 136.0, 172.0, 207.0, 240.0, 271.0, 300.0, 327.0])


def test_contradicted_count_reads_the_sacrum_counts_s1() -> None:
    # the sacrum count's L5/S1 disc is index 1: the vertebra below it (between discs 0 and 1) is its "S1"
    free = (_vk(0, "lumbar-type"), _vk(1, "lumbar-type"))
    got = contradicted_count(free, sacrum_ref=1)
    assert got is not None and got[0] == "sacrum" and "free transverse processes" in got[1]
    assert contradicted_count((_vk(0, "sacral"),), sacrum_ref=1) is None
    assert contradicted_count((_vk(0, "unknown"),), sacrum_ref=1) is None
    assert contradicted_count(free, sacrum_ref=None) is None


def test_the_contradicted_count_goes_second_and_the_cap_stays() -> None:
    rc = RibCount(t12=5, head_z=280.0, paired=False)
    rc.notes.append("the lowest rib is seen on one side only")  # weak T12: the sacrum count would go first
    plain = decide(DISCS, sacrum_lo=2, ribs_lo=3, rib_count=rc, gap=None)
    assert plain.chosen.lo == 2 and plain.chosen.source == "sacrum"
    words = "the vertebra the sacrum count takes for S1 has free transverse processes on both sides, like L5"
    dec = decide(DISCS, sacrum_lo=2, ribs_lo=3, rib_count=rc, gap=None, contradicted=("sacrum", words))
    assert dec.disagree and dec.chosen.lo == 3 and dec.chosen.source == "ribs"
    assert [h.source for h in dec.ranked[:2]] == ["ribs", "sacrum"]
    assert dec.chosen.p <= DISAGREE_CAP and dec.chosen.p <= p_of(Evidence.DISAGREE_FIRST) + 1e-9
    assert any(words in w and "sacrum count (up from the sacrum) is the second" in w for w in dec.warnings)
    assert sum(h.p for h in dec.ranked) <= 1.0 + 1e-9
