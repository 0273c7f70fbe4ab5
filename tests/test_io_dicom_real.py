"""DICOM loading on the real scanner files in ../shared/data (quirks named in its README)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest

from sarco_core.errors import NotAxialError, NotHUError
from sarco_core.io import load
from sarco_core.io.dicom import list_files, load_dicom
from sarco_core.metrics import measure_volume
from sarco_core.privacy import salted_id_hash
from tests.conftest import data_path


@pytest.fixture(scope="module")
def lidc():
    return load(data_path("lidc_idri_0001"))


def _raw_hu(path: Path) -> np.ndarray:
    ds = pydicom.dcmread(path)
    return ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)


def test_lidc_in_position_order_with_padding_clipped(lidc):
    folder = data_path("lidc_idri_0001")
    assert lidc.shape == (24, 512, 512)
    assert lidc.spacing_mm.slice == pytest.approx(2.5)
    assert lidc.spacing_mm.row == pytest.approx(0.703125) and lidc.spacing_mm.col == pytest.approx(0.703125)
    np.testing.assert_allclose(np.diff(lidc.z_mm), 2.5, atol=1e-6)
    assert lidc.z_mm[0] == pytest.approx(-190.0) and lidc.z_mm[-1] == pytest.approx(-132.5)
    assert lidc.hu.dtype == np.int16 and int(lidc.hu.min()) >= -1024
    pad = [w for w in lidc.warnings if "-1024 HU" in w]
    assert len(pad) == 1 and "PixelPaddingValue -2000" in pad[0]
    # each canonical slice holds the pixels (rescaled, clipped) and the SOP UID of the file at that z
    by_z = {}
    for p in list_files(folder):
        ds = pydicom.dcmread(p, stop_before_pixels=True)
        by_z[round(float(ds.ImagePositionPatient[2]), 3)] = (p, ds.SOPInstanceUID)
    for k in (0, 7, 23):
        p, sop = by_z[round(float(lidc.z_mm[k]), 3)]
        assert lidc.meta.sop_uids[k] == sop
        np.testing.assert_array_equal(lidc.hu[k], np.maximum(_raw_hu(p), -1024))
    # outside the field of view (raw -1024 -> -2048 HU) became air
    assert int((_raw_hu(by_z[-190.0][0]) < -1024).sum()) > 0.15 * 512 * 512


def test_lidc_metadata_has_no_identifiers(lidc):
    folder = data_path("lidc_idri_0001")
    ds = pydicom.dcmread(list_files(folder)[0], stop_before_pixels=True)
    assert lidc.meta.modality == "CT" and lidc.meta.kind == "dicom-series" and lidc.meta.n_files == 24
    one = load(list_files(folder)[0])  # the salt belongs to this test's SARCO_HOME
    meta = one.meta
    assert meta.kind == "dicom-slice" and one.spacing_mm.slice == pytest.approx(2.5)
    assert meta.manufacturer == "GE MEDICAL SYSTEMS" and meta.kvp == pytest.approx(120)
    assert meta.slice_thickness_mm == pytest.approx(2.5) and meta.contrast_agent == "IV"
    assert meta.patient_id_hash == salted_id_hash(str(ds.PatientID)) and meta.patient_id_hash != ds.PatientID
    text = json.dumps(lidc.info_dict()) + json.dumps(one.info_dict())
    assert str(ds.PatientID) and str(ds.PatientID) not in text
    assert not str(ds.PatientName) or str(ds.PatientName) not in text


def test_shuffled_names_and_instance_numbers_sort_by_position(lidc, tmp_path):
    files = list_files(data_path("lidc_idri_0001"))
    rng = np.random.default_rng(3)
    numbers = rng.permutation(len(files)) + 1
    for p, n in zip(files, numbers, strict=True):
        ds = pydicom.dcmread(p)
        ds.InstanceNumber = int(n)
        ds.save_as(tmp_path / f"{rng.integers(1 << 40):x}.dcm")
    vol = load(tmp_path)
    np.testing.assert_array_equal(vol.hu, lidc.hu)
    np.testing.assert_allclose(vol.z_mm, lidc.z_mm)


def test_several_series_most_slices_chosen(lidc, tmp_path):
    for p in list_files(data_path("lidc_idri_0001")):
        os.symlink(p, tmp_path / p.name)
    shutil.copy(data_path("pydicom", "CT_small.dcm"), tmp_path / "small.dcm")
    shutil.copy(data_path("tcia_covid19_ny_sbu", "A046441", "coronal", "19001111-056.dcm"), tmp_path / "cor.dcm")
    (tmp_path / "notes.txt").write_text("not dicom")
    vol = load(tmp_path)
    assert vol.shape == lidc.shape
    np.testing.assert_array_equal(vol.hu, lidc.hu)
    text = " ".join(vol.warnings)
    assert "holds 3 series" in text and "coronal" in text and "not readable DICOM" in text and "notes.txt" in text


def test_pancreas_flipped_orientation_comes_out_upright():
    path = data_path("pydicom", "pancreas_ct_0001_slice122_j2k.dcm")
    vol = load(path)
    assert vol.shape == (1, 512, 512) and vol.meta.kind == "dicom-slice"
    assert vol.spacing_mm.slice is None and vol.meta.slice_thickness_mm is None  # empty SliceThickness
    ds = pydicom.dcmread(path)
    np.testing.assert_array_equal(vol.hu[0], ds.pixel_array[::-1, :])  # IOP column cosine points anterior
    # anatomy: the spine (dense bone near the midline) lies posterior to the body's centre, i.e. lower rows
    img = vol.hu[0]
    body_rows, body_cols = np.nonzero(img > -300)
    mid = int(np.median(body_cols))
    bone_rows, _ = np.nonzero(img[:, mid - 30 : mid + 30] > 400)
    assert bone_rows.size > 200
    assert np.median(bone_rows) > body_rows.mean() + 40


def test_example_ct_dicom_jpeg2000_without_uids():
    vol = load(data_path("totalsegmentator", "example_ct_dicom"))
    assert vol.shape == (20, 512, 512)
    assert vol.spacing_mm.slice == pytest.approx(2.0)
    assert np.all(np.diff(vol.z_mm) > 0)
    assert any("grouped into series by geometry" in w for w in vol.warnings)
    assert vol.meta.sop_class_uid == "1.2.840.10008.5.1.4.1.1.2"  # from the file meta (dataset's is empty)
    body = vol.hu[10] > -300
    assert 0.1 < body.mean() < 0.9 and vol.hu.max() > 500  # decoded real anatomy, not zeros


def test_enhanced_multiframe_loads_but_is_not_hu():
    vol = load(data_path("pydicom", "eCT_Supplemental.dcm"))
    assert vol.meta.kind == "dicom-multiframe" and vol.shape == (2, 512, 512)
    assert vol.spacing_mm.slice == pytest.approx(10.0) and vol.spacing_mm.row == pytest.approx(0.388672)
    np.testing.assert_allclose(vol.z_mm, [-159.0, -149.0])
    assert not vol.is_hu and any("not HU" in w for w in vol.warnings)
    with pytest.raises(NotHUError):
        measure_volume(vol, np.ones(vol.shape, np.uint8))


@pytest.mark.parametrize("view", ["coronal", "sagittal"])
def test_covid_reformats_refused_as_not_axial_but_describable(view):
    folder = data_path("tcia_covid19_ny_sbu", "A002304", view)
    for p in list_files(folder):
        with pytest.raises(NotAxialError, match=view):
            load(p)
        vol = load(p, require_axial=False)
        assert vol.meta.source_axcodes is not None and any(view in w for w in vol.warnings)
        assert vol.n_slices > 100  # image rows became canonical (axial) slices


def test_toshiba_table_z_and_contrast_agent_normalised():
    vol = load(data_path("tcia_covid19_ny_sbu", "A046441", "axial", "19010101-23.dcm"))
    assert vol.meta.manufacturer == "TOSHIBA"
    assert vol.z_mm[0] == pytest.approx(1718.5) and 1600 < vol.z_mm[0] < 1800
    assert vol.meta.patient_age_years == 72 and vol.meta.patient_sex == "M"
    assert vol.meta.contrast_agent is None and int(vol.hu.min()) == -1024
    empty = load(data_path("tcia_covid19_ny_sbu", "A098752", "axial", "19010127-128.dcm"))
    assert empty.meta.contrast_agent is None  # written as ""
    named = load(data_path("tcia_covid19_ny_sbu", "A062055", "axial", "19001127-136.dcm"))
    assert named.meta.contrast_agent == "& NON IONIC"


def test_real_series_of_64_slices_and_list_input():
    folder = data_path("tcia_lung_pet_ct_dx", "Lung_Dx-A0001")
    files = [p for p in list_files(folder) if p.suffix == ".dcm"]
    vol = load_dicom(files[::-1])
    assert vol.shape[0] == 64 and vol.spacing_mm.slice == pytest.approx(5.0)
    assert np.all(np.diff(vol.z_mm) > 0)


def test_every_covid_slice_axial_loads_reformat_refused():
    root = data_path("tcia_covid19_ny_sbu")
    axial = sorted(root.glob("*/axial/*.dcm"))
    reformats = sorted(root.glob("*/coronal/*.dcm")) + sorted(root.glob("*/sagittal/*.dcm"))
    assert len(axial) == 20 and len(reformats) == 40
    for p in axial:
        vol = load(p)
        ds = pydicom.dcmread(p, stop_before_pixels=True)
        assert vol.shape == (1, int(ds.Rows), int(ds.Columns)) and int(vol.hu.min()) >= -1024
        assert vol.z_mm[0] == pytest.approx(float(ds.ImagePositionPatient[2]))
        assert vol.spacing_mm.row == pytest.approx(float(ds.PixelSpacing[0]))
    for p in reformats:
        with pytest.raises(NotAxialError):
            load(p)


def test_misspelt_hounsfield_rescale_type_is_hu() -> None:
    """A Toshiba slice writes RescaleType 'Houndsfield Unit': still HU, so it can be measured."""
    from sarco_core.io import load

    vol = load(data_path("tcia_covid19_ny_sbu", "A072894", "axial", "19001203-066.dcm"))
    assert vol.meta.rescale_type is not None and "HOUNDSFIELD" in vol.meta.rescale_type.upper()
    assert vol.is_hu and not any("not HU" in w for w in vol.warnings)
