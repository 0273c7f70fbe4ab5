"""DICOM quirks and refusals on small series generated in the test (pydicom datasets written to tmp_path)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from sarco_core.errors import (
    GantryTiltError,
    IrregularSeriesError,
    LocalizerError,
    MissingGeometryError,
    NotAxialError,
    NotCTError,
    NotHUError,
    UnreadableFileError,
    UnsupportedCompressionError,
)
from sarco_core.io import load
from sarco_core.io.dicom import load_dicom
from sarco_core.io.dicom_meta import parse_age_years
from sarco_core.io.dicom_write import series_datasets
from sarco_core.privacy import salted_id_hash
from sarco_core.volume import Volume

N, R, C = 5, 12, 10


def _volume(seed: int = 0, n: int = N) -> Volume:
    rng = np.random.default_rng(seed)
    hu = rng.integers(-1000, 1500, size=(n, R, C)).astype(np.int16)
    return Volume.from_array(hu=hu, spacing_mm=(2.0, 0.7, 0.9), z0_mm=-50.0)


def _write(
    folder: Path,
    vol: Volume | None = None,
    mutate: Callable[[int, Dataset], None] | None = None,
    prefix: str = "im",
    **kw,
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k, ds in enumerate(series_datasets(vol or _volume(), **kw)):
        if mutate:
            mutate(k, ds)
        p = folder / f"{prefix}{k:03d}.dcm"
        ds.save_as(p, enforce_file_format=True)
        paths.append(p)
    return paths


def test_generated_series_loads_exactly(tmp_path):
    vol = _volume()
    _write(tmp_path, vol)
    out = load(tmp_path)
    np.testing.assert_array_equal(out.hu, vol.hu)
    np.testing.assert_allclose(out.z_mm, vol.z_mm)
    np.testing.assert_allclose(out.affine, vol.affine, atol=1e-9)
    assert out.spacing_mm == vol.spacing_mm and out.warnings == ()


@pytest.mark.parametrize("modality, error", [("MR", NotCTError), ("PT", NotCTError), ("RTSTRUCT", NotCTError)])
def test_not_ct_refused(tmp_path, modality, error):
    _write(tmp_path, mutate=lambda k, ds: setattr(ds, "Modality", modality))
    with pytest.raises(error, match=modality):
        load(tmp_path)


def test_structure_set_without_pixels_refused(tmp_path):
    ds = series_datasets(_volume(n=1))[0]
    ds.Modality = "RTSTRUCT"
    for tag in ("Rows", "Columns", "PixelData"):
        delattr(ds, tag)
    ds.save_as(tmp_path / "rs.dcm", enforce_file_format=True)
    with pytest.raises(NotCTError, match="RTSTRUCT"):
        load(tmp_path / "rs.dcm")


def test_localizer_refused_alone_and_skipped_beside_axial(tmp_path):
    def scout(k: int, ds: Dataset) -> None:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
        ds.SeriesDescription = "Topogram 0.6 T20f"
        ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]

    _write(tmp_path / "s", _volume(n=1), mutate=scout)
    with pytest.raises(LocalizerError):
        load(tmp_path / "s")
    _write(tmp_path / "s", _volume(), prefix="ax")
    vol = load(tmp_path / "s")
    assert vol.n_slices == N and any("localizer" in w for w in vol.warnings)


def test_gantry_tilt_refused_by_tag_and_by_positions(tmp_path):
    _write(tmp_path / "a", mutate=lambda k, ds: setattr(ds, "GantryDetectorTilt", "15"))
    with pytest.raises(GantryTiltError, match="15"):
        load(tmp_path / "a")

    def shear(k: int, ds: Dataset) -> None:  # slices shifted along y as the table moves: 15 degree tilt
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y + k * 2.0 * math.tan(math.radians(15)), z]

    _write(tmp_path / "b", mutate=shear)
    with pytest.raises(GantryTiltError, match="15.0 degrees"):
        load(tmp_path / "b")


def test_missing_slice_named_by_position(tmp_path):
    paths = _write(tmp_path)
    paths[2].unlink()  # z = -50, -48, [-46 missing], -44, -42
    with pytest.raises(IrregularSeriesError, match=r"gap between z = -48 and -44 mm where 2 mm spacing expected"):
        load(tmp_path)


def test_irregular_spacing_refused(tmp_path):
    def move(k: int, ds: Dataset) -> None:
        if k == 3:
            x, y, z = (float(v) for v in ds.ImagePositionPatient)
            ds.ImagePositionPatient = [x, y, z + 0.7]

    _write(tmp_path, mutate=move)
    with pytest.raises(IrregularSeriesError, match="spacing 2.7 mm between z = -46 and -43.3 mm"):
        load(tmp_path)


def test_duplicate_position_refused_but_identical_copy_ignored(tmp_path):
    paths = _write(tmp_path / "copy")
    (tmp_path / "copy" / "again.dcm").write_bytes(paths[1].read_bytes())
    vol = load(tmp_path / "copy")
    assert vol.n_slices == N and any("duplicate" in w for w in vol.warnings)

    def dup(k: int, ds: Dataset) -> None:
        if k == 3:
            ds.ImagePositionPatient = [float(v) for v in ds.ImagePositionPatient[:2]] + [-48.0]

    _write(tmp_path / "dup", mutate=dup)
    with pytest.raises(IrregularSeriesError, match="same slice position: z = -48 mm"):
        load(tmp_path / "dup")


@pytest.mark.parametrize("tag", ["PixelSpacing", "ImageOrientationPatient", "ImagePositionPatient"])
def test_missing_geometry_refused(tmp_path, tag):
    _write(tmp_path, mutate=lambda k, ds: delattr(ds, tag))
    with pytest.raises(MissingGeometryError, match=tag):
        load(tmp_path)


def test_truncated_file_refused(tmp_path):
    paths = _write(tmp_path)
    data = paths[2].read_bytes()
    paths[2].write_bytes(data[: len(data) - 50])
    with pytest.raises(UnreadableFileError, match=paths[2].name):
        load(tmp_path)


def test_non_dicom_files_skipped_or_refused(tmp_path):
    _write(tmp_path / "s")
    (tmp_path / "s" / "readme.txt").write_text("exported by PACS")
    vol = load(tmp_path / "s")
    assert vol.n_slices == N and any("readme.txt" in w for w in vol.warnings)
    (tmp_path / "junk.dcm").write_bytes(b"\x00" * 300)
    with pytest.raises(UnreadableFileError, match="could be read as DICOM"):
        load(tmp_path / "junk.dcm")


def test_unsupported_compression_names_transfer_syntax(tmp_path):
    from pydicom.encaps import encapsulate
    from pydicom.uid import MPEG2MPML

    def mpeg(k: int, ds: Dataset) -> None:
        ds.file_meta.TransferSyntaxUID = MPEG2MPML
        ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + b"\x00" * 60])
        ds["PixelData"].VR = "OB"

    _write(tmp_path, _volume(n=1), mutate=mpeg)
    with pytest.raises(UnsupportedCompressionError, match="MPEG2"):
        load(tmp_path)


def test_padding_read_with_pixel_representation(tmp_path):
    vol = _volume(n=2)

    def pad(k: int, ds: Dataset) -> None:
        arr = np.frombuffer(ds.PixelData, dtype=np.int16).reshape(R, C).copy()
        arr[:2, :] = -2000  # outside the field of view, stored signed
        arr[5, 5] = 1500  # an ordinary pixel keeps its value
        ds.PixelRepresentation = 1
        ds.PixelData = arr.tobytes()
        pydicom.dataset.Dataset.__setattr__(ds, "PixelPaddingValue", 63536)  # unsigned bits of -2000
        ds["PixelPaddingValue"].VR = "US"

    _write(tmp_path, vol, mutate=pad)
    out = load(tmp_path)
    assert int(out.hu.min()) == -1024
    assert np.all(out.hu[:, :2, :] == -1024)
    pad_warn = [w for w in out.warnings if "set to -1024 HU" in w]
    assert len(pad_warn) == 1 and pad_warn[0].startswith(f"{2 * 2 * C} voxels")
    assert out.hu[0, 5, 5] == 1500 - 1024


def test_padding_value_above_air_is_still_padding(tmp_path):
    def pad(k: int, ds: Dataset) -> None:
        arr = np.frombuffer(ds.PixelData, dtype=np.uint16).reshape(R, C).copy()
        arr[0, 0] = 3000  # = 1976 HU, declared padding
        ds.PixelData = arr.tobytes()
        ds.PixelPaddingValue = 3000

    _write(tmp_path, mutate=pad)
    out = load(tmp_path)
    assert np.all(out.hu[:, 0, 0] == -1024)


def test_not_hu_loads_flagged_and_measurement_refused(tmp_path):
    _write(tmp_path, mutate=lambda k, ds: setattr(ds, "RescaleType", "US"))
    vol = load(tmp_path)
    assert not vol.is_hu and any("not HU" in w for w in vol.warnings)
    with pytest.raises(NotHUError):
        vol.require_hu()


def test_non_integral_rescale_gives_float(tmp_path):
    vol = _volume()
    _write(tmp_path, vol, mutate=lambda k, ds: setattr(ds, "RescaleSlope", "0.5"))
    out = load(tmp_path)
    assert out.hu.dtype == np.float32
    expected = np.maximum((vol.hu.astype(np.float64) + 1024) * 0.5 - 1024, -1024)
    np.testing.assert_allclose(out.hu, expected)


def test_flipped_orientation_and_reversed_stack(tmp_path):
    """Rows stored posterior-first (column cosine -y) and slice normal pointing inferior: same canonical image."""
    vol = _volume()

    def flip(k: int, ds: Dataset) -> None:
        arr = np.frombuffer(ds.PixelData, dtype=np.uint16).reshape(R, C)
        ds.PixelData = np.ascontiguousarray(arr[::-1]).tobytes()
        x, y, z = (float(v) for v in ds.ImagePositionPatient)
        ds.ImagePositionPatient = [x, y + (R - 1) * 0.7, z]
        ds.ImageOrientationPatient = [1, 0, 0, 0, -1, 0]

    _write(tmp_path, vol, mutate=flip)
    out = load(tmp_path)
    np.testing.assert_array_equal(out.hu, vol.hu)
    np.testing.assert_allclose(out.z_mm, vol.z_mm)
    np.testing.assert_allclose(out.affine, vol.affine, atol=1e-9)
    sops = [pydicom.dcmread(p).SOPInstanceUID for p in sorted(tmp_path.glob("*.dcm"))]
    assert list(out.meta.sop_uids) == sops


def test_coronal_series_refused_or_described(tmp_path):
    def coronal(k: int, ds: Dataset) -> None:
        ds.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]
        ds.ImagePositionPatient = [0.0, 2.0 * k, 0.0]

    _write(tmp_path, mutate=coronal)
    with pytest.raises(NotAxialError, match="coronal"):
        load(tmp_path)
    vol = load(tmp_path, require_axial=False)
    assert vol.shape == (R, N, C)  # image rows run superior->inferior: they become the slices
    assert vol.spacing_mm.slice == pytest.approx(0.7) and vol.spacing_mm.row == pytest.approx(2.0)
    assert vol.z_mm[0] == pytest.approx(-(R - 1) * 0.7) and vol.z_mm[-1] == pytest.approx(0.0)


def test_series_chosen_by_size_and_empty_uids_grouped_by_geometry(tmp_path):
    _write(tmp_path, _volume(1, n=3), prefix="a")
    _write(tmp_path, _volume(2, n=6), prefix="b")
    vol = load(tmp_path)
    assert vol.n_slices == 6 and any("holds 2 series" in w for w in vol.warnings)

    def no_uids(k: int, ds: Dataset) -> None:
        ds.SeriesInstanceUID = ""
        ds.StudyInstanceUID = ""
        ds.SOPInstanceUID = ""
        ds.SOPClassUID = ""  # only in the file meta (example_ct_dicom quirk)

    _write(tmp_path / "e", _volume(3), mutate=no_uids)
    vol = load(tmp_path / "e")
    assert vol.n_slices == N and vol.meta.sop_class_uid == "1.2.840.10008.5.1.4.1.1.2"
    assert any("grouped into series by geometry" in w for w in vol.warnings)


def test_patient_metadata_normalised(tmp_path):
    def meta(k: int, ds: Dataset) -> None:
        ds.PatientAge = "065Y"
        ds.PatientSex = "F"
        ds.PatientSize = "0"
        ds.PatientWeight = "0"
        ds.ContrastBolusAgent = "NONE"
        ds.PatientID = "MRN-12345"
        ds.PatientName = "Doe^Jane"
        ds.PatientBirthDate = "19600101"

    _write(tmp_path, mutate=meta)
    vol = load(tmp_path)
    m = vol.meta
    assert m.patient_age_years == 65 and m.patient_sex == "F"
    assert m.patient_height_m is None and m.patient_weight_kg is None and m.contrast_agent is None
    assert m.patient_id_hash == salted_id_hash("MRN-12345")
    text = repr(vol.info_dict()) + repr(m)
    assert "MRN-12345" not in text and "Doe" not in text and "19600101" not in text
    assert parse_age_years("006M") == pytest.approx(0.5) and parse_age_years("") is None


def test_height_in_centimetres_ignored_with_warning(tmp_path):
    _write(tmp_path, mutate=lambda k, ds: setattr(ds, "PatientSize", "172"))
    vol = load(tmp_path)
    assert vol.meta.patient_height_m is None and any("looks like centimetres" in w for w in vol.warnings)


def test_height_weight_and_bytes_input(tmp_path):
    paths = _write(tmp_path, patient_height_m=1.72, patient_weight_kg=70.5, patient_sex="M")
    vol = load_dicom([(p.name, p.read_bytes()) for p in paths])
    assert vol.meta.patient_height_m == pytest.approx(1.72) and vol.meta.patient_weight_kg == pytest.approx(70.5)
    assert vol.meta.patient_sex == "M" and vol.n_slices == N


def test_salted_hash_depends_on_installation(tmp_path, monkeypatch):
    a = salted_id_hash("X1")
    assert a == salted_id_hash("X1") and a != salted_id_hash("X2") and len(a) == 64
    assert salted_id_hash("") is None and salted_id_hash(None) is None
    monkeypatch.setenv("SARCO_HOME", str(tmp_path / "other"))
    assert salted_id_hash("X1") != a
    monkeypatch.setenv("SARCO_ID_SALT", "fixed")
    assert salted_id_hash("X1") == salted_id_hash("X1") != a


def test_file_without_preamble_loads(tmp_path):
    vol = _volume(n=1)
    ds = series_datasets(vol)[0]
    del ds.file_meta
    raw = tmp_path / "bare"
    ds.save_as(raw, implicit_vr=True, little_endian=True)
    assert raw.read_bytes()[128:132] != b"DICM"
    out = load(raw)
    np.testing.assert_array_equal(out.hu, vol.hu)


@pytest.mark.parametrize("uid_name", ["RLELossless", "JPEGLSLossless"])
def test_compressed_pixels_decode(tmp_path, uid_name):
    import pydicom.uid

    vol = _volume()
    _write(tmp_path, vol, mutate=lambda k, ds: ds.compress(getattr(pydicom.uid, uid_name), generate_instance_uid=False))
    assert pydicom.dcmread(next(tmp_path.glob("*.dcm"))).file_meta.TransferSyntaxUID.is_compressed
    np.testing.assert_array_equal(load(tmp_path).hu, vol.hu)


def test_same_geometry_without_uids_split_by_series_number(tmp_path):
    def phase(number: int) -> Callable[[int, Dataset], None]:
        def mutate(k: int, ds: Dataset) -> None:
            ds.SeriesInstanceUID = ""
            ds.SeriesNumber = number

        return mutate

    _write(tmp_path, _volume(1, n=4), mutate=phase(2), prefix="arterial")
    _write(tmp_path, _volume(2, n=5), mutate=phase(3), prefix="venous")
    vol = load(tmp_path)
    assert vol.n_slices == 5 and any("holds 2 series" in w for w in vol.warnings)


def test_legacy_multiframe_without_positions_refused(tmp_path):
    vol = _volume(n=3)
    ds = series_datasets(vol)[0]
    stored = np.stack([np.frombuffer(d.PixelData, np.uint16).reshape(R, C) for d in series_datasets(vol)])
    ds.NumberOfFrames = 3
    ds.PixelData = stored.tobytes()
    ds.save_as(tmp_path / "mf.dcm", enforce_file_format=True)
    with pytest.raises(MissingGeometryError, match="ImagePositionPatient"):
        load(tmp_path / "mf.dcm")


def test_rescale_applied_per_slice(tmp_path):
    vol = _volume()

    def shift(k: int, ds: Dataset) -> None:  # same HU stored with a different intercept on odd slices
        if k % 2:
            arr = np.frombuffer(ds.PixelData, np.uint16).astype(np.int32) + 24
            ds.PixelData = arr.astype(np.uint16).tobytes()
            ds.RescaleIntercept = "-1048"

    _write(tmp_path, vol, mutate=shift)
    out = load(tmp_path)
    assert out.hu.dtype == np.int16
    np.testing.assert_array_equal(out.hu, vol.hu)
