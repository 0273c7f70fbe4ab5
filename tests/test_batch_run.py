"""``sarco batch`` end to end on three tiny cases (NIfTI, DICOM zip, a corrupt file): rows, errors, resume,
manifest values, the database, and a real two-worker Dask LocalCluster."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from sarco_core.batch import BatchOptions, run_batch
from sarco_core.batch.table import parts_dir
from sarco_core.cli import main
from tests.conftest import data_path


def _small_volume():  # type: ignore[no-untyped-def]
    """A small real abdomen (example_ct, 112 slices of 122 × 101) for speed; the phantom would also do."""
    from sarco_core.io.loader import load

    return load(data_path("totalsegmentator", "example_ct.nii.gz"))


@pytest.fixture(scope="module")
def cohort_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sarco_core.io.dicom_write import write_dicom_series, write_zip

    root = tmp_path_factory.mktemp("cohort")
    d = root / "in"
    d.mkdir()
    shutil.copy(data_path("totalsegmentator", "example_ct.nii.gz"), d / "a.nii.gz")
    write_dicom_series(_small_volume(), root / "b_series")
    write_zip(root / "b_series", d / "b.zip")
    (d / "c_bad.zip").write_bytes(b"PK\x03\x04 this is not really a zip file")
    (root / "manifest.csv").write_text("case_id,height_m,weight_kg,sex\na,1.80,90,M\nb,1.62,,F\nc_bad,1.70,70,F\n")
    return root


def _rows(path: Path) -> dict[str, dict[str, str]]:
    return {r["case_id"]: r for r in csv.DictReader(path.open(encoding="utf-8"))}


def test_batch_in_process_rows_errors_store_and_resume(cohort_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "results.csv"
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    opts = BatchOptions(workers=0, method="threshold", store=True, store_url=db)
    seen: list[str] = []
    s = run_batch(
        cohort_dir / "in",
        out,
        manifest=cohort_dir / "manifest.csv",
        options=opts,
        progress=lambda done, total, rec: seen.append(f"{done}/{total}:{rec.case_id}"),
    )
    assert (s.n_cases, s.n_ok, s.n_error, s.n_skipped, s.n_stored) == (3, 2, 1, 0, 2)
    assert sorted(x.split(":")[1] for x in seen) == ["a", "b", "c_bad"] and seen[-1].startswith("3/3")
    rows = _rows(out)
    assert list(rows) == ["a", "b", "c_bad"]
    a, b, bad = rows["a"], rows["b"], rows["c_bad"]
    assert a["status"] == b["status"] == "ok" and a["error"] == b["error"] == ""
    assert bad["status"] == "error" and bad["error"].startswith(("ArchiveError", "UnreadableFileError"))
    assert bad["sma_cm2"] == "" and bad["height_m"] == "1.7"  # manifest values land in failed rows too
    # manifest values land in the rows and drive SMI
    assert float(a["height_m"]) == 1.8 and a["sex"] == "M" and a["sources.height"] == "argument"
    assert float(b["height_m"]) == 1.62 and b["weight_kg"] == "" and b["sex"] == "F"
    assert float(a["smi_cm2_m2"]) == pytest.approx(float(a["sma_cm2"]) / 1.8**2, rel=1e-3)
    assert a["input.kind"] == "nifti" and b["input.kind"].startswith("dicom")
    assert ";" in a["l3.candidates.index"] or a["l3.candidates.index"].isdigit()
    # same image as NIfTI and as DICOM: same slice and area
    assert a["l3.index"] == b["l3.index"] and float(a["sma_cm2"]) == pytest.approx(float(b["sma_cm2"]), abs=0.01)

    from sarco_core.store import Store

    store = Store.open(db)
    cases = {c.label: c for c in store.list_cases()}
    assert set(cases) == {"a", "b"}
    assert int(rows["a"]["store_case_id"]) == cases["a"].id
    assert store.get_case(cases["b"].id).height_m == pytest.approx(1.62)

    # a re-run skips every finished case (nothing rewritten, nothing stored twice)
    parts = parts_dir(out)
    mtimes = {p.name: p.stat().st_mtime_ns for p in parts.glob("*.json")}
    s2 = run_batch(cohort_dir / "in", out, manifest=cohort_dir / "manifest.csv", options=opts)
    assert (s2.n_skipped, s2.n_ok, s2.n_error, s2.n_stored) == (3, 2, 1, 0)
    assert {p.name: p.stat().st_mtime_ns for p in parts.glob("*.json")} == mtimes
    assert len(Store.open(db).list_cases()) == 2
    assert _rows(out) == rows

    # editing one manifest value redoes that case only; the same image gets a new analysis, not a new case
    m2 = tmp_path / "m2.csv"
    m2.write_text((cohort_dir / "manifest.csv").read_text().replace("a,1.80", "a,1.75"))
    s3 = run_batch(cohort_dir / "in", out, manifest=m2, options=opts)
    assert (s3.n_skipped, s3.n_stored) == (2, 1)
    assert float(_rows(out)["a"]["height_m"]) == 1.75
    assert len(Store.open(db).list_cases()) == 2
    assert len(Store.open(db).analyses(cases["a"].id)) == 2


def test_batch_cli_two_dask_workers(cohort_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.csv"
    rc = main(
        [
            "batch",
            str(cohort_dir / "in"),
            "--out",
            str(out),
            "--workers",
            "2",
            "--method",
            "threshold",
            "--no-store",
            "--json",
        ]
    )
    assert rc == 1  # one case failed
    cap = capsys.readouterr()
    summary = json.loads(cap.out)
    assert (summary["cases"], summary["ok"], summary["error"], summary["stored"]) == (3, 2, 1, 0)
    assert "3/3" in cap.err  # progress on stderr
    rows = _rows(out)
    assert [rows[k]["status"] for k in ("a", "b", "c_bad")] == ["ok", "ok", "error"]
    workers = {json.loads(p.read_text())["worker"] for p in parts_dir(out).glob("*.json")}
    assert all(w.startswith("tcp://") for w in workers)  # ran on Dask worker processes
    assert rows["a"]["height_m"] == ""  # no manifest: no height, SMI not computed
    assert rows["a"]["smi_cm2_m2"] == "" and rows["a"]["sources.height"] == "missing"


def test_batch_cli_refuses_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", str(tmp_path / "missing"), "--out", str(tmp_path / "r.csv"), "--workers", "0"]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "in").mkdir()
    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "r.csv"), "--workers", "0"]) == 2
    assert "No cases found" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "r.csv"), "--cutoffs", "nope"]) == 2


def test_batch_refuses_model_method_without_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sarco_core.segment.base as base

    monkeypatch.setattr(base, "default_model_dir", lambda: None)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.nii.gz").write_bytes(b"x")
    rc = main(["batch", str(tmp_path / "in"), "--out", str(tmp_path / "r.csv"), "--method", "model"])
    assert rc == 2 and "No trained model" in capsys.readouterr().err
    assert not (tmp_path / "r.csv").exists()
