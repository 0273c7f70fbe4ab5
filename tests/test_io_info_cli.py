"""``sarco info``: the JSON contract on real data, reformats described, errors as exit 2 without traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sarco_core.cli import main
from tests.conftest import REPO, data_path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sarco_core", "info", *args], capture_output=True, text=True, cwd=REPO, timeout=120
    )


def test_info_json_contract_on_lidc():
    res = _run(str(data_path("lidc_idri_0001")), "--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert {"modality", "shape", "spacing_mm", "z_mm", "series", "warnings"} <= set(info)
    assert info["modality"] == "CT"
    assert info["shape"] == {"slices": 24, "rows": 512, "cols": 512}
    assert info["spacing_mm"] == pytest.approx({"slice": 2.5, "row": 0.703125, "col": 0.703125})
    assert info["z_mm"] == pytest.approx([-190.0, -132.5])
    assert info["series"]["manufacturer"] == "GE MEDICAL SYSTEMS" and info["series"]["sop_uids"] == 24
    assert isinstance(info["warnings"], list) and any("-1024 HU" in w for w in info["warnings"])


def test_info_bad_file_exit_2_without_traceback(tmp_path):
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"DICM" * 10)
    res = _run(str(bad), "--json")
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "broken.dcm" in res.stderr and res.stdout == ""


def test_info_describes_reformats_and_single_slices(capsys):
    sag = next(data_path("tcia_covid19_ny_sbu", "A067967", "sagittal").glob("*.dcm"))
    assert main(["info", str(sag), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["modality"] == "CT" and any("sagittal" in w for w in info["warnings"])
    pancreas = data_path("pydicom", "pancreas_ct_0001_slice122_j2k.dcm")
    assert main(["info", str(pancreas)]) == 0
    text = capsys.readouterr().out
    assert "1 slices x 512 rows x 512 cols" in text and "z range" in text


def test_info_missing_path_and_not_ct(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["info", str(data_path("pydicom", "eCT_Supplemental.dcm"))]) == 0
    assert "NOT HU" in capsys.readouterr().out
