"""Privacy: the patient's name, ID and birth date never reach the database file, the logs or any export."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from sarco_core.analyze import analyze
from sarco_core.export import (
    cohort_csv,
    cohort_xlsx,
    mask_to_dicom_seg,
    mask_to_nifti,
    overlay_png,
    report_pdf,
)
from sarco_core.io import load
from sarco_core.io.dicom_write import save_dataset, series_datasets
from sarco_core.store import Store
from tests.store_helpers import auto_labels, stored_bytes, synthetic_volume

NAME = ("Quixotica", "Zebulonia")
PATIENT_ID = "QX4711PRIV93"
BIRTH_DATE = "19450317"
SECRETS = [s.encode() for s in (*NAME, PATIENT_ID, BIRTH_DATE)]


def _series(folder: Path) -> Path:
    folder.mkdir()
    for k, ds in enumerate(series_datasets(synthetic_volume(), study_uid=generate_uid(), patient_sex="F")):
        ds.PatientName = f"{NAME[0]}^{NAME[1]}"
        ds.PatientID = PATIENT_ID
        ds.PatientBirthDate = BIRTH_DATE
        ds.OtherPatientIDs = PATIENT_ID + "X"
        save_dataset(ds, folder / f"{PATIENT_ID}_{k:03d}.dcm")  # even the file names carry the ID
    return folder


def test_no_identifier_in_database_logs_or_exports(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    vol = load(_series(tmp_path / "series"))
    assert vol.meta.patient_id_hash and PATIENT_ID not in vol.meta.patient_id_hash
    res = analyze(vol, slice_index=3, method="threshold", height_m=1.6, weight_kg=55)
    assert res.labels is not None
    db = tmp_path / "db" / "cases.db"
    store = Store.open(f"sqlite:///{db}")
    case = store.create_case(vol, analysis=res, labels=res.labels, slice_index=3, actor="reader", label="P1")
    v1 = case.latest_version
    assert v1 is not None
    v2 = store.save_version(case.id, auto_labels(), parent_version_id=v1.id, author="reader", comment="fix")
    store.import_mask(case.id, auto_labels(), source_name="manual.nii.gz", author="reader")
    again = store.create_case(vol, analysis=res, labels=res.labels, slice_index=3, actor="reader", label="P2")
    assert [c.label for c in store.find_duplicates(vol.meta.patient_id_hash)] == ["P1", "P2"]
    store.delete_case(again.id, actor="reader", reason="duplicate")
    reopened = store.load_volume(case.id)
    mask = store.get_mask(v2.id)
    out = tmp_path / "exports"
    out.mkdir()
    mask_to_nifti(reopened, mask, 3, out / "mask.nii.gz")
    mask_to_dicom_seg(reopened, mask, 3, out / "seg.dcm")
    png = overlay_png(reopened.hu[3], mask, reopened.spacing_mm, out / "overlay.png")
    rec = store.get_case(case.id)
    report_pdf(out / "report.pdf", case=rec, analysis=rec.latest_analysis, version=v2, overlay_png=png)
    cohort_csv(store.cohort_rows(), out / "cohort.csv")
    cohort_xlsx(store.cohort_rows(), out / "cohort.xlsx")
    store.close()
    files = [p for p in db.parent.iterdir() if p.is_file()] + sorted(out.iterdir())
    assert len(files) >= 7
    for f in files:
        blob = stored_bytes(f)
        for s in SECRETS:
            assert s not in blob, f"{s!r} found in {f.name}"
    logs = caplog.text.encode()
    for s in SECRETS:
        assert s not in logs
    assert b"P1" in (db.read_bytes())  # the scan does read the database content
