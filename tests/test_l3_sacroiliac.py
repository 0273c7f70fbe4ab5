"""S1 by sacro-iliac bone contact (sarco_core.l3.sacroiliac) and the scoliosis / SI-joint phantom options."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from sarco_core.l3 import find_l3
from sarco_core.l3 import levels as lv
from sarco_core.l3.find import S1_EVIDENCE, _features
from sarco_core.l3.sacroiliac import SI_JOINT_MAX_MM, si_gap_mm
from sarco_core.phantom import phantom_volume

PX = 2.4  # working-grid pixel (mm)


def _slice(joint_px: int | None, reach_px: int = 21) -> np.ndarray:
    """A bone mask on a 2.4 mm grid: vertebral body (r 20 mm) at (60, 100), lateral masses ``reach_px`` pixels to
    both sides, and an iliac plate 8 pixels wide and 17 deep beyond ``joint_px`` empty pixels (None: no ilium)."""
    yy, xx = np.mgrid[0:120, 0:200]
    m = np.hypot(yy - 60, xx - 100) * PX <= 20.0
    m |= (np.abs(yy - 63) <= 2) & (np.abs(xx - 100) <= reach_px)  # alae / transverse processes
    if joint_px is not None:
        d = np.abs(xx - 100)
        m |= (d > reach_px + joint_px) & (d <= reach_px + joint_px + 8) & (np.abs(yy - 64) <= 8)
    return m


@pytest.mark.parametrize("joint_px", [0, 1, 2])
def test_a_joint_space_of_a_few_mm_is_contact(joint_px: int) -> None:
    """Bone contact, or a gap no wider than the widest normal SI joint space (4.4 mm) plus one pixel."""
    gap = si_gap_mm(_slice(joint_px), 60.0, 100.0, 20.0 / PX, PX, PX)
    assert gap <= joint_px * PX + 0.01  # gaps of 1-2 pixels are closed (joined) before measuring
    assert gap <= SI_JOINT_MAX_MM + PX


@pytest.mark.parametrize("joint_px", [3, 5])
def test_a_free_transverse_process_is_not_contact(joint_px: int) -> None:
    """7 mm or more of soft tissue between the lateral bone and the ilium: a free transverse process."""
    gap = si_gap_mm(_slice(joint_px, reach_px=19), 60.0, 100.0, 20.0 / PX, PX, PX)
    assert gap == pytest.approx(joint_px * PX, abs=0.01)
    assert gap > SI_JOINT_MAX_MM + PX


def test_no_iliac_bone_means_the_contact_cannot_be_judged() -> None:
    assert si_gap_mm(_slice(None), 60.0, 100.0, 20.0 / PX, PX, PX) == float("inf")


def _layout_gaps(ph_kw: dict[str, object]) -> tuple[object, np.ndarray, np.ndarray, lv.Analysis]:
    ph = phantom_volume(0, pixel_mm=1.6, size=256, top="L5", bottom="sacrum", si_joints=True, **ph_kw)  # type: ignore[arg-type]
    f = _features(ph.volume)
    assert f.si_gap_mm is not None
    return ph, f.z_mm, f.si_gap_mm, lv.analyse(f)


def test_s1_by_contact_with_l5_deep_between_the_iliac_wings() -> None:
    """L5 deep in the iliac wings with massive transverse processes: its processes stay free (the ilium is in
    view beside them), the S1 alae meet the ilium, and the joints' top lies at the S1 upper endplate."""
    ph, z, gap, a = _layout_gaps({"crest_key": 4.0, "l5_tp_scale": 1.5})
    lay = ph.layout  # type: ignore[attr-defined]
    s1, l5 = lay.get("S1"), lay.get("L5")
    thr = SI_JOINT_MAX_MM + 1.6
    beside_l5 = (z > l5.lo + 0.35 * (l5.hi - l5.lo)) & (z < l5.lo + 0.8 * (l5.hi - l5.lo))  # its processes
    assert np.isfinite(gap[beside_l5]).all()  # the ilium is in view on both sides ...
    assert (gap[beside_l5] > thr).all()  # ... and the processes are free
    in_s1 = (z > s1.lo + 0.4 * (s1.hi - s1.lo)) & (z < s1.hi)
    assert (gap[in_s1] <= thr).mean() >= 0.8
    assert a.si_evidence == "contact"
    assert a.si_top_z is not None and s1.hi - 8.0 <= a.si_top_z <= s1.hi + 3.0


def test_find_l3_says_s1_was_found_by_contact() -> None:
    ph = phantom_volume(
        1, pixel_mm=1.6, size=256, top="T11", bottom="sacrum", slice_mm=5.0, si_joints=True, wedge_l5=0.3
    )
    r = find_l3(ph.volume)
    lo, hi = ph.levels["L3"]
    assert lo <= r.z_mm <= hi
    assert r.s1_evidence == S1_EVIDENCE["contact"]
    assert r.to_record()["s1_evidence"] == S1_EVIDENCE["contact"]


def test_old_landmark_is_the_fallback_without_iliac_bones() -> None:
    ph = phantom_volume(0, pixel_mm=1.6, size=256, top="L5", bottom="sacrum")
    f = _features(ph.volume)
    assert f.si_gap_mm is not None
    blind = type(f)(**{**f.__dict__, "si_gap_mm": np.full(f.z_mm.size, np.inf)})  # no iliac bone in view
    top, how = lv.si_top(blind)
    assert how == "alae" and top is not None
    s1 = ph.layout.get("S1")
    assert s1.lo <= top <= s1.hi + 3.0


# sha256 of (hu, tissue, vertebrae) rendered by the code before the SI-joint and scoliosis options (78f2bc4)
BEFORE = {
    "normal": "861cde1e9e5691468890c5f92ca784a9a9d3e28ed7880625d25b6a077265ed36",
    "real-failure L5 at 5 mm": "bcb54a3fbb7e0b29ff2aac7e26c29c6e187795fdb9332f4bda833ccde4f1a5b6",
}
KW_BEFORE = {
    "normal": {},
    "real-failure L5 at 5 mm": {"slice_mm": 5.0, "wedge_l5": 0.3, "crest_key": 4.0, "l5_tp_scale": 1.5},
}


@pytest.mark.parametrize("name", sorted(BEFORE))
def test_default_phantoms_are_byte_identical(name: str) -> None:
    ph = phantom_volume(3, pixel_mm=1.6, size=128, top="L1", bottom="sacrum", **KW_BEFORE[name])  # type: ignore[arg-type]
    h = hashlib.sha256(ph.volume.hu.tobytes() + ph.tissue.tobytes() + ph.vertebrae.tobytes()).hexdigest()
    assert h == BEFORE[name]


@pytest.mark.parametrize("cobb", [15.0, -15.0])
def test_scoliosis_curve_has_the_cobb_angle_and_the_labels_follow(cobb: float) -> None:
    ph = phantom_volume(2, pixel_mm=1.6, size=256, top="L1", bottom="S1", slice_mm=4.0, cobb_deg=cobb)
    lay = ph.layout
    z = np.linspace(lay.get("S1").hi, lay.z_of("T10"), 400)
    x = np.array([lay.curve(float(zz))[0] for zz in z])
    tilt = np.degrees(np.arctan(np.gradient(x, z)))
    assert tilt.max() - tilt.min() == pytest.approx(15.0, abs=0.5)
    assert np.sign(x[np.argmax(np.abs(x))]) == np.sign(cobb)
    # the vertebra labels move with the curve: the L2 label's centroid lies off the S1 label's, toward the convexity
    cols = {}
    for name, vid in (("S1", 26), ("L2", 30)):
        k = ph.index_of(name)
        cc = np.nonzero(ph.vertebrae[k] == vid)[1]
        cols[name] = float(cc.mean()) * 1.6
    shift = cols["L2"] - cols["S1"]
    expect = lay.curve(lay.z_of("L2"))[0]
    assert abs(expect) >= 5.0
    assert abs(shift - expect) < 3.0


def test_find_l3_follows_a_scoliotic_spine() -> None:
    ph = phantom_volume(0, pixel_mm=1.6, size=256, top="T11", bottom="sacrum", slice_mm=5.0, cobb_deg=-15.0)
    r = find_l3(ph.volume)
    lo, hi = ph.levels["L3"]
    assert lo <= r.z_mm <= hi
