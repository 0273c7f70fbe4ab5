"""Per-case exports behind the download buttons: NIfTI, DICOM-SEG (DICOM input), overlay PNG, PDF report —
built from the latest version and recorded in the audit trail."""

from __future__ import annotations

import gzip
import io

import nibabel as nib
import numpy as np
import pydicom

from sarco_core.store import Store, default_db_url
from tests.app_helpers import app, phantom_series, seed_case
from ui import exports


def test_exports_of_an_array_case() -> None:
    store = Store.open(default_db_url())
    cid = seed_case(store)
    v = store.versions(cid)[-1]
    nii = nib.Nifti1Image.from_bytes(gzip.decompress(exports.build(cid, "nifti")))
    data = np.asarray(nii.dataobj)
    assert sorted(data.shape) == sorted(store.get_case(cid).shape)
    assert int((data == 1).sum()) == int((store.get_mask(v.id) == 1).sum())
    assert exports.build(cid, "overlay_png")[:8] == b"\x89PNG\r\n\x1a\n"
    pdf = exports.build(cid, "report_pdf")
    assert pdf[:5] == b"%PDF-" and b"research" in pdf.lower()
    kinds = [e.details.get("kind") for e in store.audit(cid) if e.action == "export"]
    assert kinds == ["nifti", "overlay_png", "report_pdf"]


def test_dicom_seg_of_an_uploaded_dicom_series() -> None:
    ph = phantom_series()
    at = app()
    at.file_uploader[0].set_value(("phantom.zip", ph.zip_bytes, "application/zip"))
    at.run()
    at.button(key="analyse_btn").click().run()
    assert not at.exception, at.exception
    labels = [getattr(b, "label", "") for b in at.get("download_button")]
    assert labels == ["Mask (NIfTI)", "DICOM-SEG", "Slice-O-Matic TAG", "Overlay (PNG)", "Report (PDF)"]
    store = Store.open(default_db_url())
    case = store.get_case(store.list_cases()[0].id)
    assert case.is_dicom
    seg = pydicom.dcmread(io.BytesIO(exports.build(case.id, "dicom_seg")))
    assert seg.Modality == "SEG"
    ref = seg.ReferencedSeriesSequence[0].SeriesInstanceUID
    assert ref == case.series_uid
    # the TAG reads back as the latest mask (muscle, SAT, VAT on the measured slice)
    from sarco_core.masks import MaskFormat, import_mask

    vol = store.load_volume(case.id)
    v = case.latest_version
    assert v is not None
    back = import_mask(vol, exports.build(case.id, "tag"), fmt=MaskFormat.TAG, slice_index=v.slice_index)
    np.testing.assert_array_equal(back.labels, store.get_mask(v.id))
    # the DICOM-SEG comes back in through the dashboard's manual-mask import, identical to the automatic mask
    from ui.dashboard import import_and_compare

    version, cmp = import_and_compare(case.id, "auto_seg.dcm", exports.build(case.id, "dicom_seg"))
    assert version.source == "import"
    assert cmp.gated_dice == 1.0 and cmp.sma_diff_cm2 == 0.0
