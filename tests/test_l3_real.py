"""L3 detection on real CT: the issue-6 checks on the validation scan (totalsegmentator/example_ct, never tuned
on), the chest series that does not reach L3, and single COVID slices (lumbar vs chest).

The example_ct checks encode the requirement "the chosen slice lies inside the L3 label, or the confidence is
lower with a reason". Cases that still fail (run 6 in docs/l3.md) are marked ``xfail(strict=True)`` so a
future fix shows up as an unexpected pass instead of silently changing the record.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage as ndi

from sarco_core.errors import L3NotReachedError
from sarco_core.io import load, load_mask
from sarco_core.l3 import L3Result, find_l3
from sarco_core.phantom.acquisition import emulate_kvp
from sarco_core.volume import Volume
from tests.conftest import data_path

LOW_CONFIDENCE = 0.6
L3_LABEL = 29


@pytest.fixture(scope="module")
def ct() -> Volume:
    return load(data_path("totalsegmentator", "example_ct.nii.gz"))


@pytest.fixture(scope="module")
def l3_range(ct: Volume) -> tuple[float, float]:
    lab = load_mask(data_path("totalsegmentator", "example_ct_vertebrae.nii.gz"))
    ks = np.nonzero((np.asarray(lab.hu) == L3_LABEL).any(axis=(1, 2)))[0]
    assert (ks[0], ks[-1]) == (65, 79)  # canonical index = voxel k for this RAS file
    half = (ct.spacing_mm.slice or 0.0) / 2
    return float(ct.z_mm[ks[0]] - half), float(ct.z_mm[ks[-1]] + half)


def _inside_or_unsure(res: L3Result, rng: tuple[float, float]) -> bool:
    inside = rng[0] <= res.z_mm <= rng[1]
    return inside or (res.confidence < LOW_CONFIDENCE and bool(res.warnings))


def _resample(vol: Volume, slice_mm: float) -> Volume:
    n = vol.n_slices
    n_new = int(round((n - 1) * (vol.spacing_mm.slice or 1.0) / slice_mm)) + 1
    hu = ndi.zoom(np.asarray(vol.hu, np.float32), ((n_new - 1) / (n - 1), 1, 1), order=1)
    aff = np.array(vol.affine, copy=True)
    aff[:3, 0] = vol.affine[:3, 0] * (n - 1) / (n_new - 1)
    return Volume.from_canonical(hu=np.round(hu).astype(np.int16), affine=aff)


def test_example_ct_inside_l3_or_unsure(ct: Volume, l3_range: tuple[float, float]) -> None:
    res = find_l3(ct)
    assert _inside_or_unsure(res, l3_range)


def test_example_ct_inside_l3_label(ct: Volume, l3_range: tuple[float, float]) -> None:
    res = find_l3(ct)
    assert l3_range[0] <= res.z_mm <= l3_range[1]


def test_example_ct_stored_reversed_restores_canonical_order(ct: Volume, tmp_path: Path) -> None:
    src = data_path("totalsegmentator", "example_ct.nii.gz")
    img = nib.load(str(src))
    data = np.asanyarray(img.dataobj)[:, :, ::-1]
    aff = img.affine.copy()
    aff[:3, 3] = img.affine[:3, 3] + (data.shape[2] - 1) * img.affine[:3, 2]
    aff[:3, 2] = -img.affine[:3, 2]
    p = tmp_path / "reversed.nii.gz"
    nib.save(nib.Nifti1Image(data, aff), str(p))
    back = load(p)
    assert np.array_equal(np.asarray(back.hu), np.asarray(ct.hu))
    assert np.allclose(back.z_mm, ct.z_mm)
    assert find_l3(back).index == find_l3(ct).index


def test_example_ct_resampled_5mm_inside_or_unsure(ct: Volume, l3_range: tuple[float, float]) -> None:
    assert _inside_or_unsure(find_l3(_resample(ct, 5.0)), l3_range)


def test_example_ct_resampled_1_5mm_inside_or_unsure(ct: Volume, l3_range: tuple[float, float]) -> None:
    assert _inside_or_unsure(find_l3(_resample(ct, 1.5)), l3_range)


def test_example_ct_without_sacrum_inside_or_unsure(ct: Volume, l3_range: tuple[float, float]) -> None:
    assert _inside_or_unsure(find_l3(ct.select(slice(53, None))), l3_range)  # run 6: inside (runs 1-4 refused, 5 L4)


def test_example_ct_without_sacrum_inside_l3_label(ct: Volume, l3_range: tuple[float, float]) -> None:
    res = find_l3(ct.select(slice(53, None)))  # run 6: +1.7 mm at 0.50 (the lowest rib on one side only)
    assert l3_range[0] <= res.z_mm <= l3_range[1]


def test_example_ct_counts_agree_so_not_flagged(ct: Volume) -> None:
    res = find_l3(ct)  # run 6: sacrum and rib counts agree, 0.92 (runs 1-5: 0.45, counts one or two levels apart)
    assert res.confidence >= LOW_CONFIDENCE
    assert res.counts["sacrum"] == res.counts["ribs"] == res.index


def test_example_ct_resampled_5mm_inside_l3_label(ct: Volume, l3_range: tuple[float, float]) -> None:
    # run 7 (issue 14): the missed L5/S1 disc is placed at the top of the sacro-iliac joints (run 6: L4 at 0.50)
    res = find_l3(_resample(ct, 5.0))
    assert l3_range[0] <= res.z_mm <= l3_range[1]
    assert res.candidates[0].index == res.index and res.candidates[0].score == res.confidence
    if res.levels_disagree:
        assert res.confidence <= 0.5


def test_example_ct_without_thorax_inside_or_unsure(ct: Volume, l3_range: tuple[float, float]) -> None:
    assert _inside_or_unsure(find_l3(ct.select(slice(0, 96))), l3_range)


def test_lung_series_does_not_reach_l3() -> None:
    with pytest.raises(L3NotReachedError, match="does not reach L3") as err:
        find_l3(load(data_path("tcia_lung_pet_ct_dx", "Lung_Dx-A0001")))
    msg = str(err.value)
    assert "ends at about T12" in msg  # the lowest level it reaches (data README: neck to T12/L1)
    assert "by hand" not in msg and "yourself" not in msg and "--slice" not in msg


def test_cli_refuses_lung_series_with_exit_code_2() -> None:
    folder = data_path("tcia_lung_pet_ct_dx", "Lung_Dx-A0001")
    env = {**os.environ, "SARCO_DEBUG": ""}
    p = subprocess.run(
        [sys.executable, "-m", "sarco_core", "l3", str(folder), "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 2
    assert "does not reach L3" in p.stderr
    assert "Traceback" not in p.stderr
    assert p.stdout.strip() == ""


def test_cli_l3_json_on_example_ct() -> None:
    p = subprocess.run(
        [sys.executable, "-m", "sarco_core", "l3", str(data_path("totalsegmentator", "example_ct.nii.gz")), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert set(d) == {"index", "z_mm", "confidence", "method", "candidates", "levels", "warnings"}
    assert 0 <= d["index"] < 112 and d["method"] == "spine-count"


UPPER_LUMBAR = ("A027284", "A058062", "A062055")


def _covid_axials() -> list[Path]:
    root = data_path("tcia_covid19_ny_sbu")
    return sorted(root.glob("*/axial/*"))


def test_covid_upper_lumbar_slices_look_lumbar() -> None:
    files = [f for f in _covid_axials() if f.parts[-3] in UPPER_LUMBAR]
    assert len(files) == 6
    files.append(data_path("pydicom", "pancreas_ct_0001_slice122_j2k.dcm"))  # contrast CT near L1/L2
    for f in files:
        vol = load(f)
        for v in (
            vol,
            Volume.from_array(hu=emulate_kvp(vol.hu, 80.0), spacing_mm=(3.0, vol.spacing_mm.row, vol.spacing_mm.col)),
        ):
            r = find_l3(v)
            assert r.method == "user-selected"
            assert r.looks_lumbar is True, (f, r.warnings)
            assert r.confidence >= 0.5
            assert not any("not look lumbar" in w or "not recognised" in w for w in r.warnings)


def test_covid_chest_slices_are_flagged_not_lumbar() -> None:
    flagged = total = 0
    for f in _covid_axials():
        if f.parts[-3] in UPPER_LUMBAR:
            continue
        try:
            vol = load(f)
        except Exception:  # loader refusals are the IO tests' business
            continue
        if not vol.is_hu:
            continue
        total += 1
        r = find_l3(vol)
        if r.looks_lumbar is False and r.warnings:
            flagged += 1
    assert total >= 10
    assert flagged == total
