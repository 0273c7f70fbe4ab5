"""Acquisition and anatomy variants applied to a rendered phantom (robustness sweeps of the L3 finder, issue 14).

Everything here is deterministic (seeded) and works on a :class:`~sarco_core.phantom.volume.PhantomVolume` or a HU
array, so the base phantom renders exactly as before:

* :func:`overlapping_slices`: thick slices reconstructed at a smaller spacing (e.g. 5 mm every 4.25 mm, as on PET/CT
  low-dose series), by averaging a finely rendered stack over each slab;
* :func:`low_dose`: extra, slightly correlated noise (low-dose CT, sigma >= 40 HU);
* :func:`low_density_bodies`: cancellous bone of chosen vertebral bodies made darker (osteoporosis, a low-density L5);
* :func:`emulate_kvp`: a rough tube-voltage change (bone and iodine brighter at low kVp, fat a little darker).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage as ndi

from sarco_core.phantom.tissues import TISSUES, VERTEBRA_IDS
from sarco_core.phantom.volume import PhantomVolume
from sarco_core.volume import Volume

# Rough kVp behaviour relative to 120 kVp: iodine and bone HU scale about as (120/kVp)^0.9 (iodine enhancement is
# about 1.6x at 80 kVp: Yu L et al., AJR 2011;196:W739; bone a little less), fat about as (120/kVp)^0.25.
KVP_BONE_EXP, KVP_FAT_EXP = 0.9, 0.25
BRIGHT_HU, FAT_HU = 100.0, -30.0  # values above / below these follow the bone / fat law; between: unchanged


def emulate_kvp(hu: np.ndarray, kvp: float) -> np.ndarray:
    """``hu`` as it would look at ``kvp`` instead of 120 kVp (continuous piecewise scaling; air stays air)."""
    if not 60.0 <= kvp <= 150.0:
        raise ValueError(f"kvp must lie in 60..150, got {kvp}")
    x = np.asarray(hu, np.float32)
    fb = (120.0 / kvp) ** KVP_BONE_EXP
    ff = (120.0 / kvp) ** KVP_FAT_EXP
    out = x.copy()
    hi = x > BRIGHT_HU
    out[hi] = BRIGHT_HU + (x[hi] - BRIGHT_HU) * fb
    lo = (x < FAT_HU) & (x > -500.0)
    out[lo] = FAT_HU + (x[lo] - FAT_HU) * ff
    return np.clip(np.round(out), -1024, 3071).astype(np.int16)


def _with_hu(
    ph: PhantomVolume,
    hu: np.ndarray,
    *,
    spacing_mm: float | None = None,
    z0_mm: float | None = None,
    thickness_mm: float | None = None,
) -> Volume:
    v = ph.volume
    sp = v.spacing_mm
    meta = replace(v.meta, slice_thickness_mm=thickness_mm) if thickness_mm is not None else v.meta
    return Volume.from_array(
        hu=hu,
        spacing_mm=(spacing_mm or float(sp.slice or 1.0), sp.row, sp.col),
        z0_mm=float(v.z_mm[0]) if z0_mm is None else z0_mm,
        meta=meta,
    )


def overlapping_slices(ph: PhantomVolume, *, thickness_mm: float = 5.0, spacing_mm: float = 4.25) -> Volume:
    """Slabs ``thickness_mm`` thick every ``spacing_mm`` from a finely rendered phantom (render it at <= 1 mm)."""
    v = ph.volume
    step = float(v.spacing_mm.slice or 1.0)
    if step > 0.5 * thickness_mm:
        raise ValueError(f"render the phantom at <= {thickness_mm / 2:.1f} mm slices first (got {step} mm)")
    z = v.z_mm
    centres = np.arange(z[0] + thickness_mm / 2, z[-1] - thickness_mm / 2 + 1e-6, spacing_mm)
    hu = np.empty((centres.size, *v.hu.shape[1:]), np.int16)
    for i, c in enumerate(centres):
        sel = np.abs(z - c) <= thickness_mm / 2
        hu[i] = np.round(v.hu[sel].astype(np.float32).mean(axis=0)).astype(np.int16)
    return _with_hu(ph, hu, spacing_mm=spacing_mm, z0_mm=float(centres[0]), thickness_mm=thickness_mm)


def low_dose(volume: Volume, *, sd_hu: float = 45.0, seed: int = 0) -> Volume:
    """``volume`` with extra Gaussian noise (correlated over about one pixel) of ``sd_hu`` inside the body."""
    rng = np.random.default_rng([int(seed), 9041])
    hu = volume.hu.astype(np.float32)
    noise = ndi.gaussian_filter(rng.standard_normal(hu.shape).astype(np.float32), sigma=(0, 0.8, 0.8))
    noise *= sd_hu / max(float(noise.std()), 1e-6)
    body = hu > -500.0
    hu[body] += noise[body]
    sp = volume.spacing_mm
    return Volume.from_array(
        hu=np.clip(np.round(hu), -1024, 3071).astype(np.int16),
        spacing_mm=(float(sp.slice or 1.0), sp.row, sp.col),
        z0_mm=float(volume.z_mm[0]),
        meta=volume.meta,
    )


def low_density_bodies(ph: PhantomVolume, *, names: tuple[str, ...] | None = None, delta_hu: float = -90.0) -> Volume:
    """Cancellous bone of the vertebral bodies ``names`` (None: all) made ``delta_hu`` darker (osteoporosis)."""
    ids = [VERTEBRA_IDS[n] for n in (names or tuple(VERTEBRA_IDS)) if n in VERTEBRA_IDS]
    sel = (ph.tissue == TISSUES["vertebral_body"]) & np.isin(ph.vertebrae, ids)
    hu = ph.volume.hu.astype(np.float32)
    hu[sel] += delta_hu
    return _with_hu(ph, np.clip(np.round(hu), -1024, 3071).astype(np.int16))
