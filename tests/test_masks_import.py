"""Import of expert masks (TAG, NIfTI, DICOM-SEG, PNG): round trips, alignment refusals, bulk manifest, CLI."""

from __future__ import annotations

import csv
import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sarco_core.cli import main
from sarco_core.errors import GridMismatchError, InputNotFoundError, InvalidMaskError, ManifestError
from sarco_core.io import load
from sarco_core.io.nifti import save_nifti
from sarco_core.masks import (
    MaskFormat,
    RowStatus,
    ValueMap,
    import_case,
    import_mask,
    import_rows,
    mask_to_tag,
    read_import_set,
    read_manifest,
    read_tag,
    scan_folder,
    tag_bytes,
    write_import_set,
)
from sarco_core.phantom import phantom_slice, write_dicom
from sarco_core.volume import Volume


@pytest.fixture(scope="module")
def slice_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, np.ndarray]:
    """One seeded phantom L3 slice (96 x 96, 3.5 mm) as a DICOM file, and its exact labels."""
    p = phantom_slice(seed=11, size=96, pixel_mm=3.5)
    d = tmp_path_factory.mktemp("ct")
    files = write_dicom(p, d, patient_height_m=1.7)
    return files[0], np.asarray(p.labels).reshape(96, 96).astype(np.uint8)


def _series(seed: int, n: int = 3) -> tuple[Volume, np.ndarray]:
    """A small n-slice stack (5 mm apart) of one phantom slice, with the slice's labels on every slice."""
    p = phantom_slice(seed=seed, size=64, pixel_mm=5.0)
    hu = np.stack([np.asarray(p.hu).reshape(64, 64) + i for i in range(n)]).astype(np.int16)
    labels = np.repeat(np.asarray(p.labels).reshape(1, 64, 64), n, axis=0).astype(np.uint8)
    return Volume.from_array(hu=hu, spacing_mm=(5.0, 5.0, 5.0), z0_mm=100.0), labels


def _png(arr: np.ndarray, mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8), mode="L").convert(mode).save(buf, format="PNG")
    return buf.getvalue()


# ------------------------------------------------------------------ TAG
def test_tag_round_trip_gives_identical_labels(slice_case: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    dcm, labels = slice_case
    ct = load(dcm)
    for imat in (True, False):
        data = mask_to_tag(ct, labels, 0, imat_from_hu=imat)
        tags = read_tag(data).tags[0]
        assert (2 in np.unique(tags)) is imat  # IMAT tagged from the HU gate, or not at all
        tag = tmp_path / f"{dcm.name}.tag"
        tag.write_bytes(data)
        m = import_mask(ct, tag)
        assert m.format is MaskFormat.TAG and m.source == "imported:tag"
        np.testing.assert_array_equal(m.labels, labels)
        assert m.value_map == ValueMap.alberta_tags()


def test_handwritten_tag_reads_as_documented() -> None:
    # keyword:value pairs with mixed separators, CR LF lines, a comment, form feed, then bytes row by row
    head = b"* drawn by hand\r\nX:4,y:3\tz:1 type:BYTE\r\ninc_x:0.5 inc_y:0.75 * trailing comment\r\n"
    pixels = bytes([0, 1, 1, 2, 5, 5, 7, 7, 0, 0, 0, 1])
    t = read_tag(head + b"\x0c" + pixels)
    assert (t.header.cols, t.header.rows, t.header.n_images) == (4, 3, 1)
    assert (t.header.col_spacing_mm, t.header.row_spacing_mm) == (0.5, 0.75)
    np.testing.assert_array_equal(t.tags[0], np.array([[0, 1, 1, 2], [5, 5, 7, 7], [0, 0, 0, 1]], np.uint8))
    lab = ValueMap.alberta_tags().to_labels(t.tags[0])
    np.testing.assert_array_equal(lab, [[0, 1, 1, 1], [3, 3, 2, 2], [0, 0, 0, 1]])


def test_tag_writer_output_is_what_the_reader_expects() -> None:
    tags = np.arange(12, dtype=np.uint8).reshape(3, 4)
    data = tag_bytes(tags, col_spacing_mm=0.7, row_spacing_mm=0.8)
    head, _, body = data.partition(b"\x0c")
    assert b"x:4" in head and b"y:3" in head and b"type:BYTE" in head and head.endswith(b"\r\n")
    assert body == tags.tobytes()
    np.testing.assert_array_equal(read_tag(data).tags[0], tags)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"x:2 y:2 type:BYTE" + bytes(4), "form feed"),
        (b"x:2 y:2\x0c" + bytes(3), "truncated"),
        (b"x:2 y:2\x0c" + bytes(5), "longer"),
        (b"hello world\x0c" + bytes(4), "keyword:value"),
        (b"x:2 z:1\x0c" + bytes(4), "lacks the image size"),
        (b"x:2 y:2 type:SHORT\x0c" + bytes(8), "SHORT"),
        (b"x:two y:2\x0c" + bytes(4), "not a number"),
    ],
)
def test_bad_tag_files_are_refused(data: bytes, words: str) -> None:
    with pytest.raises(InvalidMaskError, match=words):
        read_tag(data)


def test_tag_on_wrong_image_or_values_is_refused(slice_case: tuple[Path, np.ndarray]) -> None:
    dcm, labels = slice_case
    ct = load(dcm)
    with pytest.raises(GridMismatchError, match=r"80 x 96 pixels.*96 x 96"):
        import_mask(ct, tag_bytes(np.zeros((80, 96), np.uint8)), fmt=MaskFormat.TAG)
    with pytest.raises(GridMismatchError, match="pixel spacing"):
        import_mask(
            ct, tag_bytes(np.ones((96, 96), np.uint8), col_spacing_mm=0.9, row_spacing_mm=0.9), fmt=MaskFormat.TAG
        )
    odd = mask_to_tag(ct, labels, 0, imat_from_hu=False)
    head, _, body = odd.partition(b"\x0c")
    arr = np.frombuffer(body, np.uint8).copy()
    arr[:5] = 12  # a tag the Alberta map does not name
    bad = head + b"\x0c" + arr.tobytes()
    with pytest.raises(InvalidMaskError, match=r"\[12\].*alberta,12=0"):
        import_mask(ct, bad, fmt=MaskFormat.TAG)
    ok = import_mask(ct, bad, fmt=MaskFormat.TAG, value_map=ValueMap.parse("alberta,12=0"))
    assert int((ok.labels != labels).sum()) == int((labels.reshape(-1)[:5] != 0).sum())


def test_tag_header_warnings_and_multi_image_refusal(slice_case: tuple[Path, np.ndarray]) -> None:
    dcm, labels = slice_case
    ct = load(dcm)
    body = mask_to_tag(ct, labels, 0).partition(b"\x0c")[2]
    far = b"x:96 y:96 org_x:500 org_y:500 org_z:0 colour:red\r\n\x0c" + body
    m = import_mask(ct, far, fmt=MaskFormat.TAG)
    assert len(m.warnings) == 2 and "origin" in m.warnings[0] and "colour" in m.warnings[1]
    np.testing.assert_array_equal(m.labels, labels)
    with pytest.raises(InvalidMaskError, match="holds 2 images"):
        import_mask(ct, b"x:96 y:96 z:2\x0c" + body + body, fmt=MaskFormat.TAG)


def test_tag_in_series_folder_lands_on_its_own_slice(tmp_path: Path) -> None:
    vol, _ = _series(5)
    files = write_dicom(vol, tmp_path / "series")
    ct = load(tmp_path / "series")
    lab = np.zeros((64, 64), np.uint8)
    lab[20:30, 20:40] = 1
    (tmp_path / "series" / (files[1].name + ".tag")).write_bytes(mask_to_tag(ct, lab, 1, imat_from_hu=False))
    case = import_case(tmp_path / "series" / (files[1].name + ".tag"), tmp_path / "series", case_id="s")
    assert case.mask.slice_index == 1 and case.volume.n_slices == 1
    np.testing.assert_array_equal(case.volume.hu[0], ct.hu[1])
    np.testing.assert_array_equal(case.mask.labels, lab)


# ------------------------------------------------------------------ NIfTI, DICOM-SEG, PNG
def test_nifti_mask_on_the_ct_grid(tmp_path: Path) -> None:
    ct, labels = _series(6)
    full = np.zeros(ct.shape, np.uint8)
    full[2] = labels[2]
    save_nifti(ct, full, tmp_path / "m.nii.gz")
    m = import_mask(ct, tmp_path / "m.nii.gz")
    assert m.slice_index == 2 and m.format is MaskFormat.NIFTI
    np.testing.assert_array_equal(m.labels, full[2])
    # a one-slice NIfTI of slice 1 is placed on slice 1 by its position
    one = ct.select([1])
    save_nifti(one, labels[1][None], tmp_path / "one.nii.gz")
    assert import_mask(ct, tmp_path / "one.nii.gz").slice_index == 1
    full[0] = full[2]
    save_nifti(ct, full, tmp_path / "two.nii.gz")
    with pytest.raises(InvalidMaskError, match=r"2 slices \[0, 2\]"):
        import_mask(ct, tmp_path / "two.nii.gz")
    assert import_mask(ct, tmp_path / "two.nii.gz", slice_index=0).slice_index == 0
    save_nifti(ct, full * 4, tmp_path / "slicer.nii.gz")  # a label map with other values
    with pytest.raises(InvalidMaskError, match="--nifti-map"):
        import_mask(ct, tmp_path / "slicer.nii.gz", slice_index=2)
    vm = ValueMap.parse("0=0,4=1,8=2,12=3")
    np.testing.assert_array_equal(
        import_mask(ct, tmp_path / "slicer.nii.gz", slice_index=2, value_map=vm).labels, full[2]
    )


def test_nifti_on_another_grid_is_refused_naming_the_fix(tmp_path: Path) -> None:
    hu = np.full((1, 32, 32), 40, np.int16)
    ct = Volume.from_array(hu=hu, spacing_mm=(3.0, 1.0, 1.0))
    cases = {
        "spacing": Volume.from_array(hu=hu, spacing_mm=(3.0, 1.2, 1.0)),
        "shifted": Volume.from_canonical(
            hu=hu, affine=np.asarray(ct.affine) + np.array([[0, 0, 0, 4.0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
        ),
        "pixels": Volume.from_array(hu=np.zeros((1, 30, 32), np.int16), spacing_mm=(3.0, 1.0, 1.0)),
        "position": Volume.from_array(hu=hu, spacing_mm=(3.0, 1.0, 1.0), z0_mm=30.0),
    }
    words = {"spacing": "pixel spacing", "shifted": "shifted", "pixels": "30 x 32", "position": "no slice"}
    for key, mv in cases.items():
        save_nifti(mv, np.ones(mv.shape, np.uint8), tmp_path / f"{key}.nii.gz")
        with pytest.raises(GridMismatchError, match=words[key]) as err:
            import_mask(ct, tmp_path / f"{key}.nii.gz")
        assert "never resamples" in str(err.value) or key == "position"


def test_dicom_seg_round_trip(slice_case: tuple[Path, np.ndarray]) -> None:
    from sarco_core.export import mask_to_dicom_seg

    dcm, labels = slice_case
    ct = load(dcm)
    seg = mask_to_dicom_seg(ct, labels, 0)
    m = import_mask(ct, seg, name="ref.dcm")
    assert m.format is MaskFormat.DICOM_SEG
    np.testing.assert_array_equal(m.labels, labels)
    with pytest.raises(InvalidMaskError, match="not a segmentation"):
        import_mask(ct, dcm)  # the CT itself is no mask


def test_png_masks_with_value_maps(slice_case: tuple[Path, np.ndarray]) -> None:
    dcm, labels = slice_case
    ct = load(dcm)
    np.testing.assert_array_equal(import_mask(ct, _png(labels), name="a.png").labels, labels)
    white = (labels == 1).astype(np.uint8) * 255
    np.testing.assert_array_equal(import_mask(ct, _png(white), name="b.png").labels, labels == 1)
    site = np.select([labels == 1, labels == 2, labels == 3], [10, 20, 30], 0)
    with pytest.raises(InvalidMaskError, match=r"\[10, 20, 30\].*--png-map labels,10=0"):
        import_mask(ct, _png(site), name="c.png")
    vm = ValueMap.parse("0=0,10=1,20=2,30=3")
    np.testing.assert_array_equal(import_mask(ct, _png(site), name="c.png", value_map=vm).labels, labels)
    rgb = np.stack([labels * 80, labels * 10, labels], axis=-1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb, mode="RGB").save(buf, format="PNG")
    with pytest.raises(InvalidMaskError, match="colour"):
        import_mask(ct, buf.getvalue(), name="d.png")
    with pytest.raises(GridMismatchError, match="48 x 96"):
        import_mask(ct, _png(labels[:48]), name="e.png")


def test_records_are_frozen_and_read_only(slice_case: tuple[Path, np.ndarray]) -> None:
    dcm, labels = slice_case
    m = import_mask(load(dcm), _png(labels), name="a.png")
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.slice_index = 3  # type: ignore[misc]
    with pytest.raises(ValueError):
        m.labels[0, 0] = 1


def test_value_map_parse_errors() -> None:
    with pytest.raises(InvalidMaskError, match="value=label"):
        ValueMap.parse("muscle")
    with pytest.raises(InvalidMaskError, match="labels are 0"):
        ValueMap.parse("1=9")
    assert ValueMap.parse("alberta,12=0").as_dict()[12] == 0


# ------------------------------------------------------------------ bulk import, import set, CLI
def _cohort(tmp: Path, slice_case: tuple[Path, np.ndarray]) -> Path:
    dcm, labels = slice_case
    ct = load(dcm)
    (tmp / "ok.dcm").write_bytes(dcm.read_bytes())
    (tmp / "ok.dcm.tag").write_bytes(mask_to_tag(ct, labels, 0))
    (tmp / "p.png").write_bytes(_png(labels))
    (tmp / "small.png").write_bytes(_png(labels[:50]))
    rows = [
        ["case_id", "image", "mask", "format", "height_m", "sex"],
        ["c1", "", "ok.dcm.tag", "", "1.70", "F"],
        ["c2", "ok.dcm", "p.png", "png", "", ""],
        ["c3", "missing.dcm", "p.png", "", "", ""],
        ["c4", "ok.dcm", "small.png", "", "", ""],
        ["c5", "ok.dcm", "p.png", "jpeg", "", ""],
        ["c1", "ok.dcm", "p.png", "", "", ""],
        ["c6", "ok.dcm", "p.png", "", "172", ""],
    ]
    with (tmp / "m.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return tmp / "m.csv"


def test_manifest_reports_each_row_and_bad_rows_do_not_stop(
    slice_case: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    report = import_rows(read_manifest(_cohort(tmp_path, slice_case)))
    got = {(o.row, o.case_id): (o.status, o.reason) for o in report.outcomes}
    assert [o.status for o in report.outcomes] == [RowStatus.OK, RowStatus.OK] + [RowStatus.ERROR] * 5
    assert "does not exist" in got[(3, "c3")][1]
    assert "50 x 96" in got[(4, "c4")][1]
    assert "Unknown mask format 'jpeg'" in got[(5, "c5")][1]
    assert "earlier row" in got[(6, "c1")][1]
    assert "centimetres" in got[(7, "c6")][1] or "cm" in got[(7, "c6")][1]
    c1 = report.cases[0]
    assert c1.patient.height_m == 1.7 and c1.patient.sex == "F"
    out = write_import_set(report, tmp_path / "set")
    back = read_import_set(out)
    assert [c.case_id for c in back] == ["c1", "c2"]
    for a, b in zip(report.cases, back, strict=True):
        np.testing.assert_array_equal(a.mask.labels, b.mask.labels)
        np.testing.assert_array_equal(a.volume.hu, b.volume.hu)
        assert b.volume.spacing_mm.row == pytest.approx(a.volume.spacing_mm.row)
        assert b.mask.z_mm == pytest.approx(a.mask.z_mm) and b.patient == a.patient
    with (out / "import_report.csv").open() as fh:
        assert [r["status"] for r in csv.DictReader(fh)] == ["ok", "ok"] + ["error"] * 5


def test_import_set_detects_a_changed_reference(slice_case: tuple[Path, np.ndarray], tmp_path: Path) -> None:
    report = import_rows(read_manifest(_cohort(tmp_path, slice_case)))
    out = write_import_set(report, tmp_path / "set")
    case = report.cases[0]
    save_nifti(case.volume, np.zeros((1, 96, 96), np.uint8), out / "cases" / "c1" / "reference.nii.gz")
    with pytest.raises(ManifestError, match="checksum"):
        read_import_set(out)
    with pytest.raises(ManifestError, match="not an import set"):
        read_import_set(tmp_path)


def test_folder_scan_and_cli(
    slice_case: tuple[Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "in").mkdir()
    manifest = _cohort(tmp_path / "in", slice_case)
    rows = scan_folder(manifest.parent)
    assert [(r.case_id, r.format) for r in rows] == [("ok", "tag")]
    assert main(["import-masks", str(manifest.parent), "--out", str(tmp_path / "a")]) == 0
    assert len(read_import_set(tmp_path / "a")) == 1
    assert main(["import-masks", "--manifest", str(manifest), "--out", str(tmp_path / "b"), "--json"]) == 1
    assert '"n_ok": 2' in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("id,ct\nx,y\n")
    assert main(["import-masks", "--manifest", str(bad), "--out", str(tmp_path / "c")]) == 2
    assert "lacks the column(s) mask" in capsys.readouterr().err
    with pytest.raises(InputNotFoundError):
        scan_folder(tmp_path / "nowhere")
