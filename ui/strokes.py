"""Canvas output -> mask conversion (pure functions, no Streamlit).

``streamlit-drawable-canvas`` returns only the strokes as an RGBA image (transparent where nothing
was drawn) at the canvas size, which may differ from the image size (zoom, device pixel ratio).
Each image pixel takes the canvas value at its centre, so a canvas of any size maps back exactly.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Mode = Literal["add", "erase"]


def strokes_to_pixels(rgba: np.ndarray, shape: tuple[int, int], alpha_threshold: int = 127) -> np.ndarray:
    """Boolean (rows, cols) mask of image pixels whose centre lies under a stroke (alpha > threshold)."""
    a = np.asarray(rgba)
    if a.ndim == 3:
        alpha = a[..., 3] if a.shape[2] == 4 else a.max(axis=2)
    elif a.ndim == 2:
        alpha = a
    else:
        raise ValueError(f"canvas image must be (H, W) or (H, W, 4), got {a.shape}")
    rows, cols = shape
    h, w = alpha.shape
    ry = np.minimum(((np.arange(rows) + 0.5) * h / rows).astype(int), h - 1)
    cx = np.minimum(((np.arange(cols) + 0.5) * w / cols).astype(int), w - 1)
    return alpha[np.ix_(ry, cx)] > alpha_threshold


def apply_strokes(
    mask: np.ndarray,
    rgba: np.ndarray,
    mode: Mode,
    label: int,
    hu: np.ndarray | None = None,
    gate: tuple[float, float] | None = None,
) -> np.ndarray:
    """Return a new label mask with the strokes applied.

    ``add`` sets painted pixels to ``label`` (overwriting other tissues); ``erase`` clears painted pixels
    that hold ``label`` (other tissues are untouched). With ``hu`` and ``gate`` only pixels whose HU lies
    inside ``gate`` (inclusive) change (a "smart brush").
    """
    if mode not in ("add", "erase"):
        raise ValueError(f"mode must be 'add' or 'erase', got {mode!r}")
    out = np.array(mask, dtype=np.uint8, copy=True)
    painted = strokes_to_pixels(rgba, out.shape)
    if hu is not None and gate is not None:
        painted &= (hu >= gate[0]) & (hu <= gate[1])
    if mode == "add":
        out[painted] = label
    else:
        out[painted & (out == label)] = 0
    return out


def disk_stroke(canvas_hw: tuple[int, int], centre_xy: tuple[float, float], radius_px: float) -> np.ndarray:
    """An RGBA canvas image with one filled disk (for tests and scripted edits)."""
    h, w = canvas_hw
    yy, xx = np.mgrid[0:h, 0:w]
    inside = (xx + 0.5 - centre_xy[0]) ** 2 + (yy + 0.5 - centre_xy[1]) ** 2 <= radius_px**2
    rgba = np.zeros((h, w, 4), dtype=np.uint8)
    rgba[inside] = (255, 0, 0, 255)
    return rgba


class EditHistory:
    """Undo/redo stack of masks (kept in session state by the Edit page)."""

    def __init__(self, initial: np.ndarray, limit: int = 50) -> None:
        self.stack: list[np.ndarray] = [np.array(initial, dtype=np.uint8, copy=True)]
        self.pos = 0
        self.limit = limit

    @property
    def current(self) -> np.ndarray:
        return self.stack[self.pos]

    def push(self, mask: np.ndarray) -> None:
        if np.array_equal(mask, self.current):
            return
        self.stack = self.stack[: self.pos + 1] + [np.array(mask, dtype=np.uint8, copy=True)]
        if len(self.stack) > self.limit:
            self.stack = self.stack[-self.limit :]
        self.pos = len(self.stack) - 1

    def can_undo(self) -> bool:
        return self.pos > 0

    def can_redo(self) -> bool:
        return self.pos < len(self.stack) - 1

    def undo(self) -> np.ndarray:
        if self.can_undo():
            self.pos -= 1
        return self.current

    def redo(self) -> np.ndarray:
        if self.can_redo():
            self.pos += 1
        return self.current

    def reset(self, mask: np.ndarray) -> None:
        """Start over from ``mask`` (kept as an undoable step)."""
        self.push(mask)

    @property
    def dirty(self) -> bool:
        return not np.array_equal(self.stack[0], self.current)
