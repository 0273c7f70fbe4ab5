"""sarco_core.body.convex_hull (half-planes of the scipy hull) against two references on seeded masks: an exact
integer point-in-convex-polygon test and skimage.draw.polygon, which the function replaced (issue 19, slim runtime).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from scipy import ndimage as ndi
from scipy.spatial import ConvexHull

from sarco_core.body import convex_hull


def _seeded_masks(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        h, w = (int(v) for v in rng.integers(5, 160, 2))
        m = np.zeros((h, w), bool)
        for _ in range(int(rng.integers(1, 6))):
            r0, c0 = int(rng.integers(0, h)), int(rng.integers(0, w))
            m[r0 : r0 + int(rng.integers(1, 40)), c0 : c0 + int(rng.integers(1, 40))] = True
        if rng.random() < 0.5:
            m |= rng.random((h, w)) < rng.random() * 0.02  # scattered single pixels: many thin hulls
        out.append(m)
    return out


def _hull_vertices(mask: np.ndarray) -> np.ndarray | None:
    pts = np.argwhere(mask & ~ndi.binary_erosion(mask))
    if len(pts) < 3:
        return None
    try:
        return np.asarray(pts[ConvexHull(pts).vertices])
    except Exception:  # collinear points: the function returns the mask itself
        return None


def _exact_reference(mask: np.ndarray) -> np.ndarray:
    """Pixel centres inside or on the hull polygon, by integer cross products (no rounding at all)."""
    v = _hull_vertices(mask)
    if v is None:
        return mask.copy()
    rr, cc = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
    cross = []
    for (ar, ac), (br, bc) in zip(v, np.roll(v, -1, axis=0), strict=True):
        cross.append((br - ar) * (cc - ac) - (bc - ac) * (rr - ar))
    c = np.stack(cross)
    inside = np.all(c >= 0, axis=0) | np.all(c <= 0, axis=0)
    return np.asarray(inside | mask)


def test_convex_hull_matches_exact_integer_reference() -> None:
    masks = _seeded_masks(400, seed=19)
    differ = [i for i, m in enumerate(masks) if not np.array_equal(convex_hull(m), _exact_reference(m))]
    assert differ == []


def test_convex_hull_matches_skimage_polygon() -> None:
    if os.environ.get("CI") == "true":
        import skimage.draw as draw
    else:
        draw = pytest.importorskip("skimage.draw", reason="scikit-image is the test-only reference (requirements-dev)")
    masks = _seeded_masks(400, seed=20)
    differ = []
    for i, m in enumerate(masks):
        v = _hull_vertices(m)
        ref = m.copy()
        if v is not None:
            rr, cc = draw.polygon(v[:, 0], v[:, 1], shape=m.shape)
            ref[rr, cc] = True
        if not np.array_equal(convex_hull(m), ref):
            differ.append(i)
    assert differ == []


def test_convex_hull_of_a_triangle_keeps_its_edges_and_nothing_outside() -> None:
    m = np.zeros((12, 12), bool)
    m[2, 2] = m[2, 9] = m[9, 2] = True  # right triangle: the hypotenuse's lattice points lie on the hull
    hull = convex_hull(m)
    rr, cc = np.mgrid[0:12, 0:12]
    assert np.array_equal(hull, (rr >= 2) & (cc >= 2) & (rr + cc <= 11))
