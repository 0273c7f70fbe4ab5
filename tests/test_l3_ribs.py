"""The 3-D rib finder (sarco_core.l3.ribs) on phantoms with known vertebrae and ribs, and on the synthetic spine."""

from __future__ import annotations

import numpy as np
import pytest

phantom = pytest.importorskip("sarco_core.phantom")

from sarco_core.l3 import find_l3  # noqa: E402
from sarco_core.l3 import levels as lv  # noqa: E402
from sarco_core.l3 import ribs as rb  # noqa: E402
from sarco_core.l3.find import _features  # noqa: E402
from tests.l3_synth import synth_spine  # noqa: E402

KW = dict(pixel_mm=1.6, size=256, top="T11", bottom="sacrum")
DISC_TOL_MM = 8.0  # the disc below the found T12 vs the phantom's T12/L1 disc centre


def _t12(vol):  # type: ignore[no-untyped-def]
    f = _features(vol)
    a = lv.analyse(f)
    return a, a.rib_count


def _t12_l1_mm(ph) -> float:  # type: ignore[no-untyped-def]
    return 0.5 * (ph.levels["L1"][1] + ph.levels["T12"][0])


@pytest.mark.parametrize("seed", [0, 3, 5, 9])
def test_lowest_rib_pair_is_on_t12(seed: int) -> None:
    ph = phantom.phantom_volume(seed, **KW)
    a, rc = _t12(ph.volume)
    assert rc is not None and rc.t12 is not None and rc.t12 >= 0
    assert rc.paired and not rc.weak
    lo, hi = ph.levels["T12"]
    assert lo <= rc.head_z <= hi  # the rib heads lie in the T12 body
    assert abs(a.discs_z[rc.t12] - _t12_l1_mm(ph)) <= DISC_TOL_MM
    # the ribs above are on T11, one vertebra higher, on both sides
    t11 = {r.side for r, v in rc.ribs if v == rc.t12 + 1}
    assert t11 == {-1, 1}


def test_transverse_processes_and_pelvis_are_not_ribs() -> None:
    ph = phantom.phantom_volume(3, **KW)
    f = _features(ph.volume)
    comps = rb.components(f)
    ribs = [r for r in comps if r.rib_like and not r.cut]
    assert ribs and all(r.head_z >= ph.levels["T12"][0] for r in ribs)  # only T11 / T12 ribs
    lumbar_lo = ph.levels["L5"][0]
    low = [r for r in comps if np.isfinite(r.head_z) and lumbar_lo - 40 <= r.head_z < ph.levels["L1"][1]]
    assert low and not any(r.rib_like for r in low)  # transverse processes, iliac wings
    assert any("transverse process" in r.why for r in low)


def test_missing_sacrum_counts_down_from_the_rib_pair() -> None:
    ph = phantom.phantom_volume(4, **{**KW, "sacrum": False})
    r = find_l3(ph.volume)
    lo, hi = ph.levels["L3"]
    assert lo <= r.z_mm <= hi
    assert r.counts["sacrum"] is None and r.counts["ribs"] == r.index


@pytest.mark.parametrize("seed", [0, 2])
def test_short_12th_rib_is_found_below_the_11th_as_weaker_evidence(seed: int) -> None:
    ph = phantom.phantom_volume(seed, **{**KW, "rib12": "short"})
    a, rc = _t12(ph.volume)
    assert rc is not None and rc.t12 is not None
    assert abs(a.discs_z[rc.t12] - _t12_l1_mm(ph)) <= DISC_TOL_MM
    assert rc.short and rc.weak and any("short" in n for n in rc.notes)


def test_absent_12th_rib_is_a_known_limit_and_flagged_with_the_sacrum() -> None:
    """Without 12th ribs T11 is the last rib-bearing vertebra, which the rib count cannot tell from T12: it counts
    one level high. With the sacrum in view the two counts disagree and the result is flagged."""
    ph = phantom.phantom_volume(1, **{**KW, "rib12": "absent"})
    a, rc = _t12(ph.volume)
    assert rc is not None and rc.t12 is not None
    assert ph.levels["T11"][0] <= rc.head_z <= ph.levels["T11"][1]
    r = find_l3(ph.volume)
    assert r.confidence <= 0.5 and r.levels_disagree
    assert any("11 rib pairs" in w for w in r.warnings)  # 6 lumbar-type vertebrae counted: said in plain words
    lo, hi = ph.levels["L3"]
    assert lo <= r.z_mm <= hi  # the sacrum count is used: the lowest ribs end in front like 11th ribs (weak T12)
    assert r.index == r.counts["sacrum"] == r.candidates[0].index


def test_synthetic_spine_t12() -> None:
    s = synth_spine()
    a, rc = _t12(s.volume)
    assert rc is not None and rc.t12 is not None and rc.paired
    lo, hi = s.levels["T12"]
    assert lo <= rc.head_z <= hi + 7.0  # the synthetic rib heads sit 6 mm below T12's upper endplate
    t12_l1 = 0.5 * (s.levels["L1"][1] + s.levels["T12"][0])
    assert abs(a.discs_z[rc.t12] - t12_l1) <= DISC_TOL_MM


def test_vertebra_of() -> None:
    d = np.array([100.0, 130.0, 160.0])
    assert rb.vertebra_of(115.0, d) == 0
    assert rb.vertebra_of(90.0, d) == -1
    assert rb.vertebra_of(175.0, d) == 2
    assert rb.vertebra_of(200.0, d) is None  # more than 0.9 pitches above the highest disc
    assert rb.vertebra_of(115.0, np.array([])) is None


def test_absent_12th_rib_without_sacrum_is_not_reported_as_sure() -> None:
    """Rib count only and no 12th ribs: the lowest (11th) ribs end in front of the vertebral bodies, so the count
    is marked weak and stays below the l3_low_confidence threshold (it is one level high)."""
    ph = phantom.phantom_volume(0, **{**KW, "sacrum": False, "rib12": "absent"})
    r = find_l3(ph.volume)
    assert r.counts["sacrum"] is None and r.counts["ribs"] is not None
    assert r.confidence < 0.6
    assert any("11th ribs" in w for w in r.warnings)


def _rib(side: int, head_z: float, head_dx: float, short: bool) -> rb.Rib:
    return rb.Rib(
        side,
        head_z,
        head_dx,
        30.0,
        150.0,
        120.0,
        40.0,
        head_z - 50,
        head_z,
        500,
        0.0,
        -0.9,
        80.0,
        False,
        True,
        "",
        short,
        40.0,
    )


def test_a_short_piece_above_a_rib_whose_neck_was_lost_is_its_neck() -> None:
    """One rib per side per vertebra: the neck (medial, higher) and the shaft (neck lost: medial end 54 mm out)
    of one 12th rib are one rib; a short rib *below* a full rib's head (a missed disc) is not joined."""
    shaft, neck = _rib(-1, 186.0, 54.0, False), _rib(-1, 194.0, 29.0, True)
    t11 = [(_rib(s, 223.0, 30.0, False), 5) for s in (-1, 1)]
    ribs, necks = rb._join_necks([*t11, (_rib(1, 188.0, 30.0, False), 4), (shaft, 4), (neck, 4)])
    assert necks == 1 and len(ribs) == 4
    joined = next(r for r, v in ribs if v == 4 and r.side == -1)
    assert (joined.head_z, joined.head_dx, joined.short) == (194.0, 29.0, False)
    low = _rib(-1, 178.0, 29.0, True)  # below the shaft's medial end: not its neck
    assert rb._join_necks([(shaft, 4), (low, 4)]) == ([(shaft, 4), (low, 4)], 0)
    with_neck = _rib(-1, 186.0, 30.0, False)  # a full rib with its neck: a short piece is not joined to it
    assert rb._join_necks([(with_neck, 4), (neck, 4)])[1] == 0


@pytest.mark.parametrize("seed", [3, 8])
def test_4_lumbar_t12_rib_split_at_its_neck_is_strong_evidence(seed: int) -> None:
    """Phantom 4 lumbar seeds 3 and 8 (run 9): a 12th rib drawn in two pieces (neck, and shaft whose neck was
    lost) was read as a short second rib on T12 (weak evidence), so the (wrong) sacrum count went first."""
    ph = phantom.phantom_volume(seed, **{**KW, "lumbar_count": 4})
    a, rc = _t12(ph.volume)
    assert rc is not None and rc.t12 is not None and rc.necks >= 1
    assert rc.paired and not rc.weak and not rc.short
    assert abs(a.discs_z[rc.t12] - _t12_l1_mm(ph)) <= DISC_TOL_MM
    r = find_l3(ph.volume)
    lo, hi = ph.levels["L3"]
    assert lo <= r.z_mm <= hi and r.index == r.counts["ribs"]
