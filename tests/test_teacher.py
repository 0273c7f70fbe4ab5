"""Anatomical teacher and threshold baseline: held-out phantom slices, real upper-lumbar slices, QC flags."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from sarco_core.errors import NotHUError
from sarco_core.io import load
from sarco_core.metrics import gated_dice, measure_slice
from sarco_core.phantom import phantom_slice
from sarco_core.phantom.tissues import TISSUES
from sarco_core.segment import get_segmenter
from sarco_core.segment.teacher import TeacherSegmenter
from sarco_core.segment.threshold import ThresholdSegmenter
from sarco_core.volume import Volume
from tests.conftest import data_path

# Held-out seeds: never used while choosing the teacher's parameters (those used seeds 1001-1006, 2000-2005).
HELD_OUT_SEEDS = (5001, 5002, 5003, 5004)
UPPER_LUMBAR = [
    ("A027284", "19000925-116.dcm"),
    ("A027284", "19001231-131.dcm"),
    ("A058062", "19001231-084.dcm"),
    ("A058062", "19010108-078.dcm"),
    ("A062055", "19001127-136.dcm"),
    ("A062055", "19001228-131.dcm"),
]


def _sma_error_pct(hu: np.ndarray, truth: np.ndarray, pred: np.ndarray) -> float:
    g = (hu >= -29) & (hu <= 150)
    t, p = float((truth & g).sum()), float((pred & g).sum())
    return abs(p - t) / t * 100.0


@pytest.fixture(scope="module")
def held_out() -> list[tuple[float, float]]:
    seg = TeacherSegmenter()
    out = []
    for seed in HELD_OUT_SEEDS:
        ph = phantom_slice(seed, level="L3", pixel_mm=0.8)
        res = seg.segment(ph.volume(), [0])[0]
        assert res.labels.shape == ph.hu.shape and res.labels.dtype == np.uint8
        assert set(np.unique(res.labels)) <= {0, 1, 2, 3}
        assert 0.0 <= res.confidence <= 1.0
        truth = ph.labels == 1
        pred = res.labels == 1
        out.append((gated_dice(ph.hu, truth, pred), _sma_error_pct(ph.hu, truth, pred)))
    return out


def test_teacher_on_held_out_phantoms(held_out):
    dice = np.array([d for d, _ in held_out])
    err = np.array([e for _, e in held_out])
    assert np.median(dice) >= 0.96, dice  # was >= 0.95
    assert dice.min() >= 0.955, dice  # 0.965-0.977 today (0.927 before the ribs / psoas fixes); was >= 0.94
    assert np.median(err) <= 10.0, err


def _phantom_scores(seeds, levels, pixel_mm, contacts="default"):
    out = []
    for seed in seeds:
        for level in levels:
            ph = phantom_slice(seed, level=level, pixel_mm=pixel_mm, contacts=contacts)
            res = TeacherSegmenter().segment(ph.volume(), [0])[0]
            g = (ph.hu >= -29) & (ph.hu <= 150)
            t, p = float(((ph.labels == 1) & g).sum()), float(((res.labels == 1) & g).sum())
            out.append((gated_dice(ph.hu, ph.labels == 1, res.labels == 1), (p - t) / t * 100.0))
    return np.array(out)


def test_teacher_on_held_out_upper_lumbar_phantoms():
    """L1/L2 (held-out seeds): 0.934-0.962, median 0.960 today (median 0.936 before the psoas / ribs / wall
    fixes)."""
    s = _phantom_scores((5100, 5101), ("L1", "L2"), 0.7)
    assert np.median(s[:, 0]) >= 0.95, s  # was >= 0.945
    assert s[:, 0].min() >= 0.93, s


def test_teacher_on_hard_contact_phantoms():
    """Bowel, liver and crura against the muscle with no fat plane (held-out seeds 7000+; tuned on 6000+):
    the teacher over-calls; today median Dice 0.935, signed SMA error +4.7 % (0.929 / +5.6 % with the teacher
    of a4b5dbf, 0.905 / +9.7 % before that)."""
    s = _phantom_scores((7000, 7001, 7002, 7003), ("L2", "L3"), 0.8, contacts="hard")
    assert np.median(s[:, 0]) >= 0.925, s  # was >= 0.915
    assert np.median(s[:, 1]) <= 7.0, s  # was <= +8 %


def _noise(hu: np.ndarray) -> np.ndarray:
    return hu - ndi.gaussian_filter(hu, 2.0)


@pytest.mark.parametrize("seed", [5001, 5003])
def test_teacher_thick_back_skin_is_not_muscle(seed):
    """A 6 mm thick dermis on the back (soft tissue, muscle HU) over a thick posterior SAT must stay skin / SAT:
    it neither becomes muscle nor bridges the muscle ring over the SAT (the teacher before this rule labelled
    ~23 cm² of it muscle and ~35 % of the SAT VAT on these seeds; today < 0.5 cm² and none)."""
    ph = phantom_slice(seed, level="L3", pixel_mm=0.8)
    hu = ph.hu.astype(np.float32).copy()
    trunk = ndi.binary_fill_holes(ph.labels > 0)
    depth = ndi.distance_transform_edt(trunk) * 0.8
    sat = ph.labels == 2
    back = np.indices(hu.shape)[0] > ndi.center_of_mass(trunk)[0]
    deep_sat = ndi.binary_dilation(sat & (depth > 6.0) & (depth <= 12.0), iterations=8)
    band = trunk & (depth <= 6.0) & back & sat & deep_sat
    assert band.sum() * 0.0064 > 20.0
    hu[band] = 35.0 + _noise(hu)[band]
    lab = TeacherSegmenter().segment(Volume.from_array(hu=hu[None], spacing_mm=(3.0, 0.8, 0.8)), [0])[0].labels
    assert ((lab == 1) & band).sum() * 0.0064 < 2.0
    assert (lab == 2).sum() / sat.sum() > 0.95
    g = (hu >= -29) & (hu <= 150)
    t, p = float(((ph.labels == 1) & g).sum()), float(((lab == 1) & g).sum())
    assert abs(p - t) / t < 0.08


def test_teacher_does_not_follow_enhanced_kidney_rim():
    """With IV contrast and a scanner-like blur (sigma 0.8 mm) the partial-volume rim of the enhanced kidneys
    lying on the psoas / quadratus lumborum is muscle-range HU; the growths must not run along it (kidney zone
    labelled muscle, 6 hard-contact slices: 9.6 cm² in all before the rule, 7.6 today)."""
    total = 0.0
    for seed in (5001, 5002, 5003):
        for level in ("L1", "L2"):
            ph = phantom_slice(seed, level=level, pixel_mm=0.8, contrast=True, contacts="hard")
            hu = ndi.gaussian_filter(ph.hu.astype(np.float32), 1.0)
            lab = TeacherSegmenter().segment(Volume.from_array(hu=hu[None], spacing_mm=(3.0, 0.8, 0.8)), [0])[0]
            kidney = np.isin(ph.tissue, [TISSUES[k] for k in ("kidney", "renal_pelvis", "renal_sinus_fat")])
            zone = ndi.binary_dilation(kidney, iterations=3) & (ph.labels != 1) & (hu >= -29) & (hu <= 150)
            total += float(((lab.labels == 1) & zone).sum()) * 0.0064
    assert total < 8.5, total


def test_teacher_keeps_fatty_wall_muscle():
    """A 40-degree sector of the lateral wall made fatty (mean 10 HU, as in the elderly) is muscle, not bowel
    content: a dark piece that reaches the fascia is wall muscle (recall 0.70 before the rule, 0.998 today)."""
    ph = phantom_slice(5002, level="L3", pixel_mm=0.8)
    hu = ph.hu.astype(np.float32).copy()
    m = ph.labels == 1
    cy, cx = ndi.center_of_mass(ndi.binary_fill_holes(ph.hu > -500))
    rr, cc = np.indices(hu.shape)
    sector = m & (np.abs(np.degrees(np.arctan2(rr - cy, cc - cx))) <= 20.0) & (cc > cx)
    hu[sector] = 10.0 + _noise(hu)[sector]
    lab = TeacherSegmenter().segment(Volume.from_array(hu=hu[None], spacing_mm=(3.0, 0.8, 0.8)), [0])[0].labels
    g = (hu >= -29) & (hu <= 150)
    assert ((lab == 1) & sector & g).sum() / (sector & g).sum() > 0.95


def test_teacher_labels_sat_and_vat_on_phantom():
    ph = phantom_slice(HELD_OUT_SEEDS[0], level="L3", pixel_mm=0.8)
    lab = TeacherSegmenter().segment(ph.volume(), [0])[0].labels
    m_true = measure_slice(ph.hu, ph.labels, row_mm=0.8, col_mm=0.8)
    m_pred = measure_slice(ph.hu, lab, row_mm=0.8, col_mm=0.8)
    assert m_true.sat_cm2 and m_pred.sat_cm2 and m_true.vat_cm2 and m_pred.vat_cm2
    assert abs(m_pred.sat_cm2 - m_true.sat_cm2) / m_true.sat_cm2 < 0.15
    assert abs(m_pred.vat_cm2 - m_true.vat_cm2) / m_true.vat_cm2 < 0.30


def test_teacher_works_at_coarse_pixels():
    """3 mm pixels (like the silver standard): the teacher resamples in and out itself."""
    ph = phantom_slice(HELD_OUT_SEEDS[1], level="L1", pixel_mm=3.0, size=160)
    res = TeacherSegmenter().segment(ph.volume(), [0])[0]
    assert res.labels.shape == (160, 160)
    assert gated_dice(ph.hu, ph.labels == 1, res.labels == 1) >= 0.85


def test_teacher_qc_flags():
    seg = TeacherSegmenter()
    trunc = phantom_slice(5201, truncated=True)
    res = seg.segment(trunc.volume(), [0])[0]
    assert "body_truncated" in res.qc_flags
    plain = phantom_slice(5201, arms=False, truncated=False)
    assert "arms_in_field" not in seg.segment(plain.volume(), [0])[0].qc_flags
    # an arm beside the trunk: a 30 x 45 mm ellipse of muscle HU, separated from the body by air
    hu = np.pad(np.array(plain.hu, copy=True), ((0, 0), (96, 96)), constant_values=-1000)
    cols = np.nonzero((hu > -500).any(axis=0))[0]
    rows = np.nonzero(hu[:, cols[0]] > -500)[0]
    rr, cc = np.indices(hu.shape)
    cy, cx = rows.mean(), cols[0] - 40
    hu[(((rr - cy) / 28.0) ** 2 + ((cc - cx) / 19.0) ** 2) <= 1.0] = 45
    with_arm = Volume.from_array(hu=hu[None], spacing_mm=(3.0, *plain.spacing_mm))
    res = seg.segment(with_arm, [0])[0]
    assert "arms_in_field" in res.qc_flags
    assert not (res.labels[(((rr - cy) / 28.0) ** 2 + ((cc - cx) / 19.0) ** 2) <= 1.0]).any()
    empty = Volume.from_array(hu=np.full((1, 64, 64), -1000, np.int16), spacing_mm=(3.0, 1.0, 1.0))
    res = seg.segment(empty, [0])[0]
    assert not res.labels.any()
    assert res.confidence < 0.5 and "low_confidence" in res.qc_flags and "implausible_area" in res.qc_flags


def test_segmenters_refuse_non_hu_and_bad_index():
    vol = Volume.from_array(hu=np.zeros((1, 32, 32)), spacing_mm=(1.0, 1.0, 1.0), is_hu=False)
    for seg in (TeacherSegmenter(), ThresholdSegmenter()):
        with pytest.raises(NotHUError):
            seg.segment(vol, [0])
    ok = Volume.from_array(hu=np.zeros((1, 32, 32)), spacing_mm=(1.0, 1.0, 1.0))
    with pytest.raises(IndexError):
        TeacherSegmenter().segment(ok, [3])


def test_get_segmenter_names():
    assert get_segmenter("teacher").method == "teacher"
    assert get_segmenter("threshold").method == "threshold"


def test_threshold_baseline_rule():
    """HU -29..150 inside the largest > -500 HU component (holes filled); nothing outside the body."""
    hu = np.full((1, 40, 40), -1000, np.int16)
    hu[0, 5:35, 5:35] = 40  # body of muscle HU
    hu[0, 15:25, 15:25] = -1000  # an enclosed air hole: filled into the body, but not muscle HU
    hu[0, 1:3, 1:3] = 40  # a separate speck outside the body
    lab = ThresholdSegmenter().segment(Volume.from_array(hu=hu, spacing_mm=(1, 1, 1)), [0])[0].labels
    assert lab[10, 10] == 1 and lab[20, 20] == 0 and lab[2, 2] == 0
    assert int(lab.sum()) == 30 * 30 - 10 * 10


@pytest.mark.parametrize("patient,name", UPPER_LUMBAR)
def test_teacher_plausible_on_real_upper_lumbar(patient, name):
    vol = load(data_path("tcia_covid19_ny_sbu", patient, "axial", name))
    res = TeacherSegmenter().segment(vol, [0])[0]
    sp = vol.spacing_mm
    m = measure_slice(np.asarray(vol.hu[0]), res.labels, row_mm=sp.row, col_mm=sp.col, kind="labels")
    assert 60.0 <= m.sma_cm2 <= 250.0, m
    assert m.muscle_hu_mean is not None and 0.0 <= m.muscle_hu_mean <= 70.0, m
    assert m.sat_cm2 and m.sat_cm2 > 20.0


@pytest.mark.parametrize("kind", ["all_fat", "tiny", "air"])
def test_teacher_degenerate_slices_do_not_crash(kind):
    yy, xx = np.indices((128, 128))
    disk = ((yy - 64) ** 2 + (xx - 64) ** 2) < 50**2
    hu = {
        "all_fat": np.where(disk, -100, -1000),
        "tiny": np.full((128, 128), -1000) + 1040 * (((yy - 64) ** 2 + (xx - 64) ** 2) < 5**2),
        "air": np.full((128, 128), -1000),
    }[kind].astype(np.int16)
    res = TeacherSegmenter().segment(Volume.from_array(hu=hu[None], spacing_mm=(3.0, 1.0, 1.0)), [0])[0]
    assert not (res.labels == 1).any()
    assert res.confidence == 0.0 and "low_confidence" in res.qc_flags


def test_teacher_anisotropic_pixels():
    ph = phantom_slice(HELD_OUT_SEEDS[2], level="L3", pixel_mm=(0.7, 0.9))
    res = TeacherSegmenter().segment(ph.volume(), [0])[0]
    assert res.labels.shape == ph.hu.shape
    assert gated_dice(ph.hu, ph.labels == 1, res.labels == 1) >= 0.90
