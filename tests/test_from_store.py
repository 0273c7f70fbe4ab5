"""`sarco finetune/validate --from-store`: per case the latest edited or imported mask of the case store, cases
grouped by the store's salted patient hash so that no patient is on both sides of the held-out split."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sarco_core.cli import main
from sarco_core.errors import InvalidMaskError, ManifestError
from sarco_core.masks import import_case
from sarco_core.phantom import phantom_slice
from sarco_core.privacy import salted_id_hash
from sarco_core.store import Store
from sarco_core.train.finetune import split_by_patient
from sarco_core.validate.store_cases import cases_from_store, resolve_cohort
from sarco_core.volume import SourceMeta, Volume

SIZE, PX = 64, 5.0


def _slice(seed: int, pid: str | None) -> tuple[Volume, np.ndarray]:
    p = phantom_slice(seed=seed, size=SIZE, pixel_mm=PX)
    meta = SourceMeta(kind="dicom-slice", patient_id_hash=salted_id_hash(pid))
    hu = np.asarray(p.hu).reshape(1, SIZE, SIZE).astype(np.int16)
    vol = Volume.from_array(hu=hu, spacing_mm=(PX, PX, PX), meta=meta)
    return vol, np.asarray(p.labels).reshape(SIZE, SIZE).astype(np.uint8)


def _analysed(store: Store, label: str, seed: int, pid: str | None) -> tuple[int, np.ndarray]:
    """A case as the app keeps it after an analysis: version 1 = the automatic mask."""
    vol, lab = _slice(seed, pid)
    case = store.create_case(
        vol, analysis={"method": "threshold"}, labels=lab, slice_index=0, actor="model", label=label
    )
    return case.id, lab


def _edit(store: Store, cid: int, lab: np.ndarray, *, rows: slice) -> np.ndarray:
    """A labeller's edit: muscle removed in some rows."""
    ed = lab.copy()
    ed[rows][ed[rows] == 1] = 0
    store.save_version(cid, ed, parent_version_id=store.latest_version(cid).id, author="labeller")
    return ed


def _png(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr.astype(np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture()
def store() -> Store:
    """Six cases of four patients: edits, a re-analysis after an edit, an import, an unedited case, a deleted
    case, and a case without a patient ID."""
    s = Store.open()
    a, lab_a = _analysed(s, "a1", 41, "P-A")
    ed_a = _edit(s, a, lab_a, rows=slice(0, 30))
    s.add_analysis(a, {"method": "threshold"}, lab_a, 0, "model")  # a later automatic mask does not win
    a2, lab_a2 = _analysed(s, "a2", 42, "P-A")  # a second scan of patient A
    _edit(s, a2, lab_a2, rows=slice(0, 20))
    ed_a2 = _edit(s, a2, lab_a2, rows=slice(0, 25))  # the latest of two edits
    _analysed(s, "b1", 43, "P-B")  # never edited: no reference
    vol_c, lab_c = _slice(44, "P-C")
    s.add_imported(import_case(_png(lab_c), vol_c, case_id="c1", mask_name="c1.png"), actor="site")
    d, lab_d = _analysed(s, "d1", 45, "P-D")
    _edit(s, d, lab_d, rows=slice(0, 10))
    s.delete_case(d, actor="admin", reason="wrong series")
    e, lab_e = _analysed(s, "e1", 46, None)
    _edit(s, e, lab_e, rows=slice(40, 64))
    s.expected = {"a1": ed_a, "a2": ed_a2, "c1": lab_c}  # type: ignore[attr-defined]
    return s


def test_latest_reference_version_per_live_case(store: Store) -> None:
    refs = {r.label: r for r in store.reference_slices()}
    assert set(refs) == {"a1", "a2", "c1", "e1"}  # b1 has no edit, d1 was deleted
    assert (refs["a1"].version.source, refs["a1"].version.number) == ("edit", 2)  # not the later auto v3
    assert refs["a2"].version.number == 3 and refs["c1"].version.source == "imported:png"
    for label, want in store.expected.items():  # type: ignore[attr-defined]
        np.testing.assert_array_equal(refs[label].mask, want)
    vol, _ = _slice(41, None)
    np.testing.assert_array_equal(refs["a1"].hu, vol.hu[0])
    assert (refs["a1"].row_mm, refs["a1"].col_mm) == (PX, PX)
    assert [r.label for r in store.reference_slices(label_glob="a*")] == ["a1", "a2"]


def test_cases_are_grouped_by_the_salted_patient_hash(store: Store) -> None:
    sc = cases_from_store(store)
    by = {c.case_id: c.patient_id for c in sc.cases}
    assert by["a1"] == by["a2"] != by["c1"]  # two scans of patient A: one patient
    assert by["e1"] == "case-e1" and sc.n_without_patient_id == 1  # no patient ID: its own patient
    full = salted_id_hash("P-A")
    assert full is not None and full.startswith(by["a1"].removeprefix("patient-")) and full not in by["a1"]
    assert sc.n_patients == 3
    for seed in range(6):
        tr, ho = split_by_patient(list(sc.cases), 0.34, seed)
        assert not {c.patient_id for c in tr} & {c.patient_id for c in ho}
        assert {c.case_id for c in tr} | {c.case_id for c in ho} == {"a1", "a2", "c1", "e1"}
        assert ({"a1", "a2"} <= {c.case_id for c in tr}) or ({"a1", "a2"} <= {c.case_id for c in ho})
    o = sc.origin()
    assert o["sources"] == {"edit": 3, "imported:png": 1} and "a1 v2" in o["versions"]
    assert full not in json.dumps(o)


def test_a_mask_without_muscle_is_skipped_with_its_reason(store: Store) -> None:
    cid = next(c.id for c in store.list_cases() if c.label == "b1")
    empty = np.zeros((SIZE, SIZE), np.uint8)
    store.save_version(cid, empty, parent_version_id=store.latest_version(cid).id, author="labeller")
    sc = cases_from_store(store)
    assert [lab for lab, _ in sc.skipped] == ["b1"] and "no muscle" in sc.skipped[0][1]
    assert "skipped 1" in sc.describe()


def test_no_reference_and_bad_arguments_give_clear_errors() -> None:
    s = Store.open()
    _analysed(s, "x1", 47, "P-X")
    with pytest.raises(InvalidMaskError, match="no case with a reference mask.*import-masks"):
        cases_from_store(s)
    with pytest.raises(InvalidMaskError, match="whose label matches 'z\\*'"):
        cases_from_store(s, label_glob="z*")
    with pytest.raises(ManifestError, match="not neither"):
        resolve_cohort(None, from_store=False)
    with pytest.raises(ManifestError, match="not both"):
        resolve_cohort("m.csv", from_store=True)
    with pytest.raises(ManifestError, match="--cases"):
        resolve_cohort("m.csv", from_store=False, label_glob="a*")


def test_cli_validate_from_store(store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rep"
    assert main(["validate", "--from-store", "--method", "threshold", "--report", str(out)]) == 0
    text = capsys.readouterr().out
    assert "4 reference cases of 3 patients" in text and "edit 3, imported:png 1" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_cases"] == 4
    assert main(["validate", "--from-store", "--cases", "a*", "--method", "threshold", "--report", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["n_cases"] == 2
    assert main(["validate", "--method", "threshold", "--report", str(out)]) == 2
    assert "not neither" in capsys.readouterr().err


def test_cli_finetune_from_store_passes_store_cases_and_origin(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The wiring only (the training run itself is test_finetune.py's slow end-to-end test)."""
    import sarco_core.train.finetune as ft

    seen: dict[str, Any] = {}

    def fake(cases: Any, **kw: Any) -> Any:
        seen.update(cases=list(cases), **kw)
        raise ft.FinetuneError("stopped by the test")

    monkeypatch.setattr(ft, "finetune", fake)
    rc = main(["finetune", "--from-store", "--cases", "[ace]*", "--out", str(tmp_path / "site-1"), "--device", "cpu"])
    assert rc == 2 and "stopped by the test" in capsys.readouterr().err
    assert sorted(c.case_id for c in seen["cases"]) == ["a1", "a2", "c1", "e1"]
    assert seen["origin"]["sources"] == {"edit": 3, "imported:png": 1}
    assert seen["cfg"].name == "site-1"


def test_resume_refuses_other_store_versions(store: Store, tmp_path: Path) -> None:
    from sarco_core.segment.base import default_model_dir
    from sarco_core.train.finetune import FinetuneConfig, FinetuneError, _check_same_data, finetune

    sc = cases_from_store(store)
    run = tmp_path / ".m.run"
    run.mkdir()
    _check_same_data(run, sc.cases, sc.origin(), resume=False)  # what a run records when it starts
    _check_same_data(run, sc.cases, sc.origin(), resume=True)  # the same data: fine
    cid = next(c.id for c in store.list_cases() if c.label == "a1")
    lab = store.get_mask(store.latest_version(cid).id)
    _edit(store, cid, lab, rows=slice(0, 5))  # a new edit after the run started
    sc2 = cases_from_store(store)
    base = default_model_dir()
    assert base is not None
    with pytest.raises(FinetuneError, match="differ from those the run"):
        finetune(
            list(sc2.cases),
            base_dir=base,
            out_dir=tmp_path / "m",
            cfg=FinetuneConfig(name="m"),
            resume=True,
            origin=sc2.origin(),
        )
