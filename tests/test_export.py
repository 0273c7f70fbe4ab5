"""Exports: NIfTI and DICOM-SEG masks (written and read back), overlay PNG, PDF report, cohort CSV/XLSX."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.uid import generate_uid

from sarco_core.errors import GridMismatchError
from sarco_core.export import (
    ExportError,
    cohort_csv,
    cohort_xlsx,
    mask_to_dicom_seg,
    mask_to_nifti,
    overlay_png,
    read_manual_mask,
    report_pdf,
)
from sarco_core.io import load, load_mask
from sarco_core.io.dicom_write import save_dataset, series_datasets
from sarco_core.metrics import check_same_grid
from sarco_core.store import Store
from sarco_core.volume import Volume
from tests.store_helpers import MUSCLE, auto_labels, synthetic_volume

K = 3  # the measured slice


def write_series(vol: Volume, folder: Path, *, flip_cols: bool = False, reverse_files: bool = False) -> Path:
    """A DICOM series of ``vol``; optionally stored with columns running toward patient right (flipped IOP)."""
    folder.mkdir(parents=True, exist_ok=True)
    dss = series_datasets(vol, study_uid=generate_uid())
    for k, ds in enumerate(dss):
        if flip_cols:
            iop = [float(v) for v in ds.ImageOrientationPatient]
            ipp = np.asarray([float(v) for v in ds.ImagePositionPatient])
            row_cos = np.asarray(iop[:3])
            ipp = ipp + row_cos * float(ds.PixelSpacing[1]) * (int(ds.Columns) - 1)
            ds.ImageOrientationPatient = [*(-row_cos), *iop[3:]]
            ds.ImagePositionPatient = [float(v) for v in ipp]
            px = np.frombuffer(ds.PixelData, dtype=np.uint16).reshape(int(ds.Rows), int(ds.Columns))
            ds.PixelData = np.ascontiguousarray(px[:, ::-1]).tobytes()
        name = f"IM{(len(dss) - k) if reverse_files else k + 1:04d}.dcm"
        save_dataset(ds, folder / name)
    return folder


@pytest.fixture(scope="module")
def dicom_volumes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Volume]:
    base = tmp_path_factory.mktemp("series")
    vol = synthetic_volume()
    return {
        "plain": load(write_series(vol, base / "plain")),
        "flipped": load(write_series(vol, base / "flipped", flip_cols=True, reverse_files=True)),
    }


def test_nifti_round_trip_on_the_grid(tmp_path: Path, dicom_volumes: dict[str, Volume]) -> None:
    nifti_vol = load(mask_to_nifti(synthetic_volume(), np.zeros((40, 48)), 0, tmp_path / "ct.nii.gz"))
    for name, vol in [("array", synthetic_volume()), ("nifti", nifti_vol), *dicom_volumes.items()]:
        p = mask_to_nifti(vol, auto_labels(), K, tmp_path / f"{name}.nii.gz")
        back = load_mask(p)
        check_same_grid(vol, back)
        expected = np.zeros(vol.shape, np.uint8)
        expected[K] = auto_labels()
        np.testing.assert_array_equal(back.hu, expected)
        np.testing.assert_array_equal(read_manual_mask(p, vol), expected)
    other = synthetic_volume(n_slices=5)
    with pytest.raises(GridMismatchError):
        read_manual_mask(tmp_path / "array.nii.gz", other)


@pytest.mark.parametrize("variant", ["plain", "flipped"])
def test_dicom_seg_references_the_source_and_reads_back(
    tmp_path: Path, dicom_volumes: dict[str, Volume], variant: str
) -> None:
    import highdicom as hd
    import pydicom

    vol = dicom_volumes[variant]
    lab = auto_labels()
    lab[0:2, 0:2] = 3
    path = tmp_path / "seg.dcm"
    mask_to_dicom_seg(vol, lab, K, path, author="Tester")
    seg = hd.seg.segread(path)
    assert seg.StudyInstanceUID == vol.meta.study_uid
    assert seg.FrameOfReferenceUID == vol.meta.frame_of_reference_uid
    refs = seg.get_source_image_uids()
    assert [(r[1], r[2]) for r in refs] == [(vol.meta.series_uid, vol.meta.sop_uids[K])]
    names = [d.SegmentLabel for d in seg.SegmentSequence]
    assert names == ["Skeletal muscle", "Subcutaneous adipose tissue (SAT)", "Visceral adipose tissue (VAT)"]
    assert seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeValue == "127954009"
    np.testing.assert_array_equal(read_manual_mask(path, vol)[K], lab)
    # independent check against the original file's own pixel order: the muscle frame covers the 50 HU block
    frames = pydicom.dcmread(path).pixel_array
    muscle_frame = frames[0] if frames.ndim == 3 else frames
    canon_block = np.zeros(lab.shape, bool)
    canon_block[MUSCLE] = True
    expected_src = canon_block[:, ::-1] if variant == "flipped" else canon_block
    np.testing.assert_array_equal(muscle_frame.astype(bool), expected_src)


def test_dicom_seg_refused_without_dicom_source() -> None:
    with pytest.raises(ExportError, match="NIfTI"):
        mask_to_dicom_seg(synthetic_volume(), auto_labels(), K)


def test_overlay_png_decodes_with_square_mm_pixels(tmp_path: Path) -> None:
    vol = synthetic_volume()
    data = overlay_png(vol.hu[K], auto_labels(), vol.spacing_mm, tmp_path / "o.png")
    img = Image.open(io.BytesIO(data)).convert("RGB")
    assert (tmp_path / "o.png").read_bytes() == data
    w, h = img.size
    assert min(w, h) >= 512 or max(w, h) >= 512
    assert w / h == pytest.approx((48 * 0.9) / (40 * 0.7), rel=0.02)
    a = np.asarray(img).astype(int)
    cy, cx = int((19 / 40) * h), int((19 / 48) * w)  # inside the muscle block
    r, g, b = a[cy, cx]
    assert r > g + 40 and r > b + 40  # red
    sy, sx = int(33.5 / 40 * h), int(40 / 48 * w)  # SAT ring
    r, g, b = a[sy, sx]
    assert r > b + 60 and g > b + 60  # yellow


def _seeded_store(url: str) -> tuple[Store, int]:
    store = Store.open(url)
    vol = synthetic_volume()
    ids = []
    for i, (sex, h) in enumerate((("F", 1.62), ("M", 1.80))):
        c = store.create_case(
            vol,
            analysis={"method": "threshold", "rule": "martin2013", "confidence": 0.9},
            labels=auto_labels(),
            slice_index=K,
            actor="t",
            label=f"=C{i}",
            sex=sex,
            height_m=h,
            weight_kg=70,
        )
        ids.append(c.id)
    return store, ids[0]


def test_report_pdf_has_numbers_citation_and_disclaimer(tmp_path: Path) -> None:
    store, cid = _seeded_store(f"sqlite:///{tmp_path / 'r.db'}")
    case = store.get_case(cid)
    assert case.latest_version is not None
    vol = store.load_volume(cid)
    png = overlay_png(vol.hu[K], store.get_mask(case.latest_version.id), vol.spacing_mm)
    pdf = report_pdf(
        tmp_path / "r.pdf", case=case, analysis=case.latest_analysis, version=case.latest_version, overlay_png=png
    )
    assert pdf.startswith(b"%PDF") and (tmp_path / "r.pdf").read_bytes() == pdf
    assert b"J Clin Oncol 2013" in pdf and b"For research use only" in pdf
    text = pdf_text(pdf)
    assert f"{case.latest_version.sma_cm2:.1f} cm²" in text  # units typeset, never "cm2"
    assert "cm2" not in text and "Kvp" not in text


def pdf_text(pdf: bytes) -> str:
    """The text of an uncompressed reportlab PDF: its literal strings, octal escapes undone, WinAnsi-decoded."""
    import re

    out = []
    for lit in re.findall(rb"\((?:[^()\\]|\\.)*\)", pdf):
        body = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), lit[1:-1])
        body = re.sub(rb"\\(.)", rb"\1", body)
        out.append(body.decode("cp1252", "replace"))
    return "\n".join(out)


def test_cohort_csv_and_xlsx_have_one_row_per_case(tmp_path: Path) -> None:
    from openpyxl import load_workbook

    store, _ = _seeded_store(f"sqlite:///{tmp_path / 'c.db'}")
    rows = store.cohort_rows()
    cohort_csv(rows, tmp_path / "c.csv")
    got = list(csv.DictReader((tmp_path / "c.csv").open(encoding="utf-8")))
    assert [g["label"] for g in got] == ["'=C0", "'=C1"]  # a label is never run as a formula
    assert [float(g["sma_cm2"]) for g in got] == pytest.approx([r["sma_cm2"] for r in rows])
    cohort_xlsx(store.cohort_frame(), tmp_path / "c.xlsx")
    ws = load_workbook(tmp_path / "c.xlsx").active
    table = list(ws.iter_rows(values_only=True))
    header = list(table[0])
    assert len(table) == 3 and header[:2] == ["case_id", "label"]
    assert [r[header.index("sex")] for r in table[1:]] == ["F", "M"]
    assert [r[header.index("smi_cm2_m2")] for r in table[1:]] == pytest.approx([r["smi_cm2_m2"] for r in rows])


def test_dicom_seg_refused_when_the_series_has_no_uids() -> None:
    from dataclasses import replace

    vol = synthetic_volume()
    meta = replace(
        vol.meta,
        kind="dicom-series",
        study_uid="1.2.3",
        series_uid="1.2.3.4",
        frame_of_reference_uid="1.2.3.5",
        sop_uids=("",) * vol.n_slices,
    )
    no_uids = Volume.from_canonical(hu=vol.hu, affine=vol.affine, meta=meta)
    with pytest.raises(ExportError, match="SOP Instance"):
        mask_to_dicom_seg(no_uids, auto_labels(), K)
