"""Teacher helper: tell muscle from dark soft tissue (bowel content, fluid, unenhanced kidney) lying against it
with no fat plane, by the local mean HU of the soft tissue (muscle is homogeneous)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from sarco_core.segment.teacher_body import dilate

TISSUE_MEAN_MM = 7.0  # window of the soft-tissue mean (fat / gas neighbours left out) used for "dark" below
# Dark soft tissue is bowel content, fluid or kidney, not muscle (muscle is homogeneous, its local mean stays
# near its own HU): local mean below both the paraspinal reference - DARKER_THAN_MUSCLE_HU and DARK_MAX_HU
# (wall muscles can be ~20 HU darker than the paraspinal reference in contrast phase and fatty muscle of the
# elderly reaches ~20 HU: it must stay muscle), judged only DARK_CORE_MM inside soft tissue (edges and thin
# layers are lowered by partial volume) and only in pieces of at least DARK_MIN_CM2.
DARKER_THAN_MUSCLE_HU = 18.0
DARK_MAX_HU = 15.0
DARK_CORE_MM = 2.5
DARK_MIN_CM2 = 1.0


def tissue_mean(hs: np.ndarray, soft: np.ndarray, px_mm: float) -> np.ndarray:
    """Local mean HU over the soft-tissue pixels only (normalised convolution, TISSUE_MEAN_MM window): fat
    and gas beside a muscle do not lower it, so a muscle keeps its own mean up to its edge."""
    size = max(3, int(round(TISSUE_MEAN_MM / px_mm)) | 1)
    w = ndi.uniform_filter(soft.astype(np.float32), size)
    v = ndi.uniform_filter(np.where(soft, hs, 0.0).astype(np.float32), size)
    return np.where(w > 0, v / np.maximum(w, 1e-6), -1000.0)


def muscle_like(hs: np.ndarray, soft: np.ndarray, ref: float, px_mm: float) -> np.ndarray:
    """Soft tissue minus the dark pieces: pixels at least DARK_CORE_MM inside soft tissue whose local
    soft-tissue mean is far below the reference muscle HU (thin layers and edges are never judged: partial
    volume lowers them), grown back by the same margin."""
    core = ndi.distance_transform_edt(soft) * px_mm >= DARK_CORE_MM
    dark = core & (tissue_mean(hs, soft, px_mm) < min(ref - DARKER_THAN_MUSCLE_HU, DARK_MAX_HU))
    lab, n = ndi.label(dark)
    if n:  # only big dark pieces (a bowel loop, a kidney), not specks at muscle edges
        big = np.nonzero(np.bincount(lab.ravel()) * px_mm * px_mm / 100.0 >= DARK_MIN_CM2)[0]
        dark = np.isin(lab, big[big > 0])
    return soft & ~dilate(dark, DARK_CORE_MM / px_mm)
