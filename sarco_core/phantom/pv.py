"""Partial volume for ``contacts="hard"``: each pixel's mean HU is the average over its own area and slab.

The default phantom decides a pixel's tissue at its centre (plus a ~1 mm blur), which at 3 mm pixels or 3 mm
slices leaves edges far sharper than a scanner does. Here a slice is rendered at 3 heights across the slab
and, for pixels over 1.25 mm, on a finer grid (an odd factor, <= 0.8 mm sub-pixels); the tissue means are
averaged over each pixel's sub-pixels and heights. Labels (and the tissue / vertebra maps) stay the exact
ones at the pixel centre and slice centre, the package's convention.
"""

from __future__ import annotations

import numpy as np

from sarco_core.phantom.anatomy import Patient
from sarco_core.phantom.texture import imat_streaks

SUB_MM = 0.8  # finest sub-pixel
PV_MIN_PIXEL_MM = 1.25  # finer pixels: no sub-sampling (the 0.45 mm blur of synthesize_hu covers their edges)
SLAB_SAMPLES = (-1.0 / 3.0, 0.0, 1.0 / 3.0)  # heights across the slab, fractions of its thickness


def factor(row_mm: float, col_mm: float) -> int:
    """Odd sub-sampling factor so that sub-pixels are <= ``SUB_MM`` (1 at pixels <= ``PV_MIN_PIXEL_MM``)."""
    if max(row_mm, col_mm) <= PV_MIN_PIXEL_MM:
        return 1
    n = int(np.ceil(max(row_mm, col_mm) / SUB_MM - 1e-9))
    return n if n % 2 == 1 else n + 1


class PVRenderer:
    """Renders one patient's slices with partial volume on the pixel grid of ``coarse`` (the same patient drawn
    on an ``n``-times finer grid, averaged back)."""

    def __init__(self, coarse: Patient) -> None:
        cv = coarse.cv
        self.p = p = coarse.p
        self.n = factor(cv.row_mm, cv.col_mm)
        self.shape = (cv.rows, cv.cols)
        self.fine_mm = (cv.row_mm / self.n, cv.col_mm / self.n)
        self.fine = Patient(
            p,
            coarse.layout,
            rows=cv.rows * self.n,
            cols=cv.cols * self.n,
            row_mm=self.fine_mm[0],
            col_mm=self.fine_mm[1],
            contacts=coarse.contacts,
        )

    def render(
        self, z: float, slab_mm: float, mean_lut: np.ndarray, key: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tissue, vertebra ids, mean HU) at the coarse grid; ``key`` seeds the IMAT streaks of this slice."""
        n, (rows, cols) = self.n, self.shape
        c = n // 2
        acc = np.zeros((rows, cols), np.float64)
        tissue = vert = None
        for frac in SLAB_SAMPLES:
            t, v = self.fine.render(z + frac * slab_mm)
            t = imat_streaks(t, self.p, np.random.default_rng([self.p.seed, 557, key]), self.fine_mm)
            acc += mean_lut[t].reshape(rows, n, cols, n).mean(axis=(1, 3))
            if frac == 0.0:
                tissue, vert = t[c::n, c::n].copy(), v[c::n, c::n].copy()
        assert tissue is not None and vert is not None
        return tissue, vert, (acc / len(SLAB_SAMPLES)).astype(np.float32)
