"""AppTest: Upload & analyse page — phantom DICOM zip through the whole pipeline into the store; readable
errors; inline validation of patient data."""

from __future__ import annotations

import pytest

from sarco_core.store import Store, default_db_url
from tests.app_helpers import app, cm2, metric, phantom_series


def test_upload_phantom_zip_analyses_and_stores_case() -> None:
    ph = phantom_series()
    at = app()
    at.file_uploader[0].set_value(("phantom.zip", ph.zip_bytes, "application/zip"))
    at.run()
    assert not at.exception
    assert any("Scan read" in s.value and "87 slices" in s.value for s in at.success)
    assert at.selectbox(key="in_sex").value == "F"  # prefilled from the DICOM header
    at.number_input(key="in_height").set_value(1.65)
    at.number_input(key="in_weight").set_value(60.0)
    at.run()
    at.button(key="analyse_btn").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]

    store = Store.open(default_db_url())
    cases = store.list_cases()
    assert len(cases) == 1
    case = store.get_case(cases[0].id)
    versions = store.versions(case.id)
    assert [v.number for v in versions] == [1] and versions[0].source == "auto"
    assert case.height_m == pytest.approx(1.65) and case.sex == "F"
    # the card shows the stored (HU-gated) numbers, SMI = SMA / height²
    assert cm2(metric(at, "SMA (cm²)")) == pytest.approx(round(versions[0].sma_cm2, 1))
    assert cm2(metric(at, "SMI (cm²/m²)")) == pytest.approx(round(versions[0].sma_cm2 / 1.65**2, 1))
    text = " ".join(m.value for m in at.markdown)
    assert "Martin 2013" in text and "made by:" in text
    seg_method = (case.latest_analysis.result.get("segmentation") or {}).get("method")
    assert seg_method in ("teacher", "model", "threshold")
    assert {"teacher": "anatomical", "model": "neural network", "threshold": "threshold"}[seg_method] in text
    assert 0 <= versions[0].slice_index < ph.volume.n_slices
    assert at.session_state["case_id"] == case.id
    # the uploader is emptied so the next scan does not join this one
    assert not at.file_uploader[0].value


def test_unreadable_upload_gives_a_readable_error() -> None:
    at = app()
    at.file_uploader[0].set_value(("scan.dcm", b"this is not a CT scan" * 20, "application/dicom"))
    at.run()
    assert not at.exception
    assert at.error and "cannot be used" in at.error[0].value
    assert "Traceback" not in at.error[0].value
    assert at.button(key="analyse_btn").disabled


def test_height_in_centimetres_is_refused_inline() -> None:
    ph = phantom_series()
    at = app()
    at.file_uploader[0].set_value(("phantom.zip", ph.zip_bytes, "application/zip"))
    at.run()
    at.number_input(key="in_height").set_value(172.0)
    at.run()
    assert any("looks like centimetres" in e.value for e in at.error)
    assert at.button(key="analyse_btn").disabled
