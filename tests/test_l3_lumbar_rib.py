"""Lumbar rib and 13 rib pairs (issue 14, transitional anatomy): the phantom variants, the rib finder's reading of a
rudimentary rib at the tip of L1's transverse process, and the words and candidates it gives. Small volumes (2.4 mm
pixels, the finder's working grid); the seeded sweep is validation/l3_variant_sweep.py (docs/l3.md, run 8)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest

from sarco_core.l3 import find_l3
from sarco_core.l3 import ribs as rb
from sarco_core.l3.decide import DISAGREE_CAP, P_AGREE, decide
from sarco_core.phantom import TISSUES, VERTEBRA_IDS, phantom_volume
from sarco_core.phantom.skeleton import LUMBAR_RIB_MM

KW: dict[str, Any] = dict(pixel_mm=2.4, size=172, top="T11", bottom="sacrum")
TINY: dict[str, Any] = dict(size=64, pixel_mm=6.0, slice_mm=6.0, top="T11", bottom="sacrum")
# sha256 of (HU, tissue, vertebra ids) of seed 3 on the TINY grid, rendered by the code before the lumbar-rib change
# (commit 78f2bc4): the new variants draw from their own random streams, so nothing else may move
UNCHANGED = {
    "normal": ({}, "fe1b3bd966175da0da1cde783b6dbae1bf4a8fb72af820f33044aeec52c59b57"),
    "short 12th": ({"rib12": "short"}, "41bc534f01b141db490c49f5e2085dfa9ccc0d64ee9f7ffb9869cb4e24bc4c22"),
    "4 lumbar": ({"lumbar_count": 4}, "cd2c43e428da2c9606b16a336cbfe4904c59af667eafcc8bad4c26b2f0decf27"),
    "no 12th": ({"rib12": "absent"}, "36a2174ac20ba939517fd05c61f752f6b0736fa6edbcf6bcb083c4f1597afdfe"),
    "6 lumbar": ({"lumbar_count": 6}, "a6af200ab6f6e0ea8d42c0caede3ab8f1b4fd02ca39216dcbabd5c5c3ffc9bae"),
    "contrast + wedge L5": (
        {"contrast": True, "wedge_l5": 0.3},
        "dcf60aff9e20429cdb1ebf37b4c78f673aecbf423f24073ce37f57ddf8574fe6",
    ),
}


@pytest.mark.parametrize("name", list(UNCHANGED))
def test_other_volumes_are_byte_identical(name: str) -> None:
    kw, digest = UNCHANGED[name]
    ph = phantom_volume(3, **TINY, **kw)
    h = hashlib.sha256(ph.volume.hu.tobytes() + ph.tissue.tobytes() + ph.vertebrae.tobytes()).hexdigest()
    assert h == digest


def test_phantom_lumbar_rib_is_rudimentary_at_the_transverse_process_tip() -> None:
    ph = phantom_volume(0, pixel_mm=1.6, size=256, top="T12", bottom="L2", lumbar_rib=True)
    plain = phantom_volume(0, pixel_mm=1.6, size=256, top="T12", bottom="L2")
    assert ph.levels == plain.levels  # L1 stays L1: the layout does not move
    lo, hi = ph.levels["L1"]
    extra = (ph.tissue == TISSUES["rib"]) & (plain.tissue != TISSUES["rib"])
    k_any = np.nonzero(extra.any(axis=(1, 2)))[0]
    assert k_any.size > 0
    z = ph.volume.z_mm[k_any]
    assert z.min() >= lo - 20.0 and z.max() <= hi  # at L1 (falling a little below its transverse process)
    col_mm = ph.volume.spacing_mm.col
    dx = []
    for k in k_any:  # lateral distance from the vertebra's midline (the mean column of L1's labelled bone)
        mid = np.nonzero(ph.vertebrae[k] == VERTEBRA_IDS["L1"])[1].mean() if np.any(ph.vertebrae[k]) else np.nan
        dx.extend(np.abs(np.nonzero(extra[k])[1] - mid) * col_mm)
    dx_mm = np.asarray(dx)[np.isfinite(dx)]
    assert dx_mm.min() >= 30.0  # starts beyond the tip of the transverse process, not at the vertebral body
    assert dx_mm.max() <= 45.0 * 1.1 + LUMBAR_RIB_MM[1] * 1.1 + 5.0  # a few cm beyond it, not a full rib


def test_phantom_13_rib_pairs_names_t13_above_five_lumbar() -> None:
    ph = phantom_volume(0, **TINY, thoracic_count=13)
    names = ph.layout.names
    assert names.index("T13") == names.index("L1") + 1 and names.index("T12") == names.index("T13") + 1
    assert "T13" in ph.layout.rib_bearing() and ph.lumbar_count == 5
    assert np.any(ph.vertebrae == VERTEBRA_IDS["T13"])
    with pytest.raises(ValueError, match="thoracic_count"):
        phantom_volume(0, **TINY, thoracic_count=14)


def _rib(side: int, head_z: float, reach: float, turn: float, short: bool = False) -> rb.Rib:
    return rb.Rib(
        side=side,
        head_z=head_z,
        head_dx=30.0,
        head_dy=22.0,
        reach=reach,
        length=reach - 25.0,
        descent=8.0,
        z_lo=head_z - 10,
        z_hi=head_z + 2,
        n_vox=50,
        rise=1.0,
        corr=-0.8,
        plate=60.0,
        cut=False,
        rib_like=True,
        why="",
        short=short,
        tip_dy=22.0 + turn,
    )


def test_count_t12_reads_a_rudimentary_rib_below_a_full_rib_as_a_lumbar_rib() -> None:
    d = np.array([100.0, 135.0, 170.0, 205.0, 240.0])  # vertebra i lies above disc i
    full = [_rib(s, 225.0, 140.0, 30.0) for s in (1, -1)]  # on vertebra 3
    lumbar = [_rib(s, 190.0, 70.0, 5.0) for s in (1, -1)]  # on vertebra 2: in line with the transverse process
    rc = rb.count_t12(full + lumbar, d, 300.0)
    assert rc.t12 == 3 and rc.alt_t12 == 2 and len(rc.lumbar_ribs) == 2
    assert any("lumbar rib" in n and "not counted as a 12th rib" in n for n in rc.notes)
    hypo = [_rib(s, 190.0, 52.0, 28.0, short=True) for s in (1, -1)]  # a hypoplastic 12th rib sweeps back
    rc = rb.count_t12(full + hypo, d, 300.0)
    assert rc.t12 == 2 and rc.lumbar_ribs == [] and rc.alt_t12 is None
    long12 = [_rib(s, 190.0, 130.0, 5.0) for s in (1, -1)]  # a full 12th rib, however it runs
    assert rb.count_t12(full + long12, d, 300.0).t12 == 2


def _lumbar_rib_count() -> rb.RibCount:
    d = np.array([100.0, 135.0, 170.0, 205.0, 240.0, 275.0, 310.0])
    full = [_rib(s, 295.0, 140.0, 30.0) for s in (1, -1)]  # on vertebra 5 (T12)
    lumbar = [_rib(s, 260.0, 70.0, 5.0) for s in (1, -1)]  # on vertebra 4 (L1)
    return rb.count_t12(full + lumbar, d, 400.0)


def test_decide_lists_the_12th_rib_reading_after_the_chosen_level() -> None:
    d = np.array([100.0, 135.0, 170.0, 205.0, 240.0, 275.0, 310.0])
    rc = _lumbar_rib_count()
    assert rc.t12 == 5 and rc.alt_t12 == 4
    ribs_lo = rc.t12 - 3  # L3/L4 by the lumbar-rib reading
    dec = decide(d, sacrum_lo=ribs_lo, ribs_lo=ribs_lo, rib_count=rc, gap=None)
    assert dec.chosen.lo == ribs_lo and dec.chosen.p == pytest.approx(P_AGREE) and not dec.disagree
    assert dec.ranked[1].lo == ribs_lo - 1 and dec.ranked[1].source == "ribs, the short rib read as a 12th rib"
    assert sum(h.p for h in dec.ranked) <= 1.0 + 1e-9
    words = [w for w in dec.warnings if w.startswith("A short rib on L1 (lumbar rib, both sides)")]
    assert len(words) == 1 and "L3 is one vertebra lower (listed as a candidate)" in words[0]
    # the sacrum count agrees with the 12th-rib reading instead: the counts disagree, the rib count (its T12 now
    # uncertain) goes second, and the words do not contradict the level used
    dec = decide(d, sacrum_lo=ribs_lo - 1, ribs_lo=ribs_lo, rib_count=rc, gap=None)
    assert dec.disagree and dec.chosen.lo == ribs_lo - 1 and dec.chosen.p <= DISAGREE_CAP
    assert dec.ranked[1].lo == ribs_lo
    words = [w for w in dec.warnings if w.startswith("A short rib on L1")]
    assert len(words) == 1 and "is the one it gives if it is a short 12th rib instead" in words[0]


def _inside(ph: Any, r: Any) -> bool:
    lo, hi = ph.levels["L3"]
    return bool(lo <= r.z_mm <= hi)


def test_finder_lumbar_rib_is_not_t12_and_says_so_with_both_levels() -> None:
    ph = phantom_volume(0, **KW, lumbar_rib=True)
    r = find_l3(ph.volume)
    assert _inside(ph, r) and r.candidates[0].index == r.index
    assert any("short rib on L1 (lumbar rib" in w and "was not counted as a 12th rib" in w for w in r.warnings)
    alt = [c for c in r.candidates if c.source == "ribs, the short rib read as a 12th rib"]
    assert len(alt) == 1 and alt[0].index < r.index  # the other reading: L3 one vertebra lower
    assert ph.level_at(alt[0].z_mm) == "L4"


def test_finder_13_rib_pairs_counts_agree() -> None:
    ph = phantom_volume(0, **KW, thoracic_count=13)
    r = find_l3(ph.volume)
    assert _inside(ph, r) and not r.levels_disagree
    assert not any("lumbar rib" in w for w in r.warnings)


def test_finder_lumbar_rib_with_six_lumbar_type_vertebrae_names_both_and_caps() -> None:
    # two transitional features together: the short rib on L1 read as a lumbar rib (6 lumbar-type vertebrae, the
    # phantom's truth) or as a short 12th rib (5 lumbar, the sacrum count) -- both levels, both features in words
    ph = phantom_volume(0, **KW, lumbar_rib=True, lumbar_count=6)
    r = find_l3(ph.volume)
    assert r.levels_disagree and r.confidence <= 0.5 and r.candidates[0].index == r.index
    assert {c.source for c in r.candidates[:2]} == {"sacrum", "ribs"}
    assert any(ph.level_at(c.z_mm) == "L3" for c in r.candidates[:2])  # the phantom's L3 is one of the two
    assert any("6 lumbar-type vertebrae" in w and "lumbarised S1" in w for w in r.warnings)
    assert any("short rib on L1 (lumbar rib" in w for w in r.warnings)
