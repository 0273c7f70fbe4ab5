"""Cohort discovery, manifest parsing, flattening and the atomic per-case files of ``sarco batch``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from sarco_core.batch.cases import BatchCase, ManifestError, cohort, discover, read_manifest, safe_name
from sarco_core.batch.table import CaseRecord, flatten, parts_dir, read_part, record_row, write_csv, write_part
from sarco_core.errors import InputNotFoundError


def _tree(root: Path) -> Path:
    (root / "p1").mkdir(parents=True)
    (root / "p1" / "a.dcm").write_bytes(b"x")
    (root / "p2.zip").write_bytes(b"PK")
    (root / "p3.nii.gz").write_bytes(b"\x1f\x8b")
    (root / "notes.txt").write_text("hi")
    (root / ".hidden").mkdir()
    return root


def test_discover_one_case_per_entry(tmp_path: Path) -> None:
    cases, warnings = discover(_tree(tmp_path / "in"))
    assert [c.case_id for c in cases] == ["p1", "p2", "p3"]
    assert cases[2].path.endswith("p3.nii.gz")
    assert len(warnings) == 1 and "notes.txt" in warnings[0]


def test_discover_refuses_missing_and_duplicate_ids(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        discover(tmp_path / "nope")
    d = _tree(tmp_path / "in")
    (d / "p1.zip").write_bytes(b"PK")
    with pytest.raises(ManifestError, match="p1"):
        discover(d)


def test_manifest_joins_by_case_id_and_parses_values(tmp_path: Path) -> None:
    d = _tree(tmp_path / "in")
    m = tmp_path / "m.csv"
    m.write_text("Case_ID,height_m,weight_kg,sex,path,extra\np2,1.72,80,m,,x\np9,,,,p1,\np3,1.6,,female,,\n")
    cases, warnings = cohort(d, m)
    assert [c.case_id for c in cases] == ["p2", "p9", "p3", "p1"]
    assert cases[0] == BatchCase("p2", str(d / "p2.zip"), 1.72, 80.0, "M")
    assert cases[1].path == str(d / "p1") and cases[1].height_m is None
    assert cases[2].sex == "F" and cases[2].weight_kg is None
    assert any("not in the manifest" in w for w in warnings)


@pytest.mark.parametrize(
    "text, match",
    [
        ("id,height_m\np1,1.7\n", "no case_id column"),
        ("case_id,height_m\np1,1,72\n", "decimal comma"),
        ('case_id,height_m\np1,"1.5"\n', None),
        ("case_id,height_m\np1,abc\n", "not a number"),
        ("case_id,sex\np1,X\n", "sex"),
        ("case_id\np1\np1\n", "twice"),
        ("case_id,path\nzz,\n", "no path"),
    ],
)
def test_manifest_errors_are_specific(tmp_path: Path, text: str, match: str | None) -> None:
    d = _tree(tmp_path / "in")
    m = tmp_path / "m.csv"
    m.write_text(text)
    if match is None:
        cases, _ = cohort(d, m)
        assert cases[0].height_m == 1.5
        return
    with pytest.raises(ManifestError, match=match):
        cohort(d, m)


def test_manifest_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="does not exist"):
        read_manifest(tmp_path / "none.csv", None)


def test_fingerprint_changes_with_input_and_patient_data(tmp_path: Path) -> None:
    f = tmp_path / "a.nii.gz"
    f.write_bytes(b"abc")
    c = BatchCase("a", str(f), 1.7)
    fp = c.fingerprint("s")
    assert fp == BatchCase("a", str(f), 1.7).fingerprint("s")
    assert fp != BatchCase("a", str(f), 1.8).fingerprint("s")
    assert fp != c.fingerprint("other")
    f.write_bytes(b"abcd")
    assert fp != c.fingerprint("s")


def test_flatten_dotted_and_lists() -> None:
    d = {
        "sma_cm2": 150.5,
        "l3": {
            "index": 73,
            "candidates": [{"index": 73, "score": 0.9}, {"index": 60, "score": 0.1}],
            "levels": [{"label": "L3", "z_mm": [300.0, 315.0]}],
        },
        "qc_flags": ["a", "b"],
        "model": None,
        "ok": True,
        "nan": float("nan"),
        "empty": {},
    }
    f = flatten(d)
    assert f["sma_cm2"] == 150.5 and f["l3.index"] == 73
    assert f["l3.candidates.index"] == "73;60" and f["l3.candidates.score"] == "0.9;0.1"
    assert f["l3.levels.z_mm"] == "300.0/315.0"
    assert f["qc_flags"] == "a;b" and f["model"] == "" and f["ok"] == "true" and f["nan"] == "" and f["empty"] == ""


def test_parts_roundtrip_and_csv(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    parts = parts_dir(out)
    ok = CaseRecord(
        "a/b",
        "/x",
        "ok",
        fingerprint="f",
        analysis={"sma_cm2": 1.5, "l3": {"index": 3}},
        manifest={"height_m": 1.7, "weight_kg": None, "sex": None},
        elapsed_s=1.23456,
    )
    bad = CaseRecord("c", "/y", "error", error="UnreadableFileError: broken", manifest={"height_m": 1.6})
    p = write_part(parts, ok)
    write_part(parts, bad)
    assert p.name.startswith(safe_name("a/b")) and "/" not in p.name
    assert read_part(parts, "a/b") == ok
    assert read_part(parts, "zz") is None
    assert not list(parts.glob("*.partial"))
    (parts / f"{safe_name('c')}.json").write_text("{truncated")
    assert read_part(parts, "c") is None  # unreadable -> redone
    write_part(parts, bad)
    cols = write_csv(out, [ok, bad])
    assert cols[:4] == ["case_id", "path", "status", "error"] and cols[-1] == "elapsed_s"
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["l3.index"] == "3" and rows[0]["elapsed_s"] == "1.235"
    assert rows[1]["status"] == "error" and rows[1]["error"].startswith("UnreadableFileError")
    assert rows[1]["height_m"] == "1.6" and rows[1]["sma_cm2"] == ""
    assert record_row(ok)["height_m"] == 1.7
    assert json.loads(p.read_text())["fingerprint"] == "f"
