"""The case page (``?case=N``): a case made by ``sarco batch`` shows and builds every export; the URL survives a
reload; the conflict at the save button keeps strokes and comment and reapplies them on the newest version;
agreement statistics compare a saved mask only with the automatic mask of the same slice."""

from __future__ import annotations

import gzip
import io

import nibabel as nib
import numpy as np
import pydicom
from streamlit.testing.v1 import AppTest

from sarco_core.store import Store, default_db_url
from tests.app_helpers import APP, TIMEOUT_S, app, phantom_series, seed_case
from ui import exports


def _batch_case(tmp_path) -> int:  # type: ignore[no-untyped-def]
    from sarco_core.batch import BatchOptions, run_batch

    d = tmp_path / "in"
    d.mkdir()
    (d / "ph.zip").write_bytes(phantom_series().zip_bytes)
    s = run_batch(d, tmp_path / "out.csv", options=BatchOptions(workers=0, method="threshold", store=True))
    assert s.n_stored == 1
    return Store.open(default_db_url()).list_cases()[0].id


def test_case_page_of_a_batch_case_has_every_export(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cid = _batch_case(tmp_path)
    store = Store.open(default_db_url())
    seed_case(store, label="newer")  # a newer case: the URL, not "the newest", decides what opens
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.query_params["case"] = str(cid)
    at.run()
    at.switch_page("views/case.py").run()
    assert not at.exception
    assert at.title[0].value.startswith(f"Case #{cid}:")
    buttons = {getattr(b, "label", None): b for b in at.get("download_button")}
    assert list(buttons) == ["Report (PDF)", "DICOM-SEG", "Slice-O-Matic TAG", "Mask (NIfTI)", "Overlay (PNG)"]
    assert not any(b.proto.disabled for b in buttons.values())  # DICOM source: DICOM-SEG too
    v = store.versions(cid)[-1]
    pdf = exports.build(cid, "report_pdf", v.id)
    assert pdf[:5] == b"%PDF-"
    _pdf_has_what_the_card_shows(store, cid, v, pdf)
    seg = pydicom.dcmread(io.BytesIO(exports.build(cid, "dicom_seg", v.id)))
    assert seg.Modality == "SEG" and seg.ReferencedSeriesSequence[0].SeriesInstanceUID == store.get_case(cid).series_uid
    nii = np.asarray(nib.Nifti1Image.from_bytes(gzip.decompress(exports.build(cid, "nifti", v.id))).dataobj)
    assert int((nii == 1).sum()) == int((store.get_mask(v.id) == 1).sum())
    assert exports.build(cid, "overlay_png", v.id)[:4] == b"\x89PNG"
    kinds = [e.details.get("kind") for e in store.audit(cid) if e.action == "export"]
    assert kinds == ["report_pdf", "dicom_seg", "nifti", "overlay_png"]
    # choosing a case in the sidebar writes it into the address bar (so a reload reopens it)
    fresh = app()
    assert fresh.sidebar.selectbox[0].value != cid  # without ?case=, the newest case opens
    fresh.sidebar.selectbox[0].set_value(cid).run()
    assert str(fresh.query_params["case"]).strip("[]'") == str(cid)


def test_conflict_message_at_the_click_keeps_strokes_and_comment_and_reapplies() -> None:
    from tests.test_app_edit import _state, edit_with_one_stroke
    from ui.edit_comment import comment_key

    store = Store.open(default_db_url())
    cid = seed_case(store)
    at, v1, mask = edit_with_one_stroke(store, cid)
    mine = _state(at, cid).history.current.copy()
    other = mask.copy()
    other[:, : other.shape[1] // 3] = 0  # someone else clears the patient's right third and saves first
    store.save_version(cid, other, parent_version_id=v1.id, author="someone else", comment="theirs")
    at.text_input(key=comment_key(cid)).input("my careful comment")
    next(b for b in at.button if b.label == "Save version").click().run()
    assert not at.exception
    msg = " ".join(e.value for e in at.error)
    assert "version 2 was saved by someone else at" in msg and "Your strokes and your comment are kept" in msg
    assert at.text_input(key=comment_key(cid)).value == "my careful comment"
    assert (_state(at, cid).history.current == mine).all()
    next(b for b in at.button if b.label == "Reload the newest version and reapply my strokes").click().run()
    assert not at.exception
    s = _state(at, cid)
    v2 = store.versions(cid)[-1]
    assert s.parent_version_id == v2.id and s.history.dirty
    changed = mine != mask
    expected = other.copy()
    expected[changed] = mine[changed]
    assert (s.history.current == expected).all()
    assert at.text_input(key=comment_key(cid)).value == "my careful comment"
    next(b for b in at.button if b.label == "Save version").click().run()
    v3 = store.versions(cid)[-1]
    assert (v3.number, v3.comment) == (3, "my careful comment")
    assert (store.get_mask(v3.id) == expected).all()


def test_agreement_uses_the_automatic_mask_of_the_same_slice() -> None:
    from ui.plots import bland_altman

    store = Store.open(default_db_url())
    cid = seed_case(store)
    v1 = store.versions(cid)[0]
    k = v1.slice_index
    vol = store.load_volume(cid)
    # L3 set by hand to another slice (new automatic mask there), then the first slice's mask restored
    from sarco_core.analyze import analyze

    res = analyze(vol, height_m=1.7, sex="F", slice_index=k + 2, method="threshold")
    assert res.labels is not None
    v2 = store.add_analysis(cid, res, res.labels, k + 2, "lab", l3_auto_index=k, parent_version_id=v1.id)
    store.restore_version(cid, v1.id, author="lab", parent_version_id=v2.id)
    row = store.cohort_rows()[0]
    assert row["edited"] is False and row["auto_same_slice"] is True  # a restore is not an edit
    assert row["sma_change_cm2"] == 0.0
    # an edit on the hand-set slice is compared with that slice's automatic mask only
    v4 = store.restore_version(cid, v2.id, author="lab")
    m = store.get_mask(v4.id)
    m[m == 1] = 0
    v5 = store.save_version(cid, m, parent_version_id=v4.id, author="lab")
    row = store.cohort_rows()[0]
    assert row["edited"] is True and row["auto_sma_cm2"] == v2.sma_cm2 and row["sma_cm2"] == v5.sma_cm2
    from sarco_core.flags import flag_sentences

    assert row["qc_flags"] and row["qc_flags_text"] == " ".join(flag_sentences(row["qc_flags"].split("; ")))
    assert "_" not in row["qc_flags_text"]  # the CSV's text column: plain words from the one table
    _, ba = bland_altman(store.cohort_frame().assign(edited=lambda d: d["edited"].astype(bool)))
    assert ba.n == 1 and ba.bias == v5.sma_cm2 - v2.sma_cm2


def _pdf_has_what_the_card_shows(store, cid, v, pdf: bytes) -> None:  # type: ignore[no-untyped-def]
    from tests.test_export import pdf_text
    from ui.text import warnings_of

    text = " ".join(pdf_text(pdf).split())
    an = store.get_analysis(v.analysis_id)
    warnings = warnings_of(an, v)
    assert warnings, "the phantom case raises flags (e.g. contrast phase unknown)"
    for w in warnings:  # every warning of the card, in the same words (line breaks aside)
        assert " ".join(w.split()[:6]) in text, w
    assert "cutoff" in text and "cm²/m²" in text  # SMI and muscle HU on the rule's scale
    assert pdf.count(b"/Subtype /Image") == 2  # the overlay and, for a volume, the sagittal view
