"""Patient resolution has one owner (``sarco_core.patient.Patient``): a height read from the DICOM header stays "dicom"
after the app's "use this slice as L3" (``ui.backend.reanalyse_at`` used to pass it back as an argument)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sarco_core.analyze import analyze
from sarco_core.errors import PatientDataError
from sarco_core.patient import Patient
from sarco_core.volume import Volume


def _phantom_with_header_height() -> tuple[Volume, int]:
    from sarco_core.phantom.volume import phantom_volume

    pv = phantom_volume(seed=3, size=128, pixel_mm=3.2, slice_mm=6.0)
    vol = replace(pv.volume, meta=replace(pv.volume.meta, patient_height_m=1.82, patient_sex="M"))
    return vol, int(pv.l3_mid_index)


def test_known_keeps_recorded_sources_and_validates() -> None:
    p = Patient.known(height_m=1.82, weight_kg=None, sex="M", sources={"height": "dicom", "sex": "argument"})
    assert p.sources == {"height": "dicom", "weight": "missing", "sex": "argument"}
    with pytest.raises(PatientDataError):
        Patient.known(height_m=182.0, weight_kg=None, sex=None, sources=None)  # centimetres


def test_analyze_with_a_known_patient_records_its_sources() -> None:
    vol, k = _phantom_with_header_height()
    first = analyze(vol, slice_index=k, method="threshold")
    assert first.sources["height"] == "dicom" and first.height_m == pytest.approx(1.82)
    again = analyze(
        vol,
        slice_index=k + 1,
        method="threshold",
        patient=Patient.known(height_m=first.height_m, weight_kg=first.weight_kg, sex=first.sex, sources=first.sources),
    )
    assert again.sources == first.sources
    with pytest.raises(ValueError):
        analyze(vol, height_m=1.7, patient=Patient.known(height_m=1.7, weight_kg=None, sex=None, sources=None))


def test_app_l3_override_keeps_a_header_height_as_dicom() -> None:
    from ui import backend

    vol, k = _phantom_with_header_height()
    res = analyze(vol, slice_index=k, method="threshold")
    store = backend.store()
    case = store.create_case(vol, analysis=res, labels=res.labels, slice_index=k, actor="t", label="hdr")
    backend.reanalyse_at(int(case.id), k + 1, actor="t", parent_version_id=None)
    latest = store.get_case(int(case.id)).latest_analysis
    assert latest is not None and latest.slice_index == k + 1
    assert latest.result["sources"]["height"] == "dicom"
    assert latest.result["height_m"] == pytest.approx(1.82)
