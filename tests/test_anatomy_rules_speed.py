"""The faster anatomy-rules path (issue 15, speed) gives the labels of the straightforward one.

The rules and the morphology helpers work on bounding boxes, dilate each muscle piece / rib once, take the
3-pixel median by a sorting network and centroids from pixel coordinates. Each helper is compared with the scipy
call it replaces, and the whole of :func:`apply_anatomy_rules` (and the model's body outline) with the old path
rebuilt from those references (whole-image distance transforms, ``binary_fill_holes``, ``median_filter``,
``center_of_mass`` and the old island loop), on seeded phantom slices (L3, L1, T12 with ribs; anisotropic pixels)
with islands, skin and bone added to the labels, and on a reviewed real slice. The full identity check on every
phantom validation slice and every real slice is in docs/model.md (issue 15, speed)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import ndimage as ndi

import sarco_core.body as body_mod
import sarco_core.segment.anatomy_rules as ar
import sarco_core.segment.teacher.anatomy as anat
from sarco_core.phantom import TISSUES, phantom_slice
from sarco_core.segment.model.qc import body_mask
from tests.conftest import data_path


# ------------------------------------------------------------------------------------------------ the old path
def _old_within(mask: np.ndarray, mm: float, row_mm: float, col_mm: float) -> np.ndarray:
    if not mask.any():
        return np.zeros(mask.shape, bool)
    return np.asarray(ndi.distance_transform_edt(~mask, sampling=(row_mm, col_mm)) <= mm)


def _old_dilate(mask: np.ndarray, radius_px: float) -> np.ndarray:
    return np.asarray(ndi.distance_transform_edt(~mask) <= radius_px)


def _old_erode(mask: np.ndarray, radius_px: float) -> np.ndarray:
    return np.asarray(ndi.distance_transform_edt(np.pad(mask, 1)) > radius_px)[1:-1, 1:-1]


def _old_fill(mask: np.ndarray) -> np.ndarray:
    return np.asarray(ndi.binary_fill_holes(mask))


def _old_centroid(mask: np.ndarray, offset_rc: tuple[int, int] = (0, 0)) -> tuple[float, float]:
    cy, cx = ndi.center_of_mass(np.pad(mask, ((offset_rc[0], 0), (offset_rc[1], 0))))  # at its place in the image
    return float(cy), float(cx)


def _old_enclosed(bone: np.ndarray, row_mm: float, col_mm: float) -> np.ndarray:
    hits = np.zeros(bone.shape, np.uint8)
    for dr, dc in ((0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)):
        n = int(ar.ENCLOSED_REACH_MM / float(np.hypot(dr * row_mm, dc * col_mm)))
        seen = bone.copy()
        span = 1
        while span <= n:
            step = min(span, n + 1 - span)
            seen = seen | ar._shift(seen, dr * step, dc * step)
            span += step
        hits += seen
    return np.asarray((hits >= ar.ENCLOSED_MIN_DIRECTIONS) & ~bone)


def _old_cancellous(spongy_lab: np.ndarray, comp: np.ndarray, cy: float, cx: float, px_mm: float) -> np.ndarray:
    ids = np.unique(spongy_lab[comp])
    return np.asarray(
        np.isin(spongy_lab, ids[ids > 0])
        & (
            np.hypot(*np.subtract(np.indices(comp.shape), np.array([cy, cx])[:, None, None])) * px_mm
            <= anat.CANCELLOUS_REACH_MM
        )
    )


def _old_islands(
    muscle: np.ndarray,
    lab: np.ndarray,
    skin: np.ndarray,
    bone: np.ndarray,
    vert: anat.Vertebra,
    near_vert: np.ndarray,
    row_mm: float,
    col_mm: float,
) -> np.ndarray:
    """Rule (b) as it was: every zone recomputed from the whole kept set in each round."""
    near = lambda m, mm: _old_within(m, mm, row_mm, col_mm)  # noqa: E731
    comp, n = ndi.label(muscle, structure=np.ones((3, 3), bool))
    if n <= 1:
        return np.zeros(muscle.shape, bool)
    hull = ar.convex_hull(muscle)
    outer = near((lab == 2) | skin | ~hull, ar.TOUCH_MM)
    rr = np.arange(muscle.shape[0])[:, None]
    behind = np.broadcast_to(rr >= vert.centre_rc[0], muscle.shape)
    spine = near(vert.mask, ar.PARAVERTEBRAL_MM) & behind
    ids = np.arange(1, n + 1)
    named = np.zeros(n + 1, bool)
    named[np.unique(comp[(outer | spine) & muscle])] = True
    named[0] = False
    blab, nb = ndi.label(bone & ~vert.mask, structure=np.ones((3, 3), bool))
    for _ in range(4):
        kept = np.isin(comp, ids[named[1:]])
        if nb:
            near_kept = near(kept, ar.GAP_MM)
            ribs = np.unique(blab[near_kept & (blab > 0)])
            kept = kept | np.isin(blab, ribs[ribs > 0])
        zone = near(kept, ar.GAP_MM)
        grown = named.copy()
        grown[np.unique(comp[zone & muscle])] = True
        grown[0] = False
        if (grown == named).all():
            break
        named = grown
    if named[1:].all():
        return np.zeros(muscle.shape, bool)
    kept = np.isin(comp, ids[named[1:]])
    cavity = ar.convex_hull(kept | vert.mask) if kept.any() else ar.convex_hull(vert.mask)
    cand = ids[~named[1:]]
    cents = ndi.center_of_mass(muscle, comp, cand)
    drop = [
        int(i)
        for i, (cy, cx) in zip(cand, cents, strict=True)
        if cavity[min(int(round(cy)), cavity.shape[0] - 1), min(int(round(cx)), cavity.shape[1] - 1)]
    ]
    return np.isin(comp, drop) if drop else np.zeros(muscle.shape, bool)


@pytest.fixture
def old_path(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to make the rules and the model's body outline run the old (whole-image) path for the rest of the
    test."""

    def use() -> None:
        monkeypatch.setattr(body_mod, "dilate", _old_dilate)  # opening / closing look these up in sarco_core.body
        monkeypatch.setattr(body_mod, "erode", _old_erode)
        monkeypatch.setattr(ar, "erode", _old_erode)
        monkeypatch.setattr(ar, "within_mm", _old_within)
        monkeypatch.setattr(ar, "fill_holes", _old_fill)
        monkeypatch.setattr(ar, "median3", lambda h: ndi.median_filter(h, size=3))
        monkeypatch.setattr(ar, "_gaussian_above", lambda h, s, lv, w: (ndi.gaussian_filter(h, s) > lv) & w)
        monkeypatch.setattr(ar, "enclosed_by_bone", _old_enclosed)
        monkeypatch.setattr(ar, "_islands", _old_islands)
        monkeypatch.setattr(anat, "erode", _old_erode)
        monkeypatch.setattr(anat, "dilate", _old_dilate)
        monkeypatch.setattr(anat, "fill_holes", _old_fill)
        monkeypatch.setattr(anat, "centroid_rc", _old_centroid)
        monkeypatch.setattr(anat, "_cancellous_near", _old_cancellous)
        import sarco_core.segment.model.arms as arms

        monkeypatch.setattr(arms, "dilate", _old_dilate)

    return use


# ------------------------------------------------------------------------------------------------ helpers
def _masks(rng: np.random.Generator, shape: tuple[int, int]) -> list[np.ndarray]:
    blobs = ndi.gaussian_filter(rng.random(shape), 3.0)
    out = [blobs > np.quantile(blobs, q) for q in (0.5, 0.9, 0.99)]
    corner = np.zeros(shape, bool)
    corner[:5, -7:] = True  # against the image border
    one = np.zeros(shape, bool)
    one[shape[0] // 2, 3] = True
    return [*out, corner, one, np.zeros(shape, bool), np.ones(shape, bool)]


def test_morphology_helpers_match_the_whole_image_calls() -> None:
    rng = np.random.default_rng(15)
    for shape in ((60, 80), (41, 23)):
        for m in _masks(rng, shape):
            for r in (0.0, 1.0, 2.5, 4.2, 9.0):
                if m.any():  # an empty mask's old dilation is the distance to nowhere: kept as it was
                    assert np.array_equal(body_mod.dilate(m, r), _old_dilate(m, r)), (shape, r)
                assert np.array_equal(body_mod.erode(m, r), _old_erode(m, r)), (shape, r)
            for mm, row_mm, col_mm in ((1.5, 0.7, 0.7), (5.0, 0.7, 0.9), (10.0, 0.93, 0.62), (3.0, 1.0, 1.0)):
                assert np.array_equal(body_mod.within_mm(m, mm, row_mm, col_mm), _old_within(m, mm, row_mm, col_mm))
            assert np.array_equal(body_mod.fill_holes(m), _old_fill(m))
            if m.any():
                assert body_mod.centroid_rc(m) == _old_centroid(m)
                box = body_mod.bounding_box(m)
                assert box is not None
                assert body_mod.centroid_rc(m[box], (box[0].start, box[1].start)) == _old_centroid(m)
        bone = _masks(rng, shape)[1]
        assert np.array_equal(ar.enclosed_by_bone(bone, 0.7, 0.8), _old_enclosed(bone, 0.7, 0.8))


def test_median3_matches_median_filter() -> None:
    rng = np.random.default_rng(3)
    for shape in ((2, 2), (3, 7), (50, 40)):
        for dtype in (np.float32, np.float64, np.int16):
            x = (rng.normal(size=shape) * 200).astype(dtype)
            x[rng.random(shape) < 0.3] = 7  # ties
            assert np.array_equal(body_mod.median3(x), ndi.median_filter(x, size=3)), (shape, dtype)
    x = rng.normal(size=(20, 20)).astype(np.float32)
    x[3, 4] = np.nan  # non-finite input goes to scipy
    assert np.array_equal(body_mod.median3(x), ndi.median_filter(x, size=3), equal_nan=True)


# ------------------------------------------------------------------------------------------------ the rules
def _with_errors(s, rng: np.random.Generator) -> np.ndarray:  # noqa: ANN001
    """The exact labels plus what the rules remove: islands on organs and beside the ribs, the skin rim, bone."""
    lab = s.labels.copy()
    for name in ("aorta", "ivc", "kidney", "bowel_content", "liver"):
        m = s.tissue == TISSUES[name]
        if m.sum() > 50:
            pts = np.argwhere(m)
            for cy, cx in pts[rng.choice(len(pts), 2, replace=False)]:
                yy, xx = np.ogrid[: lab.shape[0], : lab.shape[1]]
                lab[((yy - cy) ** 2 + (xx - cx) ** 2 <= rng.uniform(3, 8) ** 2) & (lab != 1)] = 1
    bone = s.hu > 250
    lab[ndi.binary_dilation(bone, iterations=2) & ~bone & (rng.random(lab.shape) < 0.3)] = 1  # specks by bone
    body, _ = body_mask(np.asarray(s.hu, np.float32), float(np.sqrt(np.prod(s.spacing_mm))))
    lab[body & ~ndi.binary_erosion(body, iterations=2)] = 1  # the skin rim
    return np.asarray(lab)


def _same(a: ar.RulesResult, b: ar.RulesResult) -> None:
    assert np.array_equal(a.labels, b.labels)
    assert a.extras() == b.extras() and a.flags == b.flags
    assert (a.skin_removed_cm2, a.bone_removed_cm2, a.islands_removed_cm2, a.sat_thin_fraction) == (
        b.skin_removed_cm2,
        b.bone_removed_cm2,
        b.islands_removed_cm2,
        b.sat_thin_fraction,
    )


def _run(hu: np.ndarray, lab: np.ndarray, row_mm: float, col_mm: float) -> tuple[ar.RulesResult, np.ndarray]:
    h = np.asarray(hu, np.float32)
    body, _ = body_mask(h, float(np.sqrt(row_mm * col_mm)))
    r = ar.apply_anatomy_rules(h, lab, row_mm=row_mm, col_mm=col_mm, body=body, fov_out=h < -1050)
    return r, body


CASES = (("L3", 0.7, 0.7), ("L1", 0.8, 0.7), ("T12", 0.75, 0.75), ("L3", 0.9, 0.6))


@pytest.mark.parametrize(("level", "row_mm", "col_mm"), CASES)
def test_rules_match_the_old_path_on_phantoms(
    old_path: Callable[[], None], level: str, row_mm: float, col_mm: float
) -> None:
    rng = np.random.default_rng([15, CASES.index((level, row_mm, col_mm))])
    s = phantom_slice(900_000 + CASES.index((level, row_mm, col_mm)), level=level, size=384, pixel_mm=(row_mm, col_mm))
    lab = _with_errors(s, rng)
    new, body_new = _run(s.hu, lab, row_mm, col_mm)
    assert new.skin_removed_cm2 > 0 and new.islands_applied
    old_path()
    old, body_old = _run(s.hu, lab, row_mm, col_mm)
    assert np.array_equal(body_new, body_old)
    _same(new, old)


def test_rules_match_the_old_path_on_a_real_slice(old_path: Callable[[], None]) -> None:
    from sarco_core.io import load
    from validation.reviewed import SLICES, load_reviewed

    name = "covid_A058062_19001231-084"
    data_path(*SLICES[name][0].split("/"))
    path, k, ref = load_reviewed(name)
    vol = load(path)
    hu = np.asarray(vol.hu[k], np.float32)
    sp = vol.spacing_mm
    lab = ref.astype(np.uint8)
    rng = np.random.default_rng(5)
    soft = np.argwhere((hu > 0) & (hu < 80) & ~ref)
    for cy, cx in soft[rng.choice(len(soft), 12, replace=False)]:  # islands anywhere in soft tissue
        yy, xx = np.ogrid[: hu.shape[0], : hu.shape[1]]
        lab[((yy - cy) ** 2 + (xx - cx) ** 2 <= 36) & (lab != 1)] = 1
    new, _ = _run(hu, lab, sp.row, sp.col)
    assert new.islands_applied
    old_path()
    old, _ = _run(hu, lab, sp.row, sp.col)
    _same(new, old)
