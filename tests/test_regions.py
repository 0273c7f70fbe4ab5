"""Anatomical reporting regions (sarco_core.regions) on seeded phantoms, whose tissue map names every muscle."""

from __future__ import annotations

import numpy as np
import pytest

from sarco_core.phantom import TISSUES, phantom_slice
from sarco_core.regions import REGION_ORDER, Region, slice_regions

CASES = [(seed, level) for seed in (0, 1, 2) for level in ("L3", "L1", "T12")]


def _share(tissue: np.ndarray, names: tuple[str, ...], region_mask: np.ndarray) -> float:
    m = np.isin(tissue, [TISSUES[n] for n in names])
    assert m.any(), names
    return float((m & region_mask).sum()) / float(m.sum())


@pytest.mark.parametrize(("seed", "level"), CASES)
def test_regions_follow_the_phantom_anatomy(seed: int, level: str) -> None:
    ps = phantom_slice(seed, level=level, size=256, pixel_mm=1.4)
    reg = slice_regions(ps.hu, row_mm=1.4, col_mm=1.4)
    assert reg.found
    # a partition: every pixel in exactly one region
    assert set(np.unique(reg.codes)) <= {r.code for r in REGION_ORDER}
    assert sum(int(reg.mask(r).sum()) for r in REGION_ORDER) == ps.hu.size
    t = ps.tissue
    assert _share(t, ("psoas",), reg.mask(Region.PSOAS_CRUS)) >= 0.95
    assert _share(t, ("erector_spinae", "multifidus"), reg.mask(Region.BACK)) >= 0.95
    assert _share(t, ("rectus",), reg.mask(Region.ABDOMINAL_WALL)) >= 0.9
    assert _share(t, ("external_oblique",), reg.mask(Region.ABDOMINAL_WALL)) >= 0.7
    # the transversus is the inner layer (where it runs behind the spine's posterior plane it is "back")
    assert _share(t, ("transversus",), reg.mask(Region.INNER_LAYER)) >= 0.5
    assert _share(t, ("transversus",), reg.mask(Region.ABDOMINAL_WALL)) <= 0.15
    # nothing outside the body is a trunk region
    assert not (reg.codes[t == TISSUES["air"]] != Region.OTHER.code).any()


def test_regions_scale_with_the_pixel_size() -> None:
    """The same anatomy on a 0.8 mm and a 1.6 mm grid gives the same regions (within a boundary pixel)."""
    fine = phantom_slice(4, size=448, pixel_mm=0.8)
    coarse = phantom_slice(4, size=224, pixel_mm=1.6)
    rf = slice_regions(fine.hu, row_mm=0.8, col_mm=0.8)
    rc = slice_regions(coarse.hu, row_mm=1.6, col_mm=1.6)
    for r in (Region.BACK, Region.PSOAS_CRUS, Region.ABDOMINAL_WALL, Region.INNER_LAYER):
        a_f = rf.mask(r).sum() * 0.64
        a_c = rc.mask(r).sum() * 2.56
        assert a_c == pytest.approx(a_f, rel=0.15), r


def test_no_vertebra_means_no_regions() -> None:
    """A soft-tissue disc with no bone: no vertebra, every pixel OTHER (not a guessed partition)."""
    rr, cc = np.indices((160, 160))
    hu = np.where(np.hypot(rr - 80, cc - 80) < 60, 40, -1000).astype(np.int16)
    reg = slice_regions(hu, row_mm=1.5, col_mm=1.5)
    assert not reg.found and (reg.codes == Region.OTHER.code).all()
