"""L3 detection on the small synthetic spine of tests/l3_synth.py (exact levels; fast)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from sarco_core.errors import GridMismatchError, L3NotFoundError, L3NotReachedError
from sarco_core.io import load
from sarco_core.io.nifti import save_nifti
from sarco_core.l3 import assess_slice, find_l3, override
from sarco_core.l3 import decide as dc
from tests.l3_synth import synth_spine

TOL_MM = 5.0  # chosen slice vs the true L3 mid-body


def _mid(levels: dict[str, tuple[float, float]], name: str) -> float:
    lo, hi = levels[name]
    return (lo + hi) / 2


@pytest.fixture(scope="module")
def normal():
    return synth_spine()


@pytest.fixture(scope="module")
def normal_result(normal):
    return find_l3(normal.volume)


def test_normal_spine_l3_mid_body_with_high_confidence(normal, normal_result) -> None:
    r = normal_result
    assert r.method == "spine-count"
    assert abs(r.z_mm - _mid(normal.levels, "L3")) <= TOL_MM
    assert r.confidence >= 0.8
    assert r.counts["sacrum"] == r.counts["ribs"] == r.index
    assert r.candidates[0].index == r.index and r.candidates[0].score == pytest.approx(r.confidence, abs=1e-3)
    assert all(c.score <= r.candidates[0].score for c in r.candidates)
    assert not r.warnings


def test_normal_spine_levels_l1_to_l5(normal, normal_result) -> None:
    found = {lv.label: lv.z_mid_mm for lv in normal_result.levels}
    for name in ("L1", "L2", "L3", "L4", "L5"):
        assert abs(found[name] - _mid(normal.levels, name)) <= 6.0, name


def test_to_dict_is_the_l3_json_contract(normal_result) -> None:
    d = normal_result.to_dict()
    assert set(d) == {"index", "z_mm", "confidence", "method", "candidates", "levels", "warnings"}
    assert set(d["candidates"][0]) == {"index", "z_mm", "score"}
    assert set(d["levels"][0]) == {"label", "z_mm"} and len(d["levels"][0]["z_mm"]) == 2
    assert 0.0 <= d["confidence"] <= 1.0


def test_six_lumbar_counts_disagree_and_both_candidates_are_returned() -> None:
    s = synth_spine(lumbar=6)
    r = find_l3(s.volume)
    assert r.confidence <= 0.5 and r.levels_disagree
    assert any("6 lumbar-type vertebrae" in w for w in r.warnings)
    assert r.candidates[0].index == r.index
    assert r.counts["sacrum"] is not None and r.counts["ribs"] is not None
    assert r.counts["sacrum"] != r.counts["ribs"]
    zs = [c.z_mm for c in r.candidates]
    lo, hi = s.levels["L3"]  # L3 counted from the top (T12 -> L1, L2, L3)
    assert any(lo <= z <= hi for z in zs)
    assert {r.counts["sacrum"], r.counts["ribs"]} <= {c.index for c in r.candidates}


def test_missing_sacrum_counts_from_the_ribs_with_lower_confidence() -> None:
    s = synth_spine(z_bottom_mm=60.0)  # starts inside L5: no sacrum, no iliac joints
    r = find_l3(s.volume)
    assert abs(r.z_mm - _mid(s.levels, "L3")) <= TOL_MM
    assert r.counts["sacrum"] is None
    assert 0.5 <= r.confidence <= dc.P_AGREE  # one count (calibrated): never above two agreeing counts
    assert any("sacrum" in w for w in r.warnings)


@pytest.mark.parametrize("slice_mm", [1.0, 5.0])
def test_slice_spacing(slice_mm: float) -> None:
    s = synth_spine(slice_mm=slice_mm)
    r = find_l3(s.volume)
    assert abs(r.z_mm - _mid(s.levels, "L3")) <= TOL_MM + slice_mm / 2


def test_reversed_storage_gives_the_same_canonical_slice(normal, normal_result, tmp_path: Path) -> None:
    v = normal.volume
    plain = save_nifti(v, np.asarray(v.hu), tmp_path / "plain.nii.gz", dtype=np.int16)
    img = nib.load(str(plain))
    data = np.asanyarray(img.dataobj)[:, :, ::-1]  # slices stored head first
    aff = img.affine.copy()
    aff[:3, 3] = img.affine[:3, 3] + (data.shape[2] - 1) * img.affine[:3, 2]
    aff[:3, 2] = -img.affine[:3, 2]
    p = tmp_path / "reversed.nii.gz"
    nib.save(nib.Nifti1Image(np.ascontiguousarray(data), aff), str(p))
    back = load(p)
    assert np.array_equal(np.asarray(back.hu), np.maximum(np.asarray(v.hu), -1024))  # loader clips air
    r = find_l3(back)
    assert r.index == normal_result.index


def test_override_keeps_automatic_and_chosen(normal, normal_result) -> None:
    k = normal_result.index + 13  # about one vertebra higher (L2)
    r = find_l3(normal.volume, override_index=k)
    assert r.method == "user-selected" and r.overridden
    assert r.index == k and r.auto_index == normal_result.index
    assert r.auto_z_mm == pytest.approx(normal_result.z_mm)
    assert any("L2" in w for w in r.warnings)
    assert r.confidence <= 0.5
    rec = r.to_record()
    assert rec["auto_index"] == normal_result.index and rec["overridden"] is True
    # override() reuses a previous automatic result without recomputing it
    r2 = override(normal.volume, r, normal_result.index)
    assert r2.auto_index == normal_result.index and r2.index == normal_result.index
    assert not any("L2" in w for w in r2.warnings)


def test_override_out_of_range_is_a_clear_error(normal) -> None:
    with pytest.raises(GridMismatchError, match="outside"):
        find_l3(normal.volume, override_index=normal.volume.n_slices)


def test_single_slices_lumbar_and_chest(normal) -> None:
    v = normal.volume
    k_l3 = v.index_of_z(_mid(normal.levels, "L3"))
    k_chest = v.index_of_z(_mid(normal.levels, "T10"))
    lumbar = find_l3(v.select([k_l3]))
    assert lumbar.method == "user-selected" and lumbar.looks_lumbar is True and not lumbar.overridden
    assert lumbar.confidence >= 0.8 and lumbar.auto_index is None
    chest = find_l3(v.select([k_chest]))
    assert chest.looks_lumbar is False and chest.confidence < 0.3
    assert any("lungs" in w for w in chest.warnings)
    assert assess_slice(v, k_chest).lumbar is False


def test_short_stack_is_refused_with_advice(normal) -> None:
    v = normal.volume.select(slice(60, 70))  # 30 mm
    with pytest.raises(L3NotFoundError, match="by hand") as err:
        find_l3(v)
    assert "--slice" not in str(err.value)  # the app shows this message too: no CLI flags


def test_chest_only_stack_does_not_reach_l3() -> None:
    s = synth_spine(z_bottom_mm=215.0)  # from T12 up
    with pytest.raises(L3NotReachedError, match="does not reach L3") as err:
        find_l3(s.volume)
    msg = str(err.value)
    assert "by hand" not in msg and "yourself" not in msg and "--slice" not in msg  # no manual pick invited
