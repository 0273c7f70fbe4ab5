"""Tissue map -> HU: per-patient tissue means, texture, partial-volume blur, correlated noise, beam hardening."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from sarco_core.phantom.params import PhantomParams
from sarco_core.phantom.tissues import MUSCLE_TISSUES
from sarco_core.phantom.tissues import TISSUES as T

AIR_PAD_HU = -1024
_MUSCLE_LUT = np.zeros(256, dtype=bool)
_MUSCLE_LUT[[T[n] for n in MUSCLE_TISSUES if n != "imat"]] = True
_BODY_LUT = np.ones(256, dtype=bool)
_BODY_LUT[[T["air"], T["outside_fov"], T["table"], T["table_foam"], T["mattress"]]] = False


def tissue_hu(p: PhantomParams) -> tuple[np.ndarray, np.ndarray]:
    """(mean HU, texture SD) lookup tables indexed by tissue id, drawn for this patient."""
    rng = np.random.default_rng([p.seed, 99])
    u = rng.uniform
    c = p.contrast
    mean = np.zeros(256, dtype=np.float32)
    sd = np.zeros(256, dtype=np.float32)

    def put(name: str, m: float, s: float) -> None:
        mean[T[name]] = m
        sd[T[name]] = s

    mus = p.muscle_hu + (6.0 if c else 0.0)
    put("air", -1000, 2)
    put("outside_fov", AIR_PAD_HU, 0)
    put("skin", mus - 8, 6)
    put("sat", p.sat_hu, 6)
    put("sat_septa", p.sat_hu + u(40, 70), 10)
    put("vat", p.vat_hu, 8)
    put("imat", 0.5 * (p.sat_hu + p.vat_hu) + 5, 8)
    offs = {
        "psoas": 4,
        "erector_spinae": -4,
        "multifidus": -6,
        "rectus": 0,
        "external_oblique": -2,
        "internal_oblique": -1,
        "transversus": 0,
        "latissimus": -3,
        "quadratus_lumborum": 1,
        "iliacus": 2,
        "gluteal": -4,
    }
    for name in MUSCLE_TISSUES:
        if name != "imat":
            put(name, mus + offs.get(name, 0) + u(-2, 2), 5)
    put("vertebral_body", u(130, 250), 35)
    put("vertebral_cortex", u(550, 850), 60)
    put("posterior_elements", u(350, 550), 60)
    put("disc", u(70, 100), 8)
    put("spinal_canal", u(10, 30), 5)
    put("rib", u(300, 480), 50)
    put("cartilage", u(100, 180), 20)
    put("sacrum", u(200, 320), 50)
    put("ilium", u(280, 420), 60)
    put("femur", u(250, 400), 50)
    put("calcification", u(400, 900), 80)
    put("liver", u(95, 125) if c else u(50, 65), 5)
    put("spleen", u(105, 130) if c else u(42, 52), 5)
    put("kidney", u(140, 190) if c else u(28, 38), 7)
    put("renal_sinus_fat", p.vat_hu + 10, 10)
    put("renal_pelvis", u(5, 15), 4)
    put("pancreas", u(85, 110) if c else u(35, 48), 9)
    put("aorta", u(150, 280) if c else u(35, 50), 6)
    put("ivc", u(100, 170) if c else u(35, 50), 8)
    put("vessel", u(120, 200) if c else u(35, 50), 6)
    put("bowel_wall", u(60, 90) if c else u(35, 45), 6)
    put("bowel_content", u(5, 30), 8)
    put("bowel_gas", u(-1000, -950), 10)
    put("oral_contrast", u(180, 450), 30)
    put("feces", u(-120, 10), 70)
    put("lung", u(-880, -820), 25)
    put("bladder", u(5, 15), 4)
    put("gallbladder", u(0, 20), 4)
    put("arm_fat", p.sat_hu, 6)
    put("arm_muscle", p.muscle_hu - 3, 5)
    put("arm_bone", u(600, 900), 120)
    put("table", u(100, 300), 20)
    put("table_foam", u(-960, -880), 10)
    put("mattress", u(-900, -750), 30)
    # drawn last so that the earlier tables (and the default phantom) stay as they were
    put("diaphragm", mus + u(-4, 4), 5)
    put("lymph_node", u(45, 70) if c else u(30, 45), 6)
    put("mesentery", u(-30, 20), 12)
    return mean, sd


def _field(rng: np.random.Generator, shape: tuple[int, int], sigma_px: tuple[float, float]) -> npt.NDArray[np.float32]:
    """Gaussian-filtered white noise scaled to unit SD."""
    w = rng.standard_normal(shape, dtype=np.float32)
    f: npt.NDArray[np.float32] = ndi.gaussian_filter(w, sigma_px, mode="wrap", truncate=3.0)  # scipy: untyped
    s = float(f.std())
    return f / (s if s > 0 else 1.0)


def imat_streaks(
    tissue: np.ndarray, p: PhantomParams, rng: np.random.Generator, spacing_mm: tuple[float, float]
) -> np.ndarray:
    """Thin wavy streaks: muscle -> ``imat`` (label stays 1), SAT -> ``sat_septa`` (label stays 2)."""
    muscle = _MUSCLE_LUT[tissue]
    f = _field(rng, tissue.shape, (2.0 / spacing_mm[0], 2.0 / spacing_mm[1]))
    sat = tissue == T["sat"]
    tissue = tissue.copy()
    tissue[sat & (np.abs(f) < 0.035)] = T["sat_septa"]
    if not muscle.any() or p.imat_fraction <= 0:
        return tissue
    back = (tissue == T["erector_spinae"]) | (tissue == T["multifidus"])
    thr = np.where(back, 1.6, 1.0) * p.imat_fraction / 0.8
    tissue[muscle & (np.abs(f) < thr)] = T["imat"]
    return tissue


def synthesize_hu(
    tissue: np.ndarray,
    p: PhantomParams,
    rng: np.random.Generator,
    spacing_mm: tuple[float, float],
    tables: tuple[np.ndarray, np.ndarray],
    streak_line: tuple[tuple[float, float], tuple[float, float]] | None = None,
    body_centre_px: tuple[float, float] | None = None,
    body_radius_px: float | None = None,
    mean_img: np.ndarray | None = None,
) -> npt.NDArray[np.int16]:
    """HU image (int16) for one tissue slice; ``mean_img`` (partial-volume means) replaces ``mean[tissue]``."""
    mean, sd = tables
    shape = tissue.shape
    rpx, cpx = spacing_mm
    tex = _field(rng, shape, (1.6 / rpx, 1.6 / cpx))
    img = (mean[tissue] if mean_img is None else mean_img) + sd[tissue] * tex
    img = ndi.gaussian_filter(img, (0.45 / rpx, 0.45 / cpx))  # partial volume at edges (~1 mm FWHM)
    inside = tissue != T["outside_fov"]
    body = _BODY_LUT[tissue]
    noise = _field(rng, shape, (p.noise_corr_px * 0.8 / rpx, p.noise_corr_px * 0.8 / cpx))
    img += p.noise_sd_hu * noise
    if body_centre_px is not None and body_radius_px:
        rr, cc = np.ogrid[: shape[0], : shape[1]]
        d2 = ((rr - body_centre_px[0]) ** 2 + (cc - body_centre_px[1]) ** 2) / body_radius_px**2
        img -= (p.cupping_hu * np.clip(1 - d2, 0, 1) * body).astype(np.float32)
    if streak_line is not None:
        (r0, c0), (r1, c1) = streak_line
        rr, cc = np.mgrid[: shape[0], : shape[1]]
        vr, vc = r1 - r0, c1 - c0
        ln = np.hypot(vr * rpx, vc * cpx)
        dist = np.abs((rr - r0) * rpx * vc * cpx - (cc - c0) * cpx * vr * rpx) / max(ln, 1e-6)
        amp = float(rng.uniform(25, 60))
        w = float(rng.uniform(3, 7))
        prof = -amp * np.exp(-((dist / w) ** 2)) + 0.35 * amp * np.exp(-(((dist - 2.2 * w) / w) ** 2))
        img += (prof * body).astype(np.float32)
    img[~inside] = AIR_PAD_HU
    hu: npt.NDArray[np.int16] = np.clip(np.round(img), AIR_PAD_HU, 3071).astype(np.int16)
    return hu
