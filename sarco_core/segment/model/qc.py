"""Per-slice confidence and quality-control flags of the trained model.

Confidence: a raw score (mean winning-class probability inside the predicted muscle, times the agreement of the
flip test-time augmentation) mapped through a monotone calibration table stored in the model's config.json
(fitted on held-out phantom slices and their corrupted variants, so that confidence ≈ expected muscle Dice).

QC flags (``qc_flags`` of a :class:`~sarco_core.segment.base.SegmentationResult`):

* ``low_confidence`` - confidence below the model's threshold;
* ``implausible_area`` - HU-gated muscle area outside a deliberately wide range (default 40-350 cm², wider than
  the 60-250 cm² seen at L3 because the segmenter does not know the vertebral level);
* ``mask_touches_fov_edge`` - predicted muscle within 2 pixels of the image border or of outside-FOV padding;
* ``body_truncated`` - the body outline runs into the image border for more than 10 mm;
* ``arms_in_field`` - an arm of more than 15 cm² beside the body (arms down): a separate component, or an arm
  resting against the trunk, which is then taken out of the body and never labelled;
* ``high_noise`` - image noise above ``HIGH_NOISE_HU`` (:func:`noise_hu`, measured in homogeneous fat on the slice
  itself). Clinical abdominal CT shows 10-30 HU; at ~70 HU (the lowest Lung_Dx-A0001 slices) the −29..150 HU gate
  drops many muscle pixels, so the gated SMA depends on the pixel size by 10-15 % whatever the mask; the
  confidence is multiplied by ``HIGH_NOISE_FACTOR``;
* ``no_sat_plane`` and ``islands_removed`` - from the anatomy rules applied after the network on the native grid
  (:mod:`sarco_core.segment.anatomy_rules`, shared with the teacher), which also lower the confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from sarco_core.body import BODY_HU, largest_component  # BODY_HU: the one air / tissue threshold (was -300 here)
from sarco_core.segment.model.arms import arms_against_trunk

PADDING_HU = -1050.0  # anything below this is outside the scanned field of view (air is about -1000)
HIGH_NOISE_HU = 50.0
HIGH_NOISE_FACTOR = 0.7
FAT_HU = (-150.0, -50.0)  # homogeneous fat (smoothed image) where the noise is measured
MIN_NOISE_PX = 200


def noise_hu(hu: np.ndarray, pixel_mm: float) -> float | None:
    """Image noise (HU, robust standard deviation) of one slice: the residual of the slice minus its 3 mm Gaussian
    smoothing inside fat regions (smoothed HU −150..−50, eroded by 3 mm), spread by the MAD. On phantoms with
    added noise of σ 40 / 80 / 150 HU it reads 43 / 79 / 144; real slices here read 13-24 HU (COVID, pancreas,
    LIDC) and 68-75 HU (lowest Lung_Dx-A0001 slices). None when there is too little fat to measure."""
    h = np.asarray(hu, np.float32)
    smooth = ndi.gaussian_filter(h, 3.0 / pixel_mm)
    fat = (smooth > FAT_HU[0]) & (smooth < FAT_HU[1])
    fat = ndi.binary_erosion(fat, iterations=max(1, round(3.0 / pixel_mm)))
    r = (h - smooth)[fat]
    if r.size < MIN_NOISE_PX:
        return None
    return float(1.4826 * np.median(np.abs(r - np.median(r))))


def is_high_noise(noise: float | None) -> bool:
    """Whether a :func:`noise_hu` reading gets the ``high_noise`` flag (and the confidence penalty)."""
    return noise is not None and noise > HIGH_NOISE_HU


@dataclass(frozen=True)
class Calibration:
    """Piecewise-linear monotone map raw score -> confidence (both in 0..1)."""

    raw: tuple[float, ...] = (0.0, 0.5, 0.8, 0.9, 0.95, 1.0)
    conf: tuple[float, ...] = (0.0, 0.1, 0.4, 0.6, 0.8, 0.95)

    def __call__(self, raw: float) -> float:
        return float(np.clip(np.interp(raw, self.raw, self.conf), 0.0, 1.0))

    def to_dict(self) -> dict[str, list[float]]:
        return {"raw": list(self.raw), "conf": list(self.conf)}


def fit_calibration(raw: np.ndarray, quality: np.ndarray, n_knots: int = 8) -> Calibration:
    """Isotonic (non-decreasing) fit of ``quality`` (e.g. Dice) on ``raw``, summarised as ``n_knots`` knots."""
    order = np.argsort(raw)
    x = np.asarray(raw, float)[order]
    y = np.asarray(quality, float)[order]
    # pool-adjacent-violators
    vals: list[float] = []
    wts: list[float] = []
    for v in y:
        vals.append(float(v))
        wts.append(1.0)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            w = wts[-2] + wts[-1]
            m = (vals[-2] * wts[-2] + vals[-1] * wts[-1]) / w
            vals[-2:] = [m]
            wts[-2:] = [w]
    fitted = np.repeat(vals, np.asarray(wts, int))
    qs = np.linspace(0, len(x) - 1, n_knots).round().astype(int)
    kx = np.concatenate([[0.0], x[qs], [1.0]])
    ky = np.concatenate([[0.0], fitted[qs], [fitted[-1]]])
    kx, idx = np.unique(kx, return_index=True)
    ky = np.maximum.accumulate(ky[idx])
    return Calibration(raw=tuple(float(v) for v in kx), conf=tuple(float(np.clip(v, 0, 1)) for v in ky))


def raw_confidence(probs: np.ndarray, probs_flip: np.ndarray | None) -> tuple[float, float, float]:
    """(raw score, mean max-probability in the predicted muscle, TTA muscle agreement) of one slice.

    ``probs`` is (K, H, W) on any grid; ``probs_flip`` the un-flipped prediction of the flipped input or None.
    """
    lab = probs.argmax(0)
    muscle = lab == 1
    n = int(muscle.sum())
    if n == 0:
        return 0.0, 0.0, 0.0
    pmax = float(probs.max(0)[muscle].mean())
    agree = 1.0
    if probs_flip is not None:
        m2 = probs_flip.argmax(0) == 1
        agree = 2.0 * float((muscle & m2).sum()) / (n + int(m2.sum()))
    return pmax * agree, pmax, agree


def body_mask(hu: np.ndarray, pixel_mm: float) -> tuple[np.ndarray, list[int]]:
    """Largest soft-tissue component (holes filled) without any arm resting against it
    (:func:`sarco_core.segment.model.arms.arms_against_trunk`), and the areas (pixels) of the arms: other components
    lying beside it (centroid within the body's row extent and outside its middle half of columns, not the
    table) and the arms taken out of it."""
    tissue = hu > BODY_HU
    it = max(1, round(3.0 / pixel_mm))
    tissue = ndi.binary_opening(tissue, iterations=it)
    lab, n = ndi.label(tissue)
    if n == 0:
        return np.zeros_like(tissue), []
    sizes = np.bincount(lab.ravel())[1:]
    main = int(np.argmax(sizes)) + 1
    body = ndi.binary_fill_holes(lab == main)
    rows, cols = np.nonzero(body)
    r0, r1 = rows.min(), rows.max()
    c0, c1 = np.percentile(cols, 25), np.percentile(cols, 75)
    beside: list[int] = []
    big = [i for i in range(1, n + 1) if i != main and sizes[i - 1] * pixel_mm**2 > 500.0]
    for i, (cr, cc) in zip(big, ndi.center_of_mass(tissue, lab, big), strict=True):
        if r0 <= cr <= r1 and not c0 <= cc <= c1:
            beside.append(int(sizes[i - 1]))
    arm = arms_against_trunk(hu, pixel_mm, body)
    if arm.any():
        alab, n_arm = ndi.label(arm, structure=np.ones((3, 3), bool))
        beside.extend(int(x) for x in np.bincount(alab.ravel(), minlength=n_arm + 1)[1:])
        body = np.asarray(ndi.binary_fill_holes(largest_component(body & ~arm)))
    return body, beside


def qc_flags(
    hu: np.ndarray,
    labels: np.ndarray,
    *,
    pixel_mm: float,
    body: np.ndarray,
    other_components_px: list[int],
    confidence: float,
    sma_cm2: float,
    low_confidence: float,
    sma_range_cm2: tuple[float, float],
    high_noise: bool = False,
) -> tuple[str, ...]:
    """QC flags of one slice; ``hu``/``labels``/``body`` share one grid with square pixels of ``pixel_mm``;
    ``high_noise``: :func:`is_high_noise` of the native slice's noise."""
    flags: list[str] = []
    if confidence < low_confidence:
        flags.append("low_confidence")
    if not sma_range_cm2[0] <= sma_cm2 <= sma_range_cm2[1]:
        flags.append("implausible_area")
    muscle = labels == 1
    edge = np.zeros_like(muscle)
    edge[:2, :] = edge[-2:, :] = True
    edge[:, :2] = edge[:, -2:] = True
    pad = hu < PADDING_HU
    if pad.any():
        edge |= ndi.binary_dilation(pad, iterations=2)
    if (muscle & edge).any():
        flags.append("mask_touches_fov_edge")
    border = np.concatenate([body[0, :], body[-1, :], body[:, 0], body[:, -1]])
    touching_pad = int((body & ndi.binary_dilation(pad, iterations=1)).sum()) if pad.any() else 0
    if (int(border.sum()) + touching_pad) * pixel_mm > 10.0:
        flags.append("body_truncated")
    px_cm2 = pixel_mm * pixel_mm / 100.0
    if any(s * px_cm2 > 15.0 for s in other_components_px):
        flags.append("arms_in_field")
    if high_noise:
        flags.append("high_noise")
    return tuple(flags)
