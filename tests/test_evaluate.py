"""``sarco evaluate``: the JSON contract on the real silver standard, the baselines, and refusals.

Running the evaluation on the silver standard is allowed (it is how the report is made); nothing here tunes on it.
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
PER_SLICE = {"index", "z_mm", "dice", "sma_true_cm2", "sma_pred_cm2", "error_pct", "confidence"}


@pytest.fixture(scope="module")
def silver() -> tuple[str, str]:
    img = data_path("totalsegmentator", "example_ct_sm.nii.gz")
    mask = data_path("totalsegmentator", "example_ct_sm_tissue", "skeletal_muscle.nii.gz")
    return str(img), str(mask)


@pytest.fixture(scope="module")
def silver_report(silver) -> dict:
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["evaluate", silver[0], silver[1], "--method", "teacher", "--json"])
    assert rc == 0
    return json.loads(buf.getvalue())


def _is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def test_evaluate_json_contract(silver_report):
    d = silver_report
    assert set(d) == {"method", "model", "n_slices", "dice", "dice_raw", "sma_error_pct", "per_slice", "baselines"}
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
        assert all(_is_num(s[k]) for k in PER_SLICE)
        assert 0.0 <= s["confidence"] <= 1.0
        # signed error per slice, consistent with the areas
        assert s["error_pct"] == pytest.approx((s["sma_pred_cm2"] - s["sma_true_cm2"]) / s["sma_true_cm2"] * 100)
    # the summary is over absolute errors
    assert d["sma_error_pct"]["median"] == pytest.approx(np.median([abs(s["error_pct"]) for s in d["per_slice"]]))
    # world z of the crop (origin z 340.3 mm, 3 mm slices)
    assert d["per_slice"][0]["z_mm"] == pytest.approx(340.3, abs=0.1)
    assert set(d["baselines"]) == {"teacher", "threshold"}
    for b in d["baselines"].values():
        assert set(b) == {"dice", "sma_error_pct"} and set(b["dice"]) == SUMMARY and set(b["sma_error_pct"]) == ERRORS
    assert d["baselines"]["teacher"]["dice"] == d["dice"]


def test_threshold_baseline_near_documented_figure(silver_report):
    """The documented HU-threshold baseline lands near Dice 0.40 with SMA several times too large."""
    thr = silver_report["baselines"]["threshold"]
    assert 0.30 <= thr["dice"]["median"] <= 0.50
    assert thr["sma_error_pct"]["median"] > 100.0


def test_teacher_beats_threshold_on_silver(silver_report):
    d = silver_report
    assert d["dice"]["median"] > d["baselines"]["threshold"]["dice"]["median"] + 0.3
    assert d["sma_error_pct"]["median"] < d["baselines"]["threshold"]["sma_error_pct"]["median"] / 5


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
