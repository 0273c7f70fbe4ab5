"""The benchmark code paths run on tiny inputs (no timing assertions: only that each figure is produced)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import common, e2e, inference, l3, profile, report, throughput
from benchmarks.common import Section
from tests.conftest import data_path


@pytest.fixture(scope="module")
def small_volume():  # type: ignore[no-untyped-def]
    from sarco_core.io.loader import load

    return load(data_path("totalsegmentator", "example_ct.nii.gz"))


@pytest.fixture(scope="module")
def small_zip(small_volume, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    from sarco_core.io.dicom_write import write_dicom_series, write_zip

    d = tmp_path_factory.mktemp("bench")
    write_dicom_series(small_volume, d / "series")
    return write_zip(d / "series", d / "series.zip")


def _values(sec: Section) -> dict[str, float | None]:
    return {f.name: f.value for f in sec.figures}


def test_timed_and_section() -> None:
    calls = []
    med, best, out = common.timed(lambda: calls.append(1) or len(calls), repeats=3, warmup=2)
    assert len(calls) == 5 and out == 5 and 0 <= best <= med
    sec = Section("x", "X")
    f = sec.add("a", 3.0, "s", target="≤ 2 s", ok=lambda v: v <= 2)
    assert f.met is False and sec.add("b", None, "s").fmt() == "not measured"
    env = common.machine()
    assert env["cores"] >= 1 and env["python"] and "torch" in env


def test_inference_on_a_standin_model(small_volume, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(inference, "CACHE", tmp_path)
    monkeypatch.setattr(inference, "model_dir", lambda: (inference.standin_model_dir(), False))
    sec = Section("inference", "t")
    raw = inference.run(sec, small_volume, repeats=1, what="example_ct", batches=(1, 2), ttas=(True,))
    assert (tmp_path / "standin_model" / "model.onnx").is_file()
    v = _values(sec)
    for backend in ("torch", "ONNX Runtime"):
        for b in (1, 2):
            assert v[f"{backend}, batch {b}, TTA on"] > 0
    assert v["ONNX/torch time ratio, batch 2, TTA on"] > 0 and raw["shipped"] is False
    assert all(f.met is not None for f in sec.figures if f.target)
    assert any("no model shipped" in n for n in sec.notes)


def test_l3_e2e_profile_and_report(small_volume, small_zip: Path) -> None:  # type: ignore[no-untyped-def]
    from sarco_core.segment import get_segmenter

    sec = Section("l3", "L3")
    r = l3.run(sec, small_volume, repeats=1, what="example_ct")
    assert 0 <= r["index"] < small_volume.n_slices and sec.figures[0].target is None  # < 300 slices: not judged
    sec2 = Section("e2e", "E2E")
    seg = get_segmenter("threshold")
    w = e2e.warm(sec2, small_zip, "tiny", repeats=1, segmenter=seg, n_slices=small_volume.n_slices)
    assert set(w["stages_s"]) == set(e2e.STAGES) and w["wall_s"] > 0
    c = e2e.cold(sec2, small_zip, "tiny", n_slices=small_volume.n_slices)
    assert c["maxrss_gb"] > 0.05 and c["wall_s"] > 0 and "segment" in c["stages_s"]
    sec3 = Section("profile", "P")
    p = profile.run(sec3, small_zip, "tiny", segmenter=seg, top=5)
    assert len(p["top_self"]) == 5 and "| function |" in sec3.notes[0]
    sec4 = Section("store", "S")
    assert throughput.store_cost(sec4, small_volume, "example_ct", repeats=1)["create_case_s"] > 0
    md = report.markdown([sec, sec2, sec3, sec4], common.machine(), quick=True, note="shared machine", elapsed_s=1.0)
    assert "QUICK run" in md and "not measured: no GPU was lent" in md and "shared machine" in md
    assert "find_l3" in md and "peak RSS" in md and "Store.create_case" in md


def test_throughput_two_tiny_cases(small_zip: Path, tmp_path: Path) -> None:
    import shutil

    for i in range(2):
        shutil.copy(small_zip, tmp_path / f"c{i}.zip")
    sec = Section("throughput", "T")
    out = throughput.run(sec, tmp_path, "tiny zips", method="threshold")
    assert out["1"]["ok"] == out["2"]["ok"] == 2 and out["ratio"] > 0
    assert sec.figures[-1].target is None  # < 20 cases: target not judged
