"""sarco validate: per-case comparison against hand-computed values, cohort statistics, report files, manifest
loading and its errors."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence

import numpy as np
import pytest

from sarco_core.errors import GridMismatchError, InputNotFoundError, InvalidMaskError, PatientDataError
from sarco_core.segment.base import ModelInfo, SegmentationResult
from sarco_core.validate.cases import ReferenceCase, load_manifest
from sarco_core.validate.compare import compare_case, validate_cases
from sarco_core.validate.report import write_report
from sarco_core.validate.site_phantoms import SiteConvention, SitePopulation, site_cases, write_site_folder
from sarco_core.volume import Volume


class FixedSegmenter:
    """Returns preset label maps, one per call, in order."""

    method = "model"
    model: ModelInfo | None = ModelInfo("fixed", "0", "x")

    def __init__(self, labels: Sequence[np.ndarray]) -> None:
        self._labels = list(labels)

    def segment(self, volume: Volume, indices: Sequence[int]) -> list[SegmentationResult]:
        lab = self._labels.pop(0)
        return [SegmentationResult(index=0, labels=lab, confidence=0.9, qc_flags=(), method="model")]


def _case(cid: str, n_ref: int, *, height: float | None = 1.7, sex: str | None = "M") -> ReferenceCase:
    hu = np.full((10, 10), 40.0, np.float32)
    hu[9, :] = -100.0  # fat row: outside the muscle gate
    ref = np.zeros((10, 10), np.uint8)
    ref.flat[:n_ref] = 1
    return ReferenceCase.of(
        case_id=cid, hu=hu, reference=ref, spacing_mm=(10.0, 10.0), height_m=height, weight_kg=70.0, sex=sex
    )


def test_compare_case_hand_computed():
    c = _case("a", 50)  # rows 0-4: 50 px of 1 cm² = 50 cm²
    pred = np.zeros((10, 10), np.uint8)
    pred.flat[25:75] = 1  # 25 px overlap, 50 px predicted
    pred[9, :] = 1  # 10 more predicted pixels, all fat: gated out, counted in the raw Dice
    r = compare_case(c, FixedSegmenter([pred]).segment(c.volume(), [0])[0])
    assert r.dice == pytest.approx(2 * 25 / 100)
    assert r.dice_raw == pytest.approx(2 * 25 / 110)
    assert r.sma_ref_cm2 == pytest.approx(50.0) and r.sma_model_cm2 == pytest.approx(50.0)
    assert r.imat_model_cm2 == pytest.approx(10.0) and r.imat_ref_cm2 == 0.0
    assert r.smi_ref == pytest.approx(50 / 1.7**2)
    assert r.sat_ref_cm2 is None  # binary reference: no SAT/VAT comparison


def test_cohort_statistics_and_flips():
    # 1 cm² pixels, height 1.0 m: SMI = SMA. Martin 2013, male, BMI 70 >= 25: low SMI < 53 cm²/m².
    cases = [_case("a", 40, height=1.0), _case("b", 55, height=1.0), _case("c", 60, height=1.0)]
    preds = []
    for n in (40, 50, 66):  # a exact (low, low); b 55 -> 50 crosses 53; c 60 -> 66 (not low either way)
        p = np.zeros((10, 10), np.uint8)
        p.flat[:n] = 1
        preds.append(p)
    rep = validate_cases(cases, FixedSegmenter(preds))
    assert [r.flipped for r in rep.cases] == [False, True, False]
    assert rep.flips.n_flipped == 1 and rep.flips.share_flipped == pytest.approx(1 / 3)
    sma = rep.agreement[0]
    assert sma.quantity == "SMA"
    assert sma.bland_altman.bias == pytest.approx((0 - 5 + 6) / 3)
    assert rep.dice.median == pytest.approx(2 * 50 / 105)  # b and c: 100/105 and 120/126
    assert rep.sma_abs_error_pct.median == pytest.approx(5 / 55 * 100)
    assert rep.flips.low_ref == 1 and rep.flips.low_model == 2
    assert [a.quantity for a in rep.agreement] == ["SMA", "SMI", "muscle HU", "IMAT"]  # binary refs: no SAT/VAT


def test_report_files(tmp_path):
    cases = [_case("a", 50), _case("b", 60)]
    preds = [c.reference.copy() for c in cases]
    rep = validate_cases(cases, FixedSegmenter(preds))
    files = write_report(rep, tmp_path / "rep", overlays={"a": b"\x89PNG"})
    rows = list(csv.DictReader(files.csv.open()))
    assert [r["case_id"] for r in rows] == ["a", "b"] and float(rows[0]["dice"]) == 1.0
    summary = json.loads(files.json.read_text())
    assert summary["n_cases"] == 2 and summary["agreement"]["SMA"]["bland_altman"]["bias"] == 0.0
    page = files.html.read_text()
    assert "Bland-Altman" in page and "ICC(2,1)" in page
    assert "<script src=" not in page and "<link" not in page  # plotly.js is inlined: nothing is fetched


def test_case_errors():
    with pytest.raises(GridMismatchError, match=r"\(8, 8\).*\(10, 10\)"):
        ReferenceCase.of(case_id="x", hu=np.zeros((10, 10)), reference=np.zeros((8, 8)), spacing_mm=(1, 1))
    with pytest.raises(InvalidMaskError, match="no muscle"):
        ReferenceCase.of(case_id="x", hu=np.zeros((4, 4)), reference=np.zeros((4, 4)), spacing_mm=(1, 1))
    with pytest.raises(InvalidMaskError, match="values"):
        ReferenceCase.of(case_id="x", hu=np.zeros((4, 4)), reference=np.full((4, 4), 9), spacing_mm=(1, 1))


def test_site_convention_drops_psoas_and_ql_only():
    std = site_cases(1, convention=SiteConvention.STANDARD)[0]
    site = site_cases(1, convention=SiteConvention.PSOAS_QL_SEPARATE)[0]
    np.testing.assert_array_equal(std.hu, site.hu)
    removed = (std.reference == 1) & (site.reference == 0)
    assert removed.sum() > 0.05 * (std.reference == 1).sum()
    assert np.all(site.reference[~removed] == std.reference[~removed])


def test_anasarca_site_differs_in_the_images_not_the_labels():
    """The anasarca site: subcutaneous fat inside the muscle gate, but SAT still labelled SAT (the convention)."""
    site = site_cases(1, convention=SiteConvention.STANDARD, population=SitePopulation.ANASARCA)[0]
    std = site_cases(1, convention=SiteConvention.STANDARD)[0]
    sat = site.reference == 2
    assert sat.sum() > 1000 and (std.reference == 2).sum() > 1000
    assert -29 <= float(np.median(site.hu[sat])) <= 40  # oedematous: in the -29..150 HU muscle gate
    assert float(np.median(std.hu[std.reference == 2])) < -50  # standard SAT is fat
    again = site_cases(1, convention=SiteConvention.STANDARD, population=SitePopulation.ANASARCA)[0]
    np.testing.assert_array_equal(again.hu, site.hu)


def test_manifest_round_trip_and_errors(tmp_path):
    cases = site_cases(2, convention=SiteConvention.STANDARD)
    man = write_site_folder(cases, tmp_path / "site")
    back = load_manifest(man)
    assert [c.case_id for c in back] == [c.case_id for c in cases]
    np.testing.assert_array_equal(back[0].reference, cases[0].reference)
    np.testing.assert_allclose(back[0].hu, np.round(cases[0].hu))
    assert back[0].row_mm == pytest.approx(cases[0].row_mm, abs=1e-4)
    assert back[1].height_m == pytest.approx(cases[1].height_m, abs=1e-3)
    bad = tmp_path / "bad.csv"
    bad.write_text("case_id,image\nx,a.nii.gz\n")
    with pytest.raises(PatientDataError, match="mask"):
        load_manifest(bad)


def test_cli_validate_writes_the_report_and_refuses_a_missing_manifest(tmp_path, capsys):
    from sarco_core.cli import main

    man = write_site_folder(site_cases(2, convention=SiteConvention.STANDARD), tmp_path / "site")
    assert main(["validate", str(man), "--report", str(tmp_path / "rep"), "--method", "threshold"]) == 0
    assert "median gated Dice" in capsys.readouterr().out
    assert {p.name for p in (tmp_path / "rep").iterdir()} == {"cases.csv", "summary.json", "report.html"}
    assert main(["validate", str(tmp_path / "nope.csv"), "--report", str(tmp_path / "r2")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_import_set_is_read_as_reference_cases(tmp_path):
    from sarco_core.cli import main
    from sarco_core.validate.cases import load_cases

    cases = site_cases(2, convention=SiteConvention.PSOAS_QL_SEPARATE)
    man = write_site_folder(cases, tmp_path / "site")
    assert main(["import-masks", str(man.parent), "--manifest", str(man), "--out", str(tmp_path / "imp")]) == 0
    back = load_cases(tmp_path / "imp")
    assert [c.case_id for c in back] == [c.case_id for c in cases]
    np.testing.assert_array_equal(back[1].reference, cases[1].reference)
    assert back[1].sex == cases[1].sex and back[1].height_m == pytest.approx(cases[1].height_m, abs=1e-3)
    with pytest.raises(InputNotFoundError, match="not an import set"):
        load_cases(tmp_path / "site")
