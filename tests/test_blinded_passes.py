"""Reader variability of the blinded reference (tools/blinded_passes.py, ``blinded_tool compare-passes``): the
pairwise figures on a phantom with known differences, and the stored passes on one real slice (shared data; skip
with a reason where absent, fail under CI=true)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sarco_core.phantom import phantom_slice
from tests.conftest import data_path
from tools import blinded_build as bt
from tools import blinded_passes as bp
from validation.reviewed import SLICES, in_muscle_gate, load_slice


def _phantom_masks() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ps = phantom_slice(2, size=224, pixel_mm=1.6)
    hu = ps.hu.astype(np.float32)
    a = bt.build(hu, 1.6, 1.6, {"keep": [1, 2, 3]}) & in_muscle_gate(hu)
    return hu, a, a.copy()


def test_identical_passes_agree_exactly() -> None:
    hu, a, b = _phantom_masks()
    r = bp.compare_pair(hu, 1.6, 1.6, a, b)
    assert r["dice"] == 1.0 and r["diff_cm2"] == 0.0 and r["diff_pct"] == 0.0
    assert all(v["diff_cm2"] == 0.0 for v in r["regions"].values())


def test_a_smaller_second_pass_is_negative_and_split_by_region() -> None:
    hu, a, b = _phantom_masks()
    rows, cols = np.nonzero(b)
    b[rows[: len(rows) // 4], cols[: len(rows) // 4]] = False  # the second reader leaves out the top quarter
    r = bp.compare_pair(hu, 1.6, 1.6, a, b)
    removed_cm2 = float((a & ~b).sum()) * 1.6 * 1.6 / 100.0
    assert r["diff_cm2"] == pytest.approx(-removed_cm2)
    assert r["diff_pct"] == pytest.approx(-100.0 * removed_cm2 / (r["sma_a_cm2"] - removed_cm2 / 2.0))
    assert 0.0 < r["dice"] < 1.0
    # the regions partition the slice: their differences add up to the total
    assert sum(v["diff_cm2"] for v in r["regions"].values()) == pytest.approx(r["diff_cm2"])
    s = bp.summarize([{"name": "x", **r}, {"name": "y", **bp.compare_pair(hu, 1.6, 1.6, a, a)}])
    assert s["min_dice"] == pytest.approx(r["dice"]) and s["median_signed_diff_pct"] == pytest.approx(r["diff_pct"] / 2)
    assert bp.summarize([]) == {}


def test_stored_passes_on_one_real_slice() -> None:
    name = "covid_A058062_19001231-084"
    if not (bt.selection_path(name, 1).is_file() and bt.selection_path(name, 2).is_file()):
        pytest.skip("both blinded passes are needed")
    data_path(*SLICES[name][0].split("/"))
    rep = bp.compare_passes(1, 2, names=[name])
    assert rep["n_slices"] == 1
    row = rep["per_slice"][0]
    hu, row_mm, col_mm = load_slice(name)
    m2 = bt.build(hu, row_mm, col_mm, bt.read_selection(name, 2)) & in_muscle_gate(hu)
    assert row["sma_b_cm2"] == pytest.approx(float(m2.sum()) * row_mm * col_mm / 100.0)
    assert 0.0 < row["dice"] <= 1.0
    json.dumps(rep)  # the --json output is plain JSON
    assert bp.report_lines(rep)[-1].startswith("pass 2 vs pass 1 (1 slices)")
