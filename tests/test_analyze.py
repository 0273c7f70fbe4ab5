"""The analyze pipeline: JSON contract, patient data sources, override / reanalyze, QC flags, CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sarco_core.analyze import AnalysisResult, analyze, input_sha256, reanalyze
from sarco_core.errors import PatientDataError
from sarco_core.image_qc import image_flags
from sarco_core.io import load_mask
from sarco_core.segment.threshold import ThresholdSegmenter
from sarco_core.volume import Volume
from tests.conftest import data_path
from tests.l3_synth import synth_spine

TOP_KEYS = {
    "input",
    "l3",
    "segmentation",
    "sma_cm2",
    "smi_cm2_m2",
    "muscle_hu_mean",
    "imat_cm2",
    "sat_cm2",
    "vat_cm2",
    "height_m",
    "weight_kg",
    "sex",
    "sources",
    "classification",
    "confidence",
    "qc_flags",
    "provenance",
    "timings_s",
    "schema_version",
}


@pytest.fixture(scope="module")
def synth() -> Volume:
    return synth_spine().volume


@pytest.fixture(scope="module")
def result(synth: Volume) -> AnalysisResult:
    return analyze(synth, height_m=1.7, weight_kg=70, sex="F", segmenter=ThresholdSegmenter())


def _check_contract(d: dict) -> None:
    assert set(d) == TOP_KEYS
    assert set(d["input"]) >= {"kind", "n_slices", "sha256"}
    assert len(d["input"]["sha256"]) == 64
    assert set(d["l3"]) >= {
        "index",
        "z_mm",
        "confidence",
        "method",
        "candidates",
        "levels",
        "warnings",
        "auto_index",
        "overridden",
    }
    assert set(d["segmentation"]) == {"method", "model", "confidence", "qc_flags"}
    assert set(d["sources"]) == {"height", "weight", "sex"}
    assert set(d["classification"]) == {"low_smi", "low_muscle_hu"}
    assert set(d["classification"]["low_smi"]) == {"value", "rule", "threshold", "citation", "note"}
    assert set(d["provenance"]) == {"software_version", "hu_gates", "cutoff_rule"}
    assert {"load", "l3", "segment", "measure"} <= set(d["timings_s"])
    assert 0.0 <= d["confidence"] <= 1.0
    assert d["confidence"] == pytest.approx(min(d["l3"]["confidence"], d["segmentation"]["confidence"]), abs=1e-3)
    json.dumps(d, allow_nan=False)


def test_contract_on_synthetic_volume(result: AnalysisResult, synth: Volume) -> None:
    d = result.to_dict()
    _check_contract(d)
    assert d["input"]["kind"] == "array" and d["input"]["n_slices"] == synth.n_slices
    assert d["input"]["sha256"] == input_sha256(synth)
    assert d["segmentation"]["method"] == "threshold" and d["segmentation"]["model"] is None
    assert d["sources"] == {"height": "argument", "weight": "argument", "sex": "argument"}
    assert d["smi_cm2_m2"] == pytest.approx(d["sma_cm2"] / 1.7**2, rel=1e-3)
    assert d["sat_cm2"] is None and d["vat_cm2"] is None  # the threshold baseline labels muscle only
    assert "contrast_phase_unknown" in d["qc_flags"]  # no DICOM header: the phase is unknown
    assert d["classification"]["low_smi"]["rule"] == "Martin 2013"


def test_result_keeps_labels_and_volume(result: AnalysisResult, synth: Volume) -> None:
    assert result.volume is synth
    assert result.labels is not None and result.labels.shape == synth.shape[1:]
    muscle = (result.labels == 1) & (synth.hu[result.l3.index] >= -29) & (synth.hu[result.l3.index] <= 150)
    px_cm2 = synth.pixel_area_mm2 / 100
    assert result.metrics.sma_cm2 == pytest.approx(muscle.sum() * px_cm2)


def test_reanalyze_uses_another_slice_and_keeps_the_automatic_one(result: AnalysisResult) -> None:
    k = result.l3.index + 5
    r2 = reanalyze(result, slice_index=k, segmenter=ThresholdSegmenter())
    assert r2.l3.index == k and r2.l3.overridden and r2.l3.method == "user-selected"
    assert r2.l3.auto_index == result.l3.index
    assert r2.volume is result.volume
    assert r2.height_m == 1.7 and r2.sources["height"] == "argument"
    assert r2.metrics.index == k
    d = r2.to_dict()
    assert d["l3"]["auto_index"] == result.l3.index and d["l3"]["overridden"] is True


def test_slice_override_at_analyze_keeps_auto(synth: Volume, result: AnalysisResult) -> None:
    r = analyze(synth, slice_index=10, segmenter=ThresholdSegmenter())
    assert r.l3.index == 10 and r.l3.auto_index == result.l3.index and r.l3.overridden


def test_height_in_centimetres_is_refused(synth: Volume) -> None:
    with pytest.raises(PatientDataError, match="looks like centimetres"):
        analyze(synth, height_m=175, segmenter=ThresholdSegmenter())


def test_missing_patient_data_is_undetermined(synth: Volume) -> None:
    r = analyze(synth, segmenter=ThresholdSegmenter())
    d = r.to_dict()
    assert d["sources"] == {"height": "missing", "weight": "missing", "sex": "missing"}
    assert d["smi_cm2_m2"] is None
    assert d["classification"]["low_smi"]["value"] is None


def test_header_patient_data_is_used_with_source_dicom(synth: Volume) -> None:
    meta = replace(
        synth.meta,
        patient_height_m=1.8,
        patient_weight_kg=90.0,
        patient_sex="M",
        kvp=100.0,
        slice_thickness_mm=6.0,
        kind="dicom-series",
    )
    vol = Volume.from_canonical(hu=synth.hu, affine=synth.affine, meta=meta)
    r = analyze(vol, height_m=1.75, segmenter=ThresholdSegmenter())
    assert r.sources == {"height": "argument", "weight": "dicom", "sex": "dicom"}
    assert r.height_m == 1.75 and r.weight_kg == 90.0 and r.sex == "M"
    assert "kvp_not_120" in r.qc_flags and "thick_slice_over_5mm" in r.qc_flags
    assert "contrast_phase_unknown" not in r.qc_flags  # DICOM without a contrast agent: non-contrast


def test_user_selected_chest_slice_is_flagged(synth: Volume) -> None:
    single = synth.select([synth.n_slices - 10])  # a thoracic level with lungs
    r = analyze(single, segmenter=ThresholdSegmenter())
    assert r.l3.method == "user-selected" and r.l3.looks_lumbar is False
    assert "l3_user_selected_not_lumbar" in r.qc_flags
    assert r.confidence <= r.l3.confidence


def test_fov_truncation_flag() -> None:
    hu = np.full((1, 100, 100), -1000, np.int16)
    hu[0, 20:80, 0:100] = 40  # the body runs off both sides of the image
    vol = Volume.from_array(hu=hu, spacing_mm=(3.0, 1.0, 1.0))
    assert "fov_truncated" in image_flags(vol, 0)
    hu2 = np.full((1, 100, 100), -1000, np.int16)
    hu2[0, 20:80, 20:80] = 40
    assert "fov_truncated" not in image_flags(Volume.from_array(hu=hu2, spacing_mm=(3.0, 1.0, 1.0)), 0)


def test_progress_callback_reports_stages(synth: Volume) -> None:
    seen: list[str] = []
    analyze(synth, slice_index=50, segmenter=ThresholdSegmenter(), progress=lambda s, f: seen.append(s))
    assert seen[0] == "load" and seen[-1] == "done" and "segment" in seen


def test_analyze_example_ct_path_contract() -> None:
    path = data_path("totalsegmentator", "example_ct.nii.gz")
    r = analyze(path, height_m=1.75, weight_kg=80, sex="M", segmenter=ThresholdSegmenter())
    d = r.to_dict()
    _check_contract(d)
    assert d["input"]["kind"] == "nifti" and d["input"]["n_slices"] == 112
    assert d["input"]["sha256"] == input_sha256(path)
    if d["l3"]["confidence"] < 0.6:
        assert "l3_low_confidence" in d["qc_flags"]


def _cli_analyze(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``sarco analyze PATH ARGS --json`` in a fresh process (what a user runs)."""
    cmd = [sys.executable, "-m", "sarco_core", "analyze", str(path), *args, "--json"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180)


def test_cli_analyze_json_and_mask(tmp_path: Path) -> None:
    path = data_path("totalsegmentator", "example_ct.nii.gz")
    out = tmp_path / "mask.nii.gz"
    p = _cli_analyze(
        path, "--height-m", "1.75", "--sex", "M", "--slice", "73", "--method", "threshold", "--out-mask", str(out)
    )
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    _check_contract(d)
    assert d["l3"]["index"] == 73 and d["l3"]["overridden"] is True
    assert d["sources"]["weight"] == "missing"
    m = load_mask(out)
    nz = np.nonzero(np.asarray(m.hu).reshape(m.n_slices, -1).any(axis=1))[0]
    assert nz.tolist() == [73]


def test_cli_analyze_height_in_cm_exit_2() -> None:
    path = data_path("totalsegmentator", "example_ct.nii.gz")
    p = _cli_analyze(path, "--height-m", "175", "--method", "threshold")
    assert p.returncode == 2
    assert "looks like centimetres" in p.stderr and "Traceback" not in p.stderr


def test_arms_beside_the_body_are_flagged_and_table_is_not() -> None:
    from sarco_core.io import load

    for f in sorted(data_path("tcia_covid19_ny_sbu", "A027284", "axial").glob("*.dcm")):
        v = load(f)
        assert "arms_in_field" in image_flags(v, 0), f  # README: arms beside the body
    pancreas = load(data_path("pydicom", "pancreas_ct_0001_slice122_j2k.dcm"))  # table under the patient only
    assert "arms_in_field" not in image_flags(pancreas, 0)


class _Oracle:
    """Returns the phantom's exact labels (checks the measure/classify plumbing of analyze)."""

    method = "oracle"
    model = None

    def __init__(self, labels: np.ndarray) -> None:
        self.labels = labels

    def segment(self, volume: Volume, indices):  # noqa: ANN001, ANN201
        from sarco_core.segment.base import SegmentationResult

        return [SegmentationResult(int(i), self.labels[int(i)], 0.9, (), self.method) for i in indices]


def test_contract_and_exact_areas_on_the_phantom() -> None:
    phantom = pytest.importorskip("sarco_core.phantom")
    from sarco_core.metrics import measure_slice

    ph = phantom.phantom_volume(2, pixel_mm=1.6, size=256, top="T11", bottom="sacrum")
    r = analyze(ph.volume, height_m=1.6, weight_kg=60, sex="F", segmenter=_Oracle(ph.labels))
    d = r.to_dict()
    _check_contract(d)
    k = r.l3.index
    sp = ph.volume.spacing_mm
    ref = measure_slice(ph.volume.hu[k], ph.labels[k], row_mm=sp.row, col_mm=sp.col, kind="labels")
    assert d["sma_cm2"] == pytest.approx(ref.sma_cm2, abs=1e-3)
    assert d["sat_cm2"] == pytest.approx(ref.sat_cm2, abs=1e-3)
    assert d["vat_cm2"] == pytest.approx(ref.vat_cm2, abs=1e-3)
    assert d["segmentation"]["method"] == "oracle"
    assert d["confidence"] == pytest.approx(min(r.l3.confidence, 0.9), abs=1e-3)
    assert "kvp_not_120" not in d["qc_flags"]  # the phantom says 120 kVp


def test_coarse_pixels_are_flagged() -> None:
    from sarco_core.image_qc import image_flags
    from sarco_core.phantom import phantom_slice

    ph = phantom_slice(31, level="L3", pixel_mm=0.8)
    fine = Volume.from_array(hu=ph.hu[None], spacing_mm=(3.0, 0.8, 0.8))
    coarse = Volume.from_array(hu=ph.hu[None, ::4, ::4], spacing_mm=(3.0, 3.2, 3.2))
    assert "coarse_pixels_over_2mm" not in image_flags(fine, 0)
    assert "coarse_pixels_over_2mm" in image_flags(coarse, 0)
