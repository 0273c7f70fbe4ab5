"""Phantom: determinism, exact labels and areas (non-square pixels), spine levels, options, writers."""

from __future__ import annotations

import numpy as np
import pytest

from sarco_core.io.loader import load
from sarco_core.metrics import measure_slice
from sarco_core.phantom import (
    LABEL_OF,
    TISSUES,
    VERTEBRA_IDS,
    phantom_slice,
    phantom_volume,
    write_dicom,
    write_nifti,
    write_zip,
)


@pytest.fixture(scope="module")
def small_stack():
    return phantom_volume(5, size=96, pixel_mm=4.0, slice_mm=3.0)


def test_slice_deterministic_and_seeds_differ() -> None:
    a = phantom_slice(11, size=192, pixel_mm=2.0)
    b = phantom_slice(11, size=192, pixel_mm=2.0)
    c = phantom_slice(12, size=192, pixel_mm=2.0)
    assert np.array_equal(a.hu, b.hu) and np.array_equal(a.labels, b.labels) and np.array_equal(a.tissue, b.tissue)
    assert a.params == b.params
    assert not np.array_equal(a.hu, c.hu)
    assert not np.array_equal(a.labels, c.labels)


def test_slice_types_and_label_convention() -> None:
    s = phantom_slice(3, size=160, pixel_mm=2.5)
    assert s.hu.dtype == np.int16 and s.labels.dtype == np.uint8 and s.tissue.dtype == np.uint8
    assert s.hu.shape == s.labels.shape == (160, 160)
    assert set(np.unique(s.labels)) <= {0, 1, 2, 3}
    assert {1, 2, 3} <= set(np.unique(s.labels))
    assert np.array_equal(s.labels, LABEL_OF[s.tissue])
    assert set(np.unique(s.tissue)) <= set(TISSUES.values())
    assert s.hu.min() >= -1024
    # canonical display: the spine (vertebral body) lies in the posterior (lower) half
    rows = np.nonzero(s.tissue == TISSUES["vertebral_body"])[0]
    body_rows = np.nonzero(s.labels > 0)[0]
    assert rows.mean() > body_rows.mean()


@pytest.mark.parametrize("pixel_mm", [(0.7, 0.9), (1.3, 0.6)])
def test_exact_areas_non_square_pixels(pixel_mm: tuple[float, float]) -> None:
    s = phantom_slice(21, size=384, pixel_mm=pixel_mm)
    assert s.spacing_mm == pixel_mm
    px_cm2 = pixel_mm[0] * pixel_mm[1] / 100.0
    hu, lab = s.hu, s.labels
    sma = np.count_nonzero((lab == 1) & (hu >= -29) & (hu <= 150)) * px_cm2
    sat = np.count_nonzero((lab == 2) & (hu >= -190) & (hu <= -30)) * px_cm2
    vat = np.count_nonzero((lab == 3) & (hu >= -150) & (hu <= -50)) * px_cm2
    a = s.areas_cm2()
    assert a["sma_cm2"] == pytest.approx(sma, rel=1e-12)
    assert a["sat_cm2"] == pytest.approx(sat, rel=1e-12)
    assert a["vat_cm2"] == pytest.approx(vat, rel=1e-12)
    assert a["muscle_label_cm2"] == pytest.approx(np.count_nonzero(lab == 1) * px_cm2, rel=1e-12)
    m = measure_slice(hu, lab, row_mm=pixel_mm[0], col_mm=pixel_mm[1])
    assert m.sma_cm2 == a["sma_cm2"]
    # the same slice through Volume keeps the anisotropic spacing
    v = s.volume()
    assert (v.spacing_mm.row, v.spacing_mm.col) == pixel_mm


def test_l3_areas_plausible() -> None:
    for seed in range(4):
        a = phantom_slice(seed, size=256, pixel_mm=1.6).areas_cm2()
        assert 60 < a["sma_cm2"] < 300, a
        assert 0 < a["muscle_hu_mean"] < 80, a


def test_truncated_fov_pads_outside_circle() -> None:
    s = phantom_slice(8, size=200, pixel_mm=2.0, truncated=True)
    r, c = np.mgrid[:200, :200]
    outside = (r - 99.5) ** 2 + (c - 99.5) ** 2 > 100.5**2
    assert np.all(s.hu[outside] == -1024) and np.all(s.labels[outside] == 0)
    # the body reaches the edge of the field of view
    assert np.any(s.tissue[~outside] != TISSUES["air"])
    edge = ((r - 99.5) ** 2 + (c - 99.5) ** 2 > 97**2) & ~outside
    assert np.any(s.labels[edge] > 0)


def test_levels_ordered_contiguous_and_l3(small_stack) -> None:
    pv = small_stack
    names = list(pv.levels)
    assert names[:7] == ["S1", "L5", "L4", "L3", "L2", "L1", "T12"]
    spans = [pv.levels[n] for n in names]
    for (lo, hi), (lo2, _) in zip(spans, spans[1:], strict=False):
        assert lo < hi < lo2  # ordered bottom-up, a disc between each pair
    for name, (lo, hi) in pv.levels.items():
        if name.startswith("L"):
            assert 25 <= hi - lo <= 30
    for lo, hi in pv.discs.values():
        assert 6 <= hi - lo <= 12
    # discs fill exactly the gaps between consecutive bodies
    for (_lo, hi), (lo2, _) in zip(spans, spans[1:], strict=False):
        assert any(abs(d[0] - hi) < 1e-9 and abs(d[1] - lo2) < 1e-9 for d in pv.discs.values())
    k = pv.l3_mid_index
    lo, hi = pv.levels["L3"]
    assert lo <= pv.l3_mid_z_mm <= hi and abs(pv.volume.z_mm[k] - pv.l3_mid_z_mm) <= 1.5 + 1e-9
    assert np.any(pv.vertebrae[k] == VERTEBRA_IDS["L3"])
    assert pv.level_at(pv.l3_mid_z_mm) == "L3"
    # every vertebra label sits in slices inside (or in the disc just below) its body
    for name, (lo, hi) in pv.levels.items():
        ks = np.nonzero((pv.vertebrae == VERTEBRA_IDS[name]).any(axis=(1, 2)))[0]
        if len(ks):
            z = pv.volume.z_mm[ks]
            assert z.min() >= lo - 12.5 and z.max() <= hi


def test_volume_canonical_and_deterministic(small_stack) -> None:
    pv = small_stack
    assert pv.volume.hu.shape == pv.labels.shape == pv.vertebrae.shape
    assert np.all(np.diff(pv.volume.z_mm) > 0)
    again = phantom_volume(5, size=96, pixel_mm=4.0, slice_mm=3.0)
    assert np.array_equal(again.volume.hu, pv.volume.hu) and np.array_equal(again.vertebrae, pv.vertebrae)
    # S1 at the bottom, T11 at the top
    assert np.any(pv.vertebrae[0] == VERTEBRA_IDS["S1"])
    assert np.any(pv.vertebrae[-1] == VERTEBRA_IDS["T11"])


def test_six_lumbar_and_missing_sacrum() -> None:
    six = phantom_volume(7, size=64, pixel_mm=6.0, lumbar_count=6, top="L1")
    assert "L6" in six.levels and "S1" in six.levels
    assert six.levels["S1"][1] < six.levels["L6"][0] < six.levels["L5"][0]
    assert np.any(six.vertebrae == VERTEBRA_IDS["L6"])
    no_sac = phantom_volume(7, size=64, pixel_mm=6.0, sacrum=False, top="L1")
    assert "S1" not in no_sac.levels
    assert not np.any(np.isin(no_sac.vertebrae, [VERTEBRA_IDS["S1"], VERTEBRA_IDS["sacrum"]]))
    assert not np.any(no_sac.tissue == TISSUES["sacrum"])
    assert min(lo for lo, _ in no_sac.levels.values()) == pytest.approx(no_sac.levels["L5"][0])
    rib = phantom_volume(7, size=64, pixel_mm=6.0, lumbar_rib=True, top="T12")
    plain = phantom_volume(7, size=64, pixel_mm=6.0, lumbar_rib=False, top="T12")
    k = rib.index_of("L1", 0.3)
    assert np.count_nonzero(rib.tissue[k] == TISSUES["rib"]) > np.count_nonzero(plain.tissue[k] == TISSUES["rib"])


def test_writers_round_trip(tmp_path, small_stack) -> None:
    pv = small_stack
    sub = pv.volume.select(slice(10, 14))
    nii = write_nifti(pv, tmp_path / "ct.nii.gz", labels_path=tmp_path / "lab.nii.gz")
    v = load(nii)
    assert np.array_equal(v.hu, pv.volume.hu) and np.allclose(v.z_mm, pv.volume.z_mm)
    lab = load(tmp_path / "lab.nii.gz")
    assert np.array_equal(np.asarray(lab.hu), pv.labels)
    write_dicom(sub, tmp_path / "dcm")
    d = load(tmp_path / "dcm")
    assert np.array_equal(d.hu, sub.hu) and np.allclose(d.z_mm, sub.z_mm)
    z = load(write_zip(sub, tmp_path / "ct.zip"))
    assert np.array_equal(z.hu, sub.hu)
    s = phantom_slice(2, size=64, pixel_mm=(5.0, 6.0))
    one = load(write_dicom(s, tmp_path / "one")[0])
    assert np.array_equal(one.hu[0], s.hu) and (one.spacing_mm.row, one.spacing_mm.col) == (5.0, 6.0)
