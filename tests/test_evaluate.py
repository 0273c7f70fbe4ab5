"""``sarco evaluate``: the JSON contract on the real silver standard, per region and per level, the baselines,
and refusals.

The TotalSegmentator mask is a model output: the evaluation on it is a validation-only diagnostic (where do the
masks differ?), never a pass/fail target, so nothing here asserts how well a method agrees with it; nothing tunes
on it. The arithmetic is checked with an oracle on phantoms.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import nibabel as nib
import numpy as np
import pytest

from sarco_core.cli import main
from sarco_core.evaluate import evaluate
from sarco_core.segment.base import SegmentationResult
from sarco_core.volume import Volume
from tests.conftest import data_path

SUMMARY = {"median", "mean", "min"}
ERRORS = {"median", "mean", "max"}
PER_SLICE = {"index", "z_mm", "level", "dice", "sma_true_cm2", "sma_pred_cm2", "error_pct", "confidence", "regions"}
NUMERIC = PER_SLICE - {"level", "regions"}
REGIONS = {"abdominal_wall", "back", "psoas_crus", "inner_layer", "other"}
REGION_SUMMARY = {"dice_median", "sma_true_cm2_median", "sma_pred_cm2_median", "diff_cm2_median"}


@pytest.fixture(scope="module")
def silver() -> tuple[str, str]:
    img = data_path("totalsegmentator", "example_ct_sm.nii.gz")
    mask = data_path("totalsegmentator", "example_ct_sm_tissue", "skeletal_muscle.nii.gz")
    vert = data_path("totalsegmentator", "example_ct_vertebrae.nii.gz")
    return str(img), str(mask), str(vert)


@pytest.fixture(scope="module")
def silver_report(silver) -> dict:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["evaluate", silver[0], silver[1], "--method", "teacher", "--vertebrae", silver[2], "--json"])
    assert rc == 0
    return json.loads(buf.getvalue())


def _is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def test_evaluate_json_contract(silver_report):
    d = silver_report
    assert set(d) == {
        "method",
        "model",
        "n_slices",
        "dice",
        "dice_raw",
        "sma_error_pct",
        "per_region",
        "per_level",
        "per_slice",
        "baselines",
    }
    assert d["method"] == "teacher" and d["model"] is None
    # every slice of example_ct_sm has muscle in the reference
    assert d["n_slices"] == 30 == len(d["per_slice"])
    assert set(d["dice"]) == SUMMARY and set(d["dice_raw"]) == SUMMARY and set(d["sma_error_pct"]) == ERRORS
    for block in (d["dice"], d["dice_raw"]):
        assert all(_is_num(v) and 0.0 <= v <= 1.0 for v in block.values())
        assert block["min"] <= block["median"] and block["min"] <= block["mean"]
    assert d["sma_error_pct"]["median"] >= 0 and d["sma_error_pct"]["max"] >= d["sma_error_pct"]["median"]
    idx = [s["index"] for s in d["per_slice"]]
    assert idx == sorted(idx) == list(range(30))
    for s in d["per_slice"]:
        assert set(s) == PER_SLICE
        assert all(_is_num(s[k]) for k in NUMERIC)
        assert 0.0 <= s["confidence"] <= 1.0
        # signed error per slice, consistent with the areas
        assert s["error_pct"] == pytest.approx((s["sma_pred_cm2"] - s["sma_true_cm2"]) / s["sma_true_cm2"] * 100)
    # the summary is over absolute errors
    assert d["sma_error_pct"]["median"] == pytest.approx(np.median([abs(s["error_pct"]) for s in d["per_slice"]]))
    # world z of the crop (origin z 340.3 mm, 3 mm slices)
    assert d["per_slice"][0]["z_mm"] == pytest.approx(340.3, abs=0.1)
    assert set(d["baselines"]) == {"teacher", "threshold"}
    for b in d["baselines"].values():
        assert set(b) == {"dice", "sma_error_pct", "per_region", "per_level"}
        assert set(b["dice"]) == SUMMARY and set(b["sma_error_pct"]) == ERRORS
    assert d["baselines"]["teacher"]["dice"] == d["dice"]


def test_silver_diagnostic_per_level_and_region(silver_report):
    """The crop covers T12-L2 (README): every slice gets its level from the vertebra labels by world z, and the
    regions split each slice's gated areas exactly (a partition)."""
    d = silver_report
    assert list(d["per_level"]) == ["T12", "L1", "L2"]  # head-to-foot order
    assert sum(lv["n_slices"] for lv in d["per_level"].values()) == 30
    by_level: dict[str, list[dict]] = {}
    for s in d["per_slice"]:
        by_level.setdefault(s["level"], []).append(s)
        assert set(s["regions"]) == REGIONS
        assert sum(r["sma_true_cm2"] for r in s["regions"].values()) == pytest.approx(s["sma_true_cm2"])
        assert sum(r["sma_pred_cm2"] for r in s["regions"].values()) == pytest.approx(s["sma_pred_cm2"])
        # the reference muscle lies in the trunk regions, not "other" (arms, table) - a check of the regions
        assert s["regions"]["other"]["sma_true_cm2"] < 0.05 * s["sma_true_cm2"]
    # levels run head to foot: z of T12 slices above L1 above L2
    z = {lv: np.mean([s["z_mm"] for s in rows]) for lv, rows in by_level.items()}
    assert z["T12"] > z["L1"] > z["L2"]
    for lv, rows in by_level.items():
        blk = d["per_level"][lv]
        assert blk["n_slices"] == len(rows)
        assert blk["dice"]["median"] == pytest.approx(np.median([s["dice"] for s in rows]))
        assert set(blk["regions"]) == REGIONS
        for name, r in blk["regions"].items():
            assert set(r) == REGION_SUMMARY
            diffs = [s["regions"][name]["diff_cm2"] for s in rows]
            assert r["diff_cm2_median"] == pytest.approx(np.median(diffs))
    assert set(d["per_region"]) == REGIONS


def test_a_change_in_one_region_shows_in_that_region_only():
    """Oracle on phantoms minus the psoas-crus zone: that region loses its area, every other region is exact."""
    from sarco_core.phantom import phantom_slice
    from sarco_core.regions import Region, slice_regions

    slices = [phantom_slice(seed, level=lv, size=192, pixel_mm=1.6) for seed, lv in ((3, "L3"), (5, "L1"))]
    vol = Volume.from_array(hu=np.stack([p.hu for p in slices]), spacing_mm=(3.0, 1.6, 1.6))
    truth = np.stack([(p.labels == 1) for p in slices]).astype(np.uint8)
    pred = truth.copy()
    sp = vol.spacing_mm
    for k in range(vol.n_slices):
        pred[k][slice_regions(vol.hu[k], row_mm=sp.row, col_mm=sp.col).mask(Region.PSOAS_CRUS)] = 0
    rep = evaluate(vol, truth, segmenter=_Oracle(pred), baselines=()).to_dict()
    for s in rep["per_slice"]:
        r = s["regions"]
        assert r["psoas_crus"]["sma_true_cm2"] > 0.5 and r["psoas_crus"]["sma_pred_cm2"] == 0.0
        for name in ("abdominal_wall", "back", "inner_layer", "other"):
            assert r[name]["diff_cm2"] == 0.0 and r[name]["dice"] == 1.0
    assert rep["per_level"]["unknown"]["regions"]["psoas_crus"]["dice_median"] == 0.0


def test_evaluate_prints_a_table_per_level_and_region(silver, capsys):
    assert (
        main(["evaluate", silver[0], silver[1], "--method", "threshold", "--no-baselines", "--vertebrae", silver[2]])
        == 0
    )
    out = capsys.readouterr().out
    assert "per level and region" in out and "psoas_crus" in out
    for lv in ("T12", "L1", "L2", "all"):
        assert any(line.split()[:1] == [lv] for line in out.splitlines()), lv


def test_evaluate_refuses_mask_on_another_grid(silver, tmp_path, capsys):
    img = nib.load(silver[1])
    data = np.asarray(img.dataobj)[:, :-4, :]  # four columns fewer
    other = tmp_path / "other_grid.nii.gz"
    nib.save(nib.Nifti1Image(data.astype(np.uint8), img.affine), str(other))
    assert main(["evaluate", silver[0], str(other), "--method", "threshold", "--json"]) == 2
    err = capsys.readouterr().err
    assert "grid" in err and "Traceback" not in err
    shifted = tmp_path / "shifted.nii.gz"
    aff = img.affine.copy()
    aff[0, 3] += 1.5
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj).astype(np.uint8), aff), str(shifted))
    assert main(["evaluate", silver[0], str(shifted), "--method", "threshold"]) == 2
    assert "affine" in capsys.readouterr().err


class _Oracle:
    """A segmenter that returns the reference itself (tests the arithmetic of evaluate)."""

    method = "oracle"
    model = None

    def __init__(self, truth: np.ndarray):
        self.truth = truth

    def segment(self, volume: Volume, indices: Sequence[int]) -> list[SegmentationResult]:
        return [SegmentationResult(i, self.truth[i].astype(np.uint8), 1.0, (), "oracle") for i in indices]


def test_evaluate_arithmetic_with_oracle_and_empty_slices():
    rng = np.random.default_rng(0)
    hu = rng.integers(-100, 120, size=(3, 20, 20)).astype(np.int16)
    truth = np.zeros((3, 20, 20), np.uint8)
    truth[0, 5:15, 5:15] = 1
    truth[2, 2:8, 2:8] = 1  # slice 1 has no muscle: not evaluated
    vol = Volume.from_array(hu=hu, spacing_mm=(2.0, 0.5, 0.8))
    rep = evaluate(vol, truth, segmenter=_Oracle(truth), baselines=("threshold",)).to_dict()
    assert rep["method"] == "oracle" and rep["n_slices"] == 2
    assert [s["index"] for s in rep["per_slice"]] == [0, 2]
    assert rep["dice"]["min"] == 1.0 and rep["dice_raw"]["min"] == 1.0 and rep["sma_error_pct"]["max"] == 0.0
    gate = (hu[0] >= -29) & (hu[0] <= 150) & (truth[0] == 1)
    assert rep["per_slice"][0]["sma_true_cm2"] == pytest.approx(gate.sum() * 0.5 * 0.8 / 100)
    assert set(rep["baselines"]) == {"threshold"}


def test_evaluate_refuses_empty_reference(capsys, tmp_path):
    from sarco_core.errors import InvalidMaskError

    vol = Volume.from_array(hu=np.zeros((2, 8, 8), np.int16), spacing_mm=(1, 1, 1))
    with pytest.raises(InvalidMaskError):
        evaluate(vol, np.zeros((2, 8, 8), np.uint8), method="threshold")
