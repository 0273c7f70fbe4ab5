"""The reviewed real-CT muscle reference (validation/reviewed/): masks load, sit on their CT's grid and are plausible.

Needs the shared data (../shared/data or $SARCO_SHARED_DATA): skipped with a reason where it is absent, a failure
under CI=true (see tests/conftest.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.conftest import data_path
from validation.reviewed import SLICES, load_reviewed, mask_path, names

GATE = (-29.0, 150.0)


def test_masks_are_committed_one_bit_pngs() -> None:
    done = names()
    assert len(done) >= 7, f"expected the 7 upper-lumbar slices at least, found {done}"
    for name in done:
        p = mask_path(name)
        assert p.stat().st_size < 20_000, f"{p} is not small"
        with Image.open(p) as im:
            assert im.mode == "1", f"{p} is {im.mode}, not a 1-bit PNG"
        assert "totalsegmentator" not in SLICES[name][0]


@pytest.mark.parametrize("name", names())
def test_mask_on_ct_grid_and_plausible(name: str) -> None:
    from sarco_core.io import load

    rel, k = SLICES[name]
    data_path(*rel.split("/"))  # skip (or fail under CI=true) when the shared data is absent
    path, k2, mask = load_reviewed(name)
    assert k2 == k
    vol = load(path)
    assert 0 <= k < vol.n_slices
    hu = np.asarray(vol.hu[k], dtype=np.float32)
    assert mask.shape == hu.shape, f"{name}: mask {mask.shape} is not on the CT grid {hu.shape}"
    g = mask & (hu >= GATE[0]) & (hu <= GATE[1])
    sma = float(g.sum()) * vol.spacing_mm.row * vol.spacing_mm.col / 100.0
    assert 60.0 <= sma <= 250.0, f"{name}: gated SMA {sma:.1f} cm² outside 60-250"
    muscle_hu = float(hu[g].mean())
    assert 0.0 <= muscle_hu <= 70.0, f"{name}: muscle HU {muscle_hu:.1f} outside 0-70"
    assert not (mask & (hu < -500)).any(), f"{name}: mask on air"
