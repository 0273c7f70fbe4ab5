"""Volume geometry and the NIfTI path on real data; the `measure` CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

from sarco_core.io import load, load_mask
from sarco_core.io.nifti import save_nifti
from sarco_core.volume import Volume
from tests.conftest import data_path


def test_volume_is_immutable_and_from_array_geometry() -> None:
    v = Volume.from_array(hu=np.zeros((3, 4, 5), np.int16), spacing_mm=(2.0, 0.7, 0.9), z0_mm=-10)
    assert v.spacing_mm.slice == 2.0 and v.spacing_mm.row == 0.7 and v.spacing_mm.col == 0.9
    assert list(v.z_mm) == [-10, -8, -6]
    with pytest.raises(ValueError):
        v.hu[0, 0, 0] = 5
    with pytest.raises(AttributeError):
        v.is_hu = False  # type: ignore[misc]
    sub = v.select(slice(1, 3))
    assert sub.n_slices == 2 and list(sub.z_mm) == [-8, -6]


def test_example_ct_canonical_order_and_radiological_display() -> None:
    v = load(data_path("totalsegmentator", "example_ct.nii.gz"))
    raw = nib.load(str(data_path("totalsegmentator", "example_ct.nii.gz")))
    assert v.shape == (112, 101, 122)
    assert v.spacing_mm.slice == pytest.approx(3.0)
    assert np.all(np.diff(v.z_mm) > 0)  # index 0 most inferior
    # RAS file: canonical index = voxel k; rows run anterior->posterior, cols patient right->left
    data = np.asanyarray(raw.dataobj)
    assert np.array_equal(np.maximum(data[::-1, ::-1, 50].T, -1024), v.hu[50])
    assert v.z_mm[50] == pytest.approx((raw.affine @ [0, 0, 50, 1])[2])
    # anatomy: the spine (bone) sits in the posterior (lower) half of the image
    bone_rows = np.nonzero(v.hu[73] > 300)[0]
    assert np.median(bone_rows) > v.shape[1] / 2
    assert v.hu.min() >= -1024 and any("-1024" in w for w in v.warnings)


def test_mask_written_back_on_source_grid(tmp_path) -> None:
    v = load(data_path("totalsegmentator", "example_ct.nii.gz"))
    mask = np.zeros(v.shape, np.uint8)
    mask[73, 60:70, 20:40] = 1
    out = save_nifti(v, mask, tmp_path / "m.nii.gz")
    img = nib.load(str(out))
    src = nib.load(str(data_path("totalsegmentator", "example_ct.nii.gz")))
    assert img.shape == src.shape and np.allclose(img.affine, src.affine)
    back = load_mask(out)
    assert np.array_equal(back.hu, mask)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sarco_core", *args], capture_output=True, text=True, timeout=120)


def test_measure_cli_agrees_with_numpy_on_silver_standard() -> None:
    img = data_path("totalsegmentator", "example_ct_sm.nii.gz")
    msk = data_path("totalsegmentator", "example_ct_sm_tissue", "skeletal_muscle.nii.gz")
    r = _run("measure", str(img), str(msk), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    hu = np.asanyarray(nib.load(str(img)).dataobj)
    m = np.asanyarray(nib.load(str(msk)).dataobj) > 0
    zooms = nib.load(str(img)).header.get_zooms()
    assert len(out["slices"]) == int(m.any(axis=(0, 1)).sum())
    for row in out["slices"]:
        k = row["index"]  # RAS: canonical index = voxel k
        gate = m[:, :, k] & (hu[:, :, k] >= -29) & (hu[:, :, k] <= 150)
        assert row["sma_cm2"] == pytest.approx(gate.sum() * zooms[0] * zooms[1] / 100)
        assert row["muscle_hu_mean"] == pytest.approx(hu[:, :, k][gate].mean(), abs=1e-6)
        assert row["sat_cm2"] is None and row["vat_cm2"] is None
        assert set(row) == {"index", "z_mm", "sma_cm2", "muscle_hu_mean", "imat_cm2", "sat_cm2", "vat_cm2"}
    areas = [row["sma_cm2"] for row in out["slices"]]
    assert 70.5 <= min(areas) and max(areas) <= 116.5  # data README: 71-116 cm² within -29..150 HU


def test_measure_cli_refuses_mask_on_other_grid_without_traceback() -> None:
    r = _run(
        "measure",
        str(data_path("totalsegmentator", "example_ct.nii.gz")),
        str(data_path("totalsegmentator", "example_ct_sm_tissue", "skeletal_muscle.nii.gz")),
        "--json",
    )
    assert r.returncode == 2
    assert "differs from the image" in r.stderr and "Traceback" not in r.stderr
    r2 = _run("measure", "/nonexistent/ct.nii.gz", "/nonexistent/m.nii.gz")
    assert r2.returncode == 2 and "does not exist" in r2.stderr
