"""Teacher helper: tell muscle from dark soft tissue (bowel content, fluid, unenhanced kidney) lying against it
with no fat plane, by the local mean HU of the soft tissue (muscle is homogeneous)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from sarco_core.body import dilate

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


def dark_pieces(hs: np.ndarray, soft: np.ndarray, ref: float, px_mm: float) -> np.ndarray:
    """Pixels at least DARK_CORE_MM inside soft tissue whose local soft-tissue mean is far below the reference
    muscle HU, in pieces of at least DARK_MIN_CM2 (thin layers and edges are never judged: partial volume
    lowers them)."""
    core = ndi.distance_transform_edt(soft) * px_mm >= DARK_CORE_MM
    dark = core & (tissue_mean(hs, soft, px_mm) < min(ref - DARKER_THAN_MUSCLE_HU, DARK_MAX_HU))
    lab, n = ndi.label(dark)
    if n:  # only big dark pieces (a bowel loop, a kidney), not specks at muscle edges
        big = np.nonzero(np.bincount(lab.ravel()) * px_mm * px_mm / 100.0 >= DARK_MIN_CM2)[0]
        dark = np.isin(lab, big[big > 0])
    return np.asarray(dark)


def muscle_like(
    hs: np.ndarray, soft: np.ndarray, ref: float, px_mm: float, dark: np.ndarray | None = None
) -> npt.NDArray[np.bool_]:
    """Soft tissue minus the dark pieces (:func:`dark_pieces`, given or found here), grown back by the margin
    that was not judged."""
    if dark is None:
        dark = dark_pieces(hs, soft, ref, px_mm)
    # NumPy's stubs type operators on arrays of unknown dtype as Any
    kept: npt.NDArray[np.bool_] = soft & ~dilate(dark, DARK_CORE_MM / px_mm)
    return kept


# Organ against the muscle with no fat plane: unenhanced liver and spleen are ~10-25 HU brighter than muscle
# (enhanced organs are already "bright", > reference + 30 HU). The local mean over ORGAN_MEAN_MM of the soft
# tissue up to ORGAN_HOT_HU above the reference (hotter pixels - vessels, enhanced organs, bone - and those
# within ORGAN_EDGE_MM of them left out: partial volume raises them) more than ORGAN_STEP_HU above the nearby
# muscle's HU marks organ, in pieces of at least ORGAN_MIN_CM2.
ORGAN_MEAN_MM = 9.0
ORGAN_STEP_HU = 12.0
ORGAN_HOT_HU = 60.0
ORGAN_EDGE_MM = 2.0
ORGAN_MIN_CM2 = 2.0


def organ_like(
    hs: np.ndarray, cand: np.ndarray, bone: np.ndarray, ref: float, ref_map: np.ndarray | float, px_mm: float
) -> np.ndarray:
    """Candidate pixels whose local soft-tissue mean is ORGAN_STEP_HU brighter than ``ref_map`` (the HU of the
    muscle nearby; ``ref`` = the slice's muscle reference sets what is too hot to average)."""
    hot = bone | (hs > ref + ORGAN_HOT_HU)
    use = (hs >= -30.0) & ~dilate(hot, ORGAN_EDGE_MM / px_mm)
    size = max(3, int(round(ORGAN_MEAN_MM / px_mm)) | 1)
    w = ndi.uniform_filter(use.astype(np.float32), size)
    v = ndi.uniform_filter(np.where(use, hs, 0.0).astype(np.float32), size)
    tm = np.where(w > 0.2, v / np.maximum(w, 1e-6), -1000.0)
    organ = cand & (tm > np.asarray(ref_map) + ORGAN_STEP_HU)
    lab, n = ndi.label(organ)
    if n:
        big = np.nonzero(np.bincount(lab.ravel()) * px_mm * px_mm / 100.0 >= ORGAN_MIN_CM2)[0]
        organ = np.isin(lab, big[big > 0])
    return np.asarray(organ)


HALO_MM = 1.5  # partial-volume rim of enhanced organs / vessels (muscle-range HU) that a growth must not follow
HALO_BONE_MM = 2.0  # (the rim of bone is not a source: the muscle wrapped around the ribs is kept)
HALO_SRC_MM = 3.0  # bright = the mean over this window is bright too, in pieces of at least HALO_SRC_MIN_CM2
HALO_SRC_MIN_CM2 = 0.5  # (noise blobs inside a muscle are not organs)


def bright_halo(hs: np.ndarray, bone: np.ndarray, bright_hu: float, px_mm: float) -> npt.NDArray[np.bool_]:
    """Pixels within HALO_MM of bright soft tissue (enhanced kidney, bowel, vessels, organs): at their edge
    with fat, partial volume gives a thin ring of muscle-range HU along which a growth would run all round
    the organ."""
    size = max(3, int(round(HALO_SRC_MM / px_mm)) | 1)  # bright regions, not noise
    src = (ndi.uniform_filter(hs, size) > bright_hu) & (hs > bright_hu) & ~dilate(bone, HALO_BONE_MM / px_mm)
    lab, n = ndi.label(src)
    if n:
        big = np.nonzero(np.bincount(lab.ravel()) * px_mm * px_mm / 100.0 >= HALO_SRC_MIN_CM2)[0]
        src = np.isin(lab, big[big > 0])
    halo: npt.NDArray[np.bool_] = dilate(src, HALO_MM / px_mm) & ~src
    return halo
