"""Seeded augmentation of (HU, labels) slices at the model's pixel size, and image corruptions.

Geometry (rotation, scale, translation, left-right flip of image and labels together: the tissues are nearly
left-right symmetric, so a mirrored slice is still a valid slice), coarse pixels / thick slices (down- then
up-sampling), intensity scale/shift, correlated noise, circular field-of-view truncation and metal-like streaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from scipy import ndimage as ndi

from sarco_core.train.coarse import coarse_fractions, gated_area_labels
from sarco_core.train.config import AugmentConfig

AIR = -1024.0


def _body_centre(hu: np.ndarray) -> tuple[float, float]:
    m = hu > -300
    if not m.any():
        return (hu.shape[0] / 2, hu.shape[1] / 2)
    r, c = np.nonzero(m)
    return float(r.mean()), float(c.mean())


def geometric(
    hu: np.ndarray,
    labels: np.ndarray | None,
    rng: np.random.Generator,
    cfg: AugmentConfig,
    crop_px: int,
    *,
    enabled: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Random rotation/scale/flip/translation, cropping a ``crop_px`` square around the body."""
    cr, cc = _body_centre(hu)
    if enabled:
        ang = np.deg2rad(rng.uniform(-cfg.rotate_deg, cfg.rotate_deg))
        s = float(np.exp(rng.uniform(np.log(cfg.scale[0]), np.log(cfg.scale[1]))))
        flip = rng.random() < cfg.flip_lr_prob
        shift = rng.normal(0.0, crop_px * 0.08, size=2)
    else:
        ang, s, flip, shift = 0.0, 1.0, False, np.zeros(2)
    # output (r, c) -> input: centre + R(ang) @ diag(1/s) @ F @ (out - half) + shift
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    fl = np.diag([1.0, -1.0 if flip else 1.0])
    mat = rot @ fl / s
    half = (crop_px - 1) / 2.0
    centre = np.array([cr, cc]) + shift
    offset = centre - mat @ np.array([half, half])
    out_hu = ndi.affine_transform(
        hu.astype(np.float32), mat, offset=offset, output_shape=(crop_px, crop_px), order=1, mode="constant", cval=AIR
    )
    out_lab = None
    if labels is not None:
        out_lab = ndi.affine_transform(
            labels, mat, offset=offset, output_shape=(crop_px, crop_px), order=0, mode="constant", cval=0
        ).astype(np.uint8)
    return out_hu, out_lab


def coarse_pixels(hu: np.ndarray, factor: float) -> npt.NDArray[np.float32]:
    """Down-sample by ``factor`` (area-like, with a Gaussian pre-filter) and back: blur like coarse pixels."""
    sm = ndi.gaussian_filter(hu, sigma=0.45 * factor)
    small = ndi.zoom(sm, 1.0 / factor, order=1)
    back = ndi.zoom(small, (hu.shape[0] / small.shape[0], hu.shape[1] / small.shape[1]), order=1)
    blurred: npt.NDArray[np.float32] = back[: hu.shape[0], : hu.shape[1]].astype(np.float32)  # scipy: untyped
    return blurred


def blur_relabel(hu: np.ndarray, labels: np.ndarray, blurred: np.ndarray, factor: float) -> np.ndarray:
    """Labels of a sample blurred by :func:`coarse_pixels` (``blurred``) by ``factor``, by the gated-area convention
    of the coarse copies (:mod:`sarco_core.train.coarse`): the shares of HU-gated muscle and of each label are
    area averages of the sharp ``hu`` / ``labels`` on the coarse grid, brought back to the sample's grid
    (nearest), and the convention is applied with the blurred HU, the pixels as the network sees them. A blurred
    input so asks for the muscle that a gated measurement on coarse pixels should return."""
    small = (max(1, round(hu.shape[0] / factor)), max(1, round(hu.shape[1] / factor)))
    frac = F.interpolate(coarse_fractions(hu, labels, small)[None, 1:], size=hu.shape, mode="nearest-exact")[0]
    out = gated_area_labels(frac[0], frac[1:], torch.as_tensor(np.asarray(blurred, np.float32)))
    return out.numpy().astype(np.uint8)


def add_noise(hu: np.ndarray, sigma_hu: float, rng: np.random.Generator) -> np.ndarray:
    """Correlated Gaussian noise (CT noise has a grain of about a pixel) of standard deviation ``sigma_hu``."""
    n = ndi.gaussian_filter(rng.standard_normal(hu.shape).astype(np.float32), 0.7)
    n *= sigma_hu / max(float(n.std()), 1e-6)
    return np.asarray(hu + n * (hu > -900), dtype=np.float32)


def fov_truncate(
    hu: np.ndarray, labels: np.ndarray | None, radius_frac: float, centre_shift: tuple[float, float] = (0.0, 0.0)
) -> tuple[np.ndarray, np.ndarray | None]:
    """Circular field of view: everything outside becomes air (labels 0), as a reconstruction FOV cut."""
    h, w = hu.shape
    rr, cc = np.mgrid[0:h, 0:w]
    cy, cx = h / 2 + centre_shift[0] * h, w / 2 + centre_shift[1] * w
    out = (rr - cy) ** 2 + (cc - cx) ** 2 > (radius_frac * min(h, w)) ** 2
    hu = hu.copy()
    hu[out] = AIR
    if labels is not None:
        labels = labels.copy()
        labels[out] = 0
    return hu, labels


def metal_streaks(
    hu: np.ndarray,
    rng: np.random.Generator,
    n_lines: int = 12,
    amp_hu: float = 400.0,
    point: tuple[float, float] | None = None,
) -> np.ndarray:
    """A bright metal spot with alternating bright/dark streaks radiating from it (inside the body)."""
    h, w = hu.shape
    body = np.argwhere(hu > -300)
    if point is None:
        if len(body) == 0:
            return hu
        point = tuple(body[rng.integers(len(body))].astype(float))  # type: ignore[assignment]
    assert point is not None
    rr, cc = np.mgrid[0:h, 0:w]
    dy, dx = rr - point[0], cc - point[1]
    ang = np.arctan2(dy, dx)
    dist = np.hypot(dy, dx) + 1.0
    out = hu.astype(np.float32).copy()
    for a in rng.uniform(0, np.pi, size=n_lines):
        d = np.abs(np.sin(ang - a)) * dist  # distance to the line through the point
        sign = 1.0 if rng.random() < 0.5 else -1.0
        out += sign * amp_hu * np.exp(-(d**2) / 2.0) * np.exp(-dist / (0.6 * max(h, w)))
    out[dist < 4] = 2500.0
    return np.where(hu > -900, out, hu).astype(np.float32)


@dataclass(frozen=True)
class AugmentedSample:
    hu: np.ndarray
    labels: np.ndarray | None
    blur_factor: float  # 1.0 = not blurred; else the coarse-pixel factor simulated (the pixel-size channel uses it)


def augment(
    hu: np.ndarray,
    labels: np.ndarray | None,
    rng: np.random.Generator,
    cfg: AugmentConfig,
    crop_px: int,
    *,
    enabled: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Full augmentation chain for one sample (deterministic given ``rng``'s state)."""
    s = augment_sample(hu, labels, rng, cfg, crop_px, enabled=enabled)
    return s.hu, s.labels


def augment_sample(
    hu: np.ndarray,
    labels: np.ndarray | None,
    rng: np.random.Generator,
    cfg: AugmentConfig,
    crop_px: int,
    *,
    enabled: bool = True,
) -> AugmentedSample:
    """:func:`augment`, also saying which blur factor was simulated (the same draws from ``rng``)."""
    hu, labels = geometric(hu, labels, rng, cfg, crop_px, enabled=enabled)
    factor = 1.0
    if not enabled:
        return AugmentedSample(hu, labels, factor)
    if rng.random() < cfg.blur_prob:
        factor = float(rng.uniform(*cfg.blur_factor))
        sharp, hu = hu, coarse_pixels(hu, factor)
        if labels is not None and cfg.blur_labels == "gated_area":
            labels = blur_relabel(sharp, labels, hu, factor)
    a = rng.uniform(*cfg.hu_scale)
    b = rng.uniform(-cfg.hu_shift, cfg.hu_shift)
    hu = np.where(hu > -900, hu * a + b, hu).astype(np.float32)
    sigma = rng.uniform(*cfg.noise_hu)
    if sigma > 1.0:
        hu = add_noise(hu, sigma, rng)
    if rng.random() < cfg.streak_prob:
        hu = metal_streaks(hu, rng, n_lines=int(rng.integers(4, 16)), amp_hu=float(rng.uniform(150, 600)))
    if rng.random() < cfg.fov_crop_prob:
        hu, labels = fov_truncate(
            hu,
            labels,
            float(rng.uniform(0.35, 0.5)),
            (float(rng.uniform(-0.08, 0.08)), float(rng.uniform(-0.08, 0.08))),
        )
    return AugmentedSample(hu, labels, factor)
