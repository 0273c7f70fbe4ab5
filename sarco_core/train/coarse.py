"""Coarse-pixel training copies with labels that follow the HU-gated area convention.

Why: SMA is measured as muscle compartment ∩ −29..150 HU on the image's own pixels. On coarse pixels (3 mm, as in
many shared NIfTI files) a boundary pixel that holds little muscle but is otherwise soft tissue, bone partial
volume or fascia still lands inside the HU gate, so a compartment drawn at the fine boundary and then gated on
the coarse pixels counts more area than there is muscle. A network trained only on fine labels (blur
augmentation keeps the fine label) learns the fine compartment and over-calls on coarse input.

Here a training slice is re-acquired at a coarse pixel size (area average of the native HU, the way a coarse
reconstruction averages tissue) and labelled on that coarse grid: a coarse pixel is muscle when at least half of
its area is HU-gated muscle at the native resolution, or when at least half of it is muscle compartment and the
coarse pixel falls outside the HU gate anyway (intramuscular fat: keeps the compartment solid without changing
the measured area); the other pixels take the plurality of the remaining labels. Both are then brought to the
model grid (HU bilinear, labels nearest), so the network sees what a coarse scan looks like and is asked for the
muscle that the gated measurement on those coarse pixels should return.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
import torch.nn.functional as F

from sarco_core.metrics import DEFAULT_GATES
from sarco_core.segment.model.prep import resample_slice, scaled_shape

MUSCLE = 1
N_CLASSES = 4


def _area(a: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    """(C, H, W) -> (C, h, w) by area averaging (exact for any ratio: ``F.interpolate(mode='area')``)."""
    return F.interpolate(a[None], size=shape, mode="area")[0]


def coarse_fractions(hu: np.ndarray, labels: np.ndarray, shape: tuple[int, int]) -> torch.Tensor:
    """Area averages on ``shape`` of a native slice: (HU, share of HU-gated muscle, share of each label 0..3),
    a (2 + N_CLASSES, h, w) tensor."""
    lo, hi = DEFAULT_GATES.muscle
    h = torch.as_tensor(np.asarray(hu, np.float32))
    lab = torch.as_tensor(np.asarray(labels, np.int64)).clamp(0, N_CLASSES - 1)
    gated = (lab == MUSCLE) & (h >= lo) & (h <= hi)
    onehot = F.one_hot(lab, N_CLASSES).permute(2, 0, 1).float()
    return _area(torch.cat([h[None], gated[None].float(), onehot]), shape)


def gated_area_labels(frac_gated: torch.Tensor, frac: torch.Tensor, hu: torch.Tensor) -> torch.Tensor:
    """The convention of the module doc: muscle where at least half is HU-gated muscle, or at least half is muscle
    compartment and ``hu`` (the pixel as measured) is out of the gate anyway; else the plurality of the rest."""
    lo, hi = DEFAULT_GATES.muscle
    in_gate = (hu >= lo) & (hu <= hi)
    muscle = (frac_gated >= 0.5) | ((frac[MUSCLE] >= 0.5) & ~in_gate)
    rest = frac.clone()
    rest[MUSCLE] = -1.0
    return torch.where(muscle, torch.full_like(hu, MUSCLE, dtype=torch.int64), rest.argmax(0))


def coarse_labels(hu: np.ndarray, labels: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Native (HU, labels 0..3) -> (coarse HU, coarse labels) on ``shape`` by the convention of the module doc."""
    small = coarse_fractions(hu, labels, shape)
    hu_c = small[0]
    out = gated_area_labels(small[1], small[2:], hu_c)
    return hu_c.numpy().astype(np.float32), out.numpy().astype(np.uint8)


def coarse_copy(
    hu: np.ndarray, labels: np.ndarray | None, row_mm: float, col_mm: float, coarse_mm: float, pixel_mm: float
) -> tuple[np.ndarray, np.ndarray | None]:
    """A native slice re-acquired at ``coarse_mm`` pixels, then put on the model grid (``pixel_mm``)."""
    shape = scaled_shape((hu.shape[0], hu.shape[1]), row_mm, col_mm, coarse_mm)
    crow, ccol = hu.shape[0] * row_mm / shape[0], hu.shape[1] * col_mm / shape[1]
    if labels is None:
        hu_c = _area(torch.as_tensor(np.asarray(hu, np.float32))[None], shape)[0].numpy()
        return resample_slice(hu_c, crow, ccol, pixel_mm), None
    hu_c, lab_c = coarse_labels(hu, labels, shape)
    out = scaled_shape(shape, crow, ccol, pixel_mm)
    lab_m = F.interpolate(torch.as_tensor(lab_c)[None, None].float(), size=out, mode="nearest")[0, 0]
    return resample_slice(hu_c, crow, ccol, pixel_mm), lab_m.numpy().astype(np.uint8)


def draw_coarse_mm(name: str, seed: int, lo_hi: tuple[float, float]) -> float:
    """The coarse pixel size of one slice's copy: uniform in ``lo_hi``, from a stream keyed on its name."""
    key = int(hashlib.sha256(name.encode()).hexdigest()[:15], 16)
    return float(np.random.default_rng([seed, key, 5151]).uniform(*lo_hi))
