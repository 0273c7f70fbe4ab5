"""Issue 17: a hung batch case is stopped at the per-case time limit and reported, the others continue
(in-process and on Dask); ``analyze --out-mask`` is checked before any work and leaves no partial file."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
import pytest

from sarco_core.batch import BatchOptions, run_batch
from sarco_core.batch.cases import BatchCase
from sarco_core.batch.runner import case_time_limit_s
from sarco_core.batch.worker import CaseSettings
from sarco_core.cli import main
from sarco_core.errors import OutputPathError, SarcoError
from sarco_core.io.nifti import check_output_path, save_nifti
from sarco_core.volume import Volume


def _fake_analyze(path: str, **_kw: object) -> object:
    if "hang" in Path(path).name:
        time.sleep(8)  # a hung case (stopped by the limit long before)
    raise SarcoError(f"fast case {Path(path).name} done")  # the outcome of a quick case


def _cases(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for name in ("a_fast.nii.gz", "b_hang.nii.gz", "c_fast.nii.gz"):
        (d / name).write_bytes(b"x")
    return d


def _rows(out: Path) -> dict[str, dict[str, str]]:
    return {r["case_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}


def test_time_limit_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SARCO_CASE_TIME_LIMIT_S", raising=False)
    assert case_time_limit_s(None) == 300.0
    assert case_time_limit_s(0) is None and case_time_limit_s(12.5) == 12.5
    monkeypatch.setenv("SARCO_CASE_TIME_LIMIT_S", "45")
    assert case_time_limit_s(None) == 45.0
    for bad in ("abc", "-1", "inf", "nan"):
        monkeypatch.setenv("SARCO_CASE_TIME_LIMIT_S", bad)
        with pytest.raises(SarcoError, match="time limit"):
            case_time_limit_s(None)


def test_hung_case_stopped_in_process_and_rest_continue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sarco_core.analyze

    monkeypatch.setattr(sarco_core.analyze, "analyze", _fake_analyze)
    out = tmp_path / "r.csv"
    t0 = time.monotonic()
    s = run_batch(
        _cases(tmp_path), out, options=BatchOptions(workers=0, method="threshold", store=False, case_time_limit_s=1.0)
    )
    assert time.monotonic() - t0 < 6  # not the 8 s the hung case would take
    rows = _rows(out)
    assert s.n_cases == 3 and s.n_error == 3
    hung = rows["b_hang"]["error"]
    assert hung.startswith("CaseTimeLimitError") and "1 s per-case time limit" in hung
    assert "fast case" in rows["a_fast"]["error"] and "fast case" in rows["c_fast"]["error"]


def test_hung_case_stopped_on_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask path on an in-process cluster (threads, so the patched analyze applies): the hung case is reported
    at the limit and the other cases finish on the free worker."""
    from distributed import Client, LocalCluster

    import sarco_core.analyze
    from sarco_core.batch.runner import _outcomes_dask

    monkeypatch.setattr(sarco_core.analyze, "analyze", _fake_analyze)
    cases = [BatchCase(case_id=n, path=f"/x/{n}.nii.gz") for n in ("a_fast", "b_hang", "c_fast", "d_fast")]
    settings = CaseSettings(method="threshold", keep_for_store=False, time_limit_s=1.5)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        t0 = time.monotonic()
        got = {c.case_id: o for c, o in _outcomes_dask(cases, settings, client, window=4)}
        assert time.monotonic() - t0 < 6
    assert set(got) == {"a_fast", "b_hang", "c_fast", "d_fast"}
    assert got["b_hang"].error.startswith("CaseTimeLimitError")
    assert all("fast case" in got[k].error for k in ("a_fast", "c_fast", "d_fast"))


def test_out_mask_checked_before_the_analysis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sarco_core.cli.cmd_analyze as cmd

    called: list[str] = []
    monkeypatch.setattr(cmd, "analyze", lambda *a, **k: called.append("analyze"))
    folder = tmp_path / "folder"
    folder.mkdir()
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    (tmp_path / "file").write_text("x")
    cases = [
        (folder, "is a folder"),
        (tmp_path / "m.png", "does not end in .nii"),
        (tmp_path / "file" / "m.nii.gz", "is not a folder"),
    ]
    import os

    if os.geteuid() != 0:  # root may write anywhere
        cases.append((ro / "m.nii.gz", "cannot be written"))
    for target, phrase in cases:
        assert main(["analyze", "scan.nii.gz", "--out-mask", str(target)]) == 2
        err = capsys.readouterr().err
        assert phrase in err and "internal error" not in err
    assert called == []
    ok = check_output_path(tmp_path / "new" / "sub" / "m.nii.gz")
    assert ok.name == "m.nii.gz"
    with pytest.raises(OutputPathError):
        check_output_path(folder)
    ro.chmod(0o700)


def test_failed_mask_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import nibabel as nib

    vol = Volume.from_array(hu=np.zeros((2, 8, 8), np.int16), spacing_mm=(2.0, 0.8, 0.8))

    def broken_save(img: object, path: str) -> None:
        Path(path).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(nib, "save", broken_save)
    with pytest.raises(OSError):
        save_nifti(vol, np.zeros(vol.shape, np.uint8), tmp_path / "m.nii.gz")
    assert list(tmp_path.iterdir()) == []
