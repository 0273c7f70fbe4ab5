"""DICOM writing for phantoms and tests: write -> load reproduces HU, spacing and z exactly."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless

from sarco_core.io import load
from sarco_core.io.dicom_write import write_dicom_series, write_zip
from sarco_core.volume import Volume


def _vol(min_hu: int = -1024) -> Volume:
    rng = np.random.default_rng(7)
    hu = rng.integers(min_hu, 3000, size=(6, 40, 34)).astype(np.int16)  # JPEG 2000 needs >= 32 px
    return Volume.from_array(hu=hu, spacing_mm=(1.25, 0.7, 0.9), z0_mm=-301.375)


@pytest.mark.parametrize("ts, uid", [("explicit-le", ExplicitVRLittleEndian), ("jpeg2000-lossless", JPEG2000Lossless)])
@pytest.mark.parametrize("min_hu", [-1024, -1500])  # unsigned and signed pixels
def test_round_trip_exact(tmp_path, ts, uid, min_hu):
    vol = _vol(min_hu)
    paths = write_dicom_series(vol, tmp_path, transfer_syntax=ts, shuffle_names=True, seed=4)
    assert len(paths) == vol.n_slices
    ds = pydicom.dcmread(paths[0])
    assert ds.file_meta.TransferSyntaxUID == uid and ds.PixelRepresentation == (1 if min_hu < -1024 else 0)
    out = load(tmp_path)
    np.testing.assert_array_equal(out.hu, np.maximum(vol.hu, -1024))
    assert out.spacing_mm == vol.spacing_mm
    np.testing.assert_array_equal(out.z_mm, vol.z_mm)
    np.testing.assert_allclose(out.affine, vol.affine, atol=1e-9)
    # canonical SOP order follows the returned paths, whatever the names and instance numbers
    assert list(out.meta.sop_uids) == [pydicom.dcmread(p).SOPInstanceUID for p in paths]
    numbers = [int(pydicom.dcmread(p).InstanceNumber) for p in paths]
    assert sorted(numbers) == list(range(1, vol.n_slices + 1)) and numbers != sorted(numbers)
    assert [p.name for p in paths] != sorted(p.name for p in paths)


def test_jpeg2000_refuses_tiny_images(tmp_path):
    vol = Volume.from_array(hu=np.zeros((1, 16, 40), np.int16), spacing_mm=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match="32x32"):
        write_dicom_series(vol, tmp_path, transfer_syntax="jpeg2000-lossless")


def test_patient_fields_and_zip(tmp_path):
    vol = _vol()
    write_dicom_series(vol, tmp_path / "s", patient_height_m=1.68, patient_weight_kg=61.0, patient_sex="F")
    z = write_zip(tmp_path / "s", tmp_path / "s.zip")
    out = load(z)
    np.testing.assert_array_equal(out.hu, vol.hu)
    m = out.meta
    assert (m.patient_height_m, m.patient_weight_kg, m.patient_sex) == (1.68, 61.0, "F")
    assert m.modality == "CT" and m.sop_class_uid == "1.2.840.10008.5.1.4.1.1.2"


def test_single_slice_and_reloaded_real_geometry(tmp_path):
    vol = _vol().select([2])
    write_dicom_series(vol, tmp_path)
    out = load(tmp_path)
    assert out.n_slices == 1 and out.z_mm[0] == pytest.approx(vol.z_mm[0])
    assert out.spacing_mm.slice == pytest.approx(1.25)
    np.testing.assert_array_equal(out.hu, vol.hu)
