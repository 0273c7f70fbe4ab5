"""Anatomy rules after the network (sarco_core.segment.anatomy_rules), the no_sat_plane / islands_removed flags, the
phantom variants of issue 15, and the split of acquisition notes from mask flags.

Each rule has a phantom test and a real-slice test (the reviewed real slices of validation/reviewed, read from the
shared data: skipped with a reason where absent, a failure under CI=true)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from sarco_core.phantom import TISSUES
from sarco_core.phantom.variants import VARIANTS, variant_slice
from sarco_core.segment.anatomy_rules import (
    ISLANDS_CONFIDENCE_FACTOR,
    NO_SAT_CONFIDENCE_FACTOR,
    SKIN_MM,
    RulesResult,
    apply_anatomy_rules,
)
from sarco_core.segment.model.qc import body_mask
from tests.conftest import data_path

PX = 1.0
SIZE = 384


def _rules(hu: np.ndarray, labels: np.ndarray, row_mm: float, col_mm: float) -> RulesResult:
    body, _ = body_mask(np.asarray(hu, np.float32), float(np.sqrt(row_mm * col_mm)))
    return apply_anatomy_rules(hu, labels, row_mm=row_mm, col_mm=col_mm, body=body, fov_out=hu < -1050)


def _depth_mm(hu: np.ndarray, px: float) -> np.ndarray:
    body, _ = body_mask(np.asarray(hu, np.float32), px)
    return np.asarray(ndi.distance_transform_edt(np.pad(body, 1), sampling=px))[1:-1, 1:-1]


def _disc(shape: tuple[int, int], centre: tuple[float, float], radius_px: float) -> np.ndarray:
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    return np.asarray((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius_px**2)


@pytest.fixture(scope="module")
def phantoms() -> dict[str, list]:
    return {v: [variant_slice(s, v, size=SIZE, pixel_mm=PX) for s in (0, 1, 2)] for v in VARIANTS}


# ------------------------------------------------------------------------------------------------ phantom variants
def test_variants_are_seeded_and_follow_the_convention(phantoms: dict[str, list]) -> None:
    a, b = (
        variant_slice(4, "bowel_flank", size=SIZE, pixel_mm=PX),
        variant_slice(4, "bowel_flank", size=SIZE, pixel_mm=PX),
    )
    assert np.array_equal(a.hu, b.hu) and np.array_equal(a.labels, b.labels)
    from sarco_core.phantom import phantom_slice

    plain = phantom_slice(4, size=SIZE, pixel_mm=PX)
    assert np.array_equal(variant_slice(4, "none", size=SIZE, pixel_mm=PX).hu, plain.hu)
    for v in ("anasarca", "bowel_flank", "ascites"):  # same patient, one change
        assert not np.array_equal(variant_slice(4, v, size=SIZE, pixel_mm=PX).hu, plain.hu), v
    for s in phantoms["anasarca"]:
        sat = s.tissue == TISSUES["sat"]
        assert -5.0 <= float(np.median(s.hu[sat])) <= 25.0  # oedematous SAT at 0..20 HU (plus noise)
    for s in phantoms["cachexia"]:
        assert max(s.params.sat_mm) < 3.0
    for v in ("bowel_flank", "ascites"):  # bowel and fluid are never muscle
        for s in phantoms[v]:
            assert (s.tissue == TISSUES["bowel_content"]).any()
            assert not (s.labels[np.isin(s.tissue, [TISSUES["bowel_wall"], TISSUES["bowel_content"]])] == 1).any()
    with pytest.raises(ValueError, match="variant must be one of"):
        variant_slice(0, "oedema")


def test_rules_leave_true_labels_alone(phantoms: dict[str, list]) -> None:
    for v, slices in phantoms.items():
        for s in slices:
            r = _rules(s.hu, s.labels, *s.spacing_mm)
            true_cm2 = float((s.labels == 1).sum()) * PX * PX / 100.0
            lost = r.skin_removed_cm2 + r.bone_removed_cm2 + r.islands_removed_cm2
            assert lost < 0.01 * true_cm2, (v, s.seed, r.extras())
            assert "islands_removed" not in r.flags


# ------------------------------------------------------------------------------------------------ rule (a): skin
def test_skin_rule_on_phantom_without_sat(phantoms: dict[str, list]) -> None:
    """Cachexia: the whole outer rim labelled muscle (the failure seen on real CT) -> the mask's outer boundary
    is the skin's inner edge, SKIN_MM deep."""
    for s in phantoms["cachexia"]:
        depth = _depth_mm(s.hu, PX)
        lab = s.labels.copy()
        lab[(depth > 0) & (depth < SKIN_MM + 1.5)] = 1  # skin and the thin fat labelled muscle all round
        r = _rules(s.hu, lab, PX, PX)
        assert not ((r.labels == 1) & (depth > 0) & (depth < SKIN_MM)).any()
        assert ((r.labels == 1) & (depth >= SKIN_MM) & (depth < SKIN_MM + 1.0)).mean() > 0  # kept just inside
        rim_cm2 = float(((depth > 0) & (depth < SKIN_MM)).sum()) * PX * PX / 100.0
        assert r.skin_removed_cm2 == pytest.approx(rim_cm2, rel=0.02)
        assert r.skin_removed_cm2 > 8.0  # ~2 mm × the perimeter: the +15-20 cm² of dermis seen on real CT


# ------------------------------------------------------------------------------------------------ rule (c): bone
def test_bone_rule_on_phantom(phantoms: dict[str, list]) -> None:
    for s in phantoms["none"]:
        inside = np.isin(s.tissue, [TISSUES["vertebral_body"], TISSUES["spinal_canal"]])
        lab = s.labels.copy()
        lab[inside] = 1
        r = _rules(s.hu, lab, PX, PX)
        assert not (r.labels[inside] == 1).any()
        assert r.bone_removed_cm2 >= 0.95 * float(inside.sum()) * PX * PX / 100.0


# ------------------------------------------------------------------------------------------------ rule (b): islands
def _organ_centres(s) -> list[tuple[float, float]]:  # noqa: ANN001
    out = []
    for name in ("aorta", "ivc", "kidney", "bowel_content"):
        m = s.tissue == TISSUES[name]
        if m.sum() > 50:
            lab, n = ndi.label(m)
            big = int(np.argmax(np.bincount(lab.ravel())[1:])) + 1
            out.append(ndi.center_of_mass(lab == big))
    return out


def test_island_rule_on_phantom(phantoms: dict[str, list]) -> None:
    for s in phantoms["none"]:
        lab = s.labels.copy()
        added = np.zeros(lab.shape, bool)
        for c in _organ_centres(s):  # muscle-labelled pieces on aorta, IVC, kidney, bowel (the islands seen)
            d = _disc(lab.shape, c, 5.0 / PX) & (s.labels != 1)
            added |= d
        lab[added] = 1
        r = _rules(s.hu, lab, PX, PX)
        added_cm2 = float(added.sum()) * PX * PX / 100.0
        assert added_cm2 > 2.0
        assert not (r.labels[added] == 1).any()
        assert r.islands_removed_cm2 == pytest.approx(added_cm2, rel=0.05)
        assert "islands_removed" in r.flags and r.confidence_factor == pytest.approx(ISLANDS_CONFIDENCE_FACTOR)
        assert ((r.labels == 1) & (s.labels == 1)).sum() >= 0.99 * (s.labels == 1).sum()


# ------------------------------------------------------------------------------------------------ no_sat_plane flag
def test_no_sat_plane_on_phantom_variants(phantoms: dict[str, list]) -> None:
    for v in ("anasarca", "cachexia"):
        for s in phantoms[v]:
            r = _rules(s.hu, s.labels, PX, PX)
            assert "no_sat_plane" in r.flags, (v, s.seed, r.sat_thin_fraction)
            assert r.confidence_factor == pytest.approx(NO_SAT_CONFIDENCE_FACTOR)
    for s in phantoms["none"] + phantoms["bowel_flank"]:
        assert "no_sat_plane" not in _rules(s.hu, s.labels, PX, PX).flags, s.seed


def test_empty_body_is_harmless() -> None:
    hu = np.full((64, 64), -1000.0, np.float32)
    r = apply_anatomy_rules(hu, np.zeros((64, 64), np.uint8), row_mm=1.0, col_mm=1.0, body=np.zeros((64, 64), bool))
    assert r.flags == () and r.sat_thin_fraction is None and not r.labels.any()


# ------------------------------------------------------------------------------------------------ real slices
REAL = ("covid_A058062_19001231-084", "lungdx_A0001_k0")


@pytest.mark.parametrize("name", REAL)
def test_rules_on_real_slices(name: str) -> None:
    """On a reviewed real slice: the reference mask loses (almost) nothing; skin rim, vertebral body / canal and
    an island on the aorta / in the cavity added to it are removed, each by its rule."""
    from sarco_core.io import load
    from validation.reviewed import SLICES, load_reviewed

    data_path(*SLICES[name][0].split("/"))
    path, k, ref = load_reviewed(name)
    vol = load(path)
    hu = np.asarray(vol.hu[k], np.float32)
    sp = vol.spacing_mm
    px = float(np.sqrt(sp.row * sp.col))
    px_cm2 = sp.row * sp.col / 100.0
    r0 = _rules(hu, ref.astype(np.uint8), sp.row, sp.col)
    assert r0.skin_removed_cm2 + r0.bone_removed_cm2 + r0.islands_removed_cm2 < 1.0, r0.extras()
    assert r0.flags == ()
    depth = _depth_mm(hu, px)
    skin = (depth > 0) & (depth < SKIN_MM)
    # (c): the vertebral body (cancellous bone enclosed by cortex, the largest >150 HU piece near the midline)
    from sarco_core.segment.teacher import anatomy as anat

    body, _ = body_mask(hu, px)
    hs = ndi.median_filter(hu, 3)
    vert = anat.find_vertebra(anat.bone_mask(hs, body, px), body, px, hs)
    assert vert is not None
    marrow = ndi.binary_erosion(vert.body, iterations=max(1, round(3.0 / px))) & (hs > anat.CANCELLOUS_HU)
    assert marrow.sum() * px_cm2 > 2.0
    # (b): an island 9 mm in radius 30 mm in front of the vertebral body (aorta / crus / bowel: the cavity)
    cy = float(np.nonzero(vert.body.any(axis=1))[0][0]) - 30.0 / sp.row
    island = _disc(hu.shape, (cy, vert.centre_rc[1]), 9.0 / px) & ~ref
    lab = ref.astype(np.uint8)
    lab[skin | marrow | island] = 1
    r = _rules(hu, lab, sp.row, sp.col)
    assert not (r.labels[skin] == 1).any()
    assert not (r.labels[marrow] == 1).any()
    assert not (r.labels[island] == 1).any()
    assert r.islands_removed_cm2 == pytest.approx(float(island.sum()) * px_cm2 + r0.islands_removed_cm2, abs=0.5)
    assert "islands_removed" in r.flags
    kept = ((r.labels == 1) & ref).sum()
    assert kept >= ref.sum() - 1.0 / px_cm2  # the reference loses < 1 cm²


# ------------------------------------------------------------------------------------------------ wiring
def test_model_and_teacher_apply_the_rules() -> None:
    from sarco_core.segment.teacher import TeacherSegmenter

    s = variant_slice(1, "cachexia", size=SIZE, pixel_mm=PX)
    res = TeacherSegmenter().segment(s.volume(), [0])[0]
    assert "anatomy_rules" in res.extra and "no_sat_plane" in res.qc_flags
    assert res.extra["anatomy_rules"]["sat_thin_perimeter_fraction"] > 0.4
    depth = _depth_mm(s.hu, PX)
    assert not ((res.labels == 1) & (depth > 0) & (depth < SKIN_MM)).any()


def test_model_segmenter_reports_rules(tmp_path) -> None:  # noqa: ANN001
    from sarco_core.segment.model import Segmenter
    from tests.test_model_segmenter import make_model_dir

    seg = Segmenter.from_dir(make_model_dir(tmp_path / "m"), backend="torch", device="cpu", tta=False)
    s = variant_slice(2, "anasarca", size=SIZE, pixel_mm=PX)
    res = seg.segment(s.volume(), [0])[0]
    ext = res.extra["anatomy_rules"]
    assert set(ext) >= {"skin_removed_cm2", "bone_removed_cm2", "islands_removed_cm2", "sat_thin_perimeter_fraction"}
    assert "no_sat_plane" in res.qc_flags
    depth = _depth_mm(s.hu, PX)  # the model's own outline comes from its 2 mm grid: ±1 mm
    assert not ((res.labels == 1) & (depth > 0) & (depth < SKIN_MM - 1.0)).any()


def test_flag_words_and_acquisition_notes() -> None:
    import pandas as pd

    from sarco_core.flags import FLAG_TEXTS, acquisition_notes, case_warnings, split_flags
    from ui.dashboard import review_queue
    from ui.text import qc_words

    assert qc_words("no_sat_plane").startswith("Little or no fat under the skin")
    assert "Check the outer muscle boundary." in qc_words("no_sat_plane")
    assert {"no_sat_plane", "islands_removed"} <= set(FLAG_TEXTS)
    assert split_flags(["kvp_not_120", "no_sat_plane", "contrast_phase_unknown"]) == (
        ["no_sat_plane"],
        ["kvp_not_120", "contrast_phase_unknown"],
    )
    assert case_warnings(["kvp_not_120"], [], edited=False) == []  # a note is not a warning
    assert acquisition_notes(["kvp_not_120", "no_sat_plane"])[0].startswith("The tube voltage is not 120 kVp")
    df = pd.DataFrame(
        {
            "case_id": [1, 2, 3],
            "edited": [False] * 3,
            "confidence": [0.9, 0.8, 0.95],
            "qc_flags": ["kvp_not_120; contrast_phase_unknown", "no_sat_plane", ""],
        }
    )
    q = review_queue(df)
    assert list(q["case_id"]) == [2]  # acquisition notes alone do not put a case in the queue
