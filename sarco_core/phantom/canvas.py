"""A pixel grid in patient millimetres and exact shape painting (pixel centres decide membership)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np

Where = Iterable[int] | None


def _allowed(where: Iterable[int]) -> np.ndarray:
    lut = np.zeros(256, dtype=bool)
    lut[list(where)] = True
    return lut


class Canvas:
    """Patient coordinates ``X`` (mm toward patient left) and ``Y`` (mm toward posterior) of every pixel centre,
    0 at the image centre, rotated by ``rot_deg`` (a patient lying slightly rolled); ``X0``/``Y0`` are the
    unrotated image-frame coordinates (table, gravity)."""

    def __init__(self, rows: int, cols: int, row_mm: float, col_mm: float, rot_deg: float = 0.0) -> None:
        self.rows, self.cols = rows, cols
        self.row_mm, self.col_mm = row_mm, col_mm
        x = (np.arange(cols) - (cols - 1) / 2.0) * col_mm
        y = (np.arange(rows) - (rows - 1) / 2.0) * row_mm
        self.X0, self.Y0 = np.meshgrid(x, y)
        t = np.deg2rad(rot_deg)
        self.rc, self.rs = float(np.cos(t)), float(np.sin(t))
        self.rotated = abs(rot_deg) > 1e-9
        if self.rotated:
            self.X = self.rc * self.X0 + self.rs * self.Y0
            self.Y = -self.rs * self.X0 + self.rc * self.Y0
        else:
            self.X, self.Y = self.X0, self.Y0
        self.tissue = np.zeros((rows, cols), dtype=np.uint8)
        self.vert = np.zeros((rows, cols), dtype=np.uint8)
        self._whole = False  # shapes are tested over the whole canvas (see pivoted)

    @contextmanager
    def pivoted(self, px: float, py: float, deg: float) -> Iterator[None]:
        """Paint as if the patient frame were turned by ``deg`` about (px, py): shapes drawn inside appear
        rotated by ``deg`` about that point (+: the part in front of it moves toward the patient's left)."""
        if not deg:
            yield
            return
        t = np.deg2rad(deg)
        c, s = float(np.cos(t)), float(np.sin(t))
        X, Y = self.X, self.Y
        self.X, self.Y = px + c * (X - px) + s * (Y - py), py - s * (X - px) + c * (Y - py)
        self._whole = True
        try:
            yield
        finally:
            self.X, self.Y, self._whole = X, Y, False

    def unrotate(self, x: float, y: float) -> tuple[float, float]:
        """Image-frame (unrotated) mm coordinates of patient point (x, y)."""
        return self.rc * x - self.rs * y, self.rs * x + self.rc * y

    def to_px(self, x: float, y: float) -> tuple[float, float]:
        """(row, col) of patient point (x, y)."""
        x0, y0 = self.unrotate(x, y)
        return y0 / self.row_mm + (self.rows - 1) / 2.0, x0 / self.col_mm + (self.cols - 1) / 2.0

    def window(self, cx: float, cy: float, rx: float, ry: float) -> tuple[slice, slice] | None:
        """Row/col slices covering the box centre ± radius (None when off the canvas)."""
        if self._whole:
            return slice(0, self.rows), slice(0, self.cols)
        if self.rotated:
            cx, cy = self.unrotate(cx, cy)
            rx = ry = float(np.hypot(rx, ry))
        c0 = int(np.floor((cx - rx) / self.col_mm + (self.cols - 1) / 2.0))
        c1 = int(np.ceil((cx + rx) / self.col_mm + (self.cols - 1) / 2.0)) + 1
        r0 = int(np.floor((cy - ry) / self.row_mm + (self.rows - 1) / 2.0))
        r1 = int(np.ceil((cy + ry) / self.row_mm + (self.rows - 1) / 2.0)) + 1
        c0, c1, r0, r1 = max(c0, 0), min(c1, self.cols), max(r0, 0), min(r1, self.rows)
        if c0 >= c1 or r0 >= r1:
            return None
        return slice(r0, r1), slice(c0, c1)

    def blob(
        self, cx: float, cy: float, ax: float, ay: float, rot_deg: float = 0.0, n: float = 2.0
    ) -> tuple[tuple[slice, slice], np.ndarray] | None:
        """Superellipse |x'/ax|^n + |y'/ay|^n <= 1 (n=2 ellipse, larger n boxier), rotated by ``rot_deg``."""
        if ax <= 0 or ay <= 0:
            return None
        r = max(ax, ay) * (2**0.5 if n > 2 else 1.0)
        win = self.window(cx, cy, r, r)
        if win is None:
            return None
        dx = self.X[win] - cx
        dy = self.Y[win] - cy
        if rot_deg:
            t = np.deg2rad(rot_deg)
            c, s = np.cos(t), np.sin(t)
            dx, dy = c * dx + s * dy, -s * dx + c * dy
        m = (np.abs(dx / ax) ** n + np.abs(dy / ay) ** n) <= 1.0
        if not m.any():
            return None
        return win, m

    def paint(
        self,
        shape: tuple[tuple[slice, slice], np.ndarray] | None,
        tissue: int,
        where: Where = None,
        vert: int | None = None,
    ) -> None:
        """Set ``tissue`` (and optionally vertebra id) inside ``shape``, only over tissues in ``where``."""
        if shape is None:
            return
        win, m = shape
        if where is not None:
            m = m & _allowed(where)[self.tissue[win]]
        self.tissue[win][m] = tissue
        if vert is not None:
            self.vert[win][m] = vert

    def paint_mask(self, mask: np.ndarray, tissue: int, where: Where = None) -> None:
        m = mask if where is None else mask & _allowed(where)[self.tissue]
        self.tissue[m] = tissue

    def ellipse(
        self,
        cx: float,
        cy: float,
        ax: float,
        ay: float,
        tissue: int,
        rot_deg: float = 0.0,
        n: float = 2.0,
        where: Where = None,
        vert: int | None = None,
    ) -> None:
        self.paint(self.blob(cx, cy, ax, ay, rot_deg, n), tissue, where, vert)
