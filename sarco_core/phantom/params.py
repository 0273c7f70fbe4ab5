"""The random choices behind one phantom patient (all drawn from one seed)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BODY_TYPES = ("thin", "normal", "overweight", "obese")
_BODY_P = (0.12, 0.3, 0.3, 0.28)

# (half-width a, anterior half-depth, posterior half-depth) ranges in mm and SAT (anterior, lateral, posterior)
_SHAPE = {
    "thin": ((136, 156), (92, 106), (96, 108), (4, 12), (3, 9), (4, 10), (0.8, 1.0)),
    "normal": ((158, 180), (108, 130), (104, 118), (12, 24), (9, 18), (10, 20), (0.9, 1.15)),
    "overweight": ((176, 198), (126, 150), (112, 126), (20, 36), (15, 28), (16, 30), (0.95, 1.2)),
    "obese": ((194, 225), (146, 180), (120, 138), (32, 62), (24, 48), (24, 45), (0.95, 1.25)),
}


@dataclass(frozen=True)
class PhantomParams:
    """Seeded patient choices. Lengths in mm, HU in Hounsfield units."""

    seed: int
    body: str
    half_width_mm: float
    ant_depth_mm: float
    post_depth_mm: float
    ant_exponent: float
    post_exponent: float
    outline_harmonics: tuple[tuple[float, float], ...]  # (amplitude fraction, phase) for k = 2, 3, ...
    centre_mm: tuple[float, float]  # body centre (x: + patient left, y: + posterior) from the image centre
    sat_mm: tuple[float, float, float]  # anterior, lateral, posterior SAT thickness (incl. 2 mm skin)
    muscle_scale: float
    spine_scale: float
    vat_fullness: float  # 0 = cavity mostly bowel/organs, 1 = mostly fat
    imat_fraction: float  # fraction of muscle-compartment pixels that are fat streaks
    muscle_hu: float
    sat_hu: float
    vat_hu: float
    contrast: bool  # intravenous contrast (portal venous phase)
    oral_contrast: bool
    noise_sd_hu: float
    noise_corr_px: float
    cupping_hu: float
    truncated: bool
    arms: bool
    table: bool
    n_bowel_loops: int
    aortic_calcification: bool
    rotation_deg: float  # the whole patient rolled by this angle in the image (+ clockwise on screen)
    extra: dict[str, float] = field(default_factory=dict)


def sample_params(
    seed: int,
    *,
    body: str | None = None,
    contrast: bool | None = None,
    truncated: bool = False,
    arms: bool | None = None,
    table: bool = True,
) -> PhantomParams:
    """Draw every patient choice from ``seed`` (same seed and options -> same patient)."""
    if body is not None and body not in BODY_TYPES:
        raise ValueError(f"body must be one of {BODY_TYPES}, got {body!r}")
    rng = np.random.default_rng([int(seed), 7701])
    bi = int(rng.choice(len(BODY_TYPES), p=_BODY_P))
    body_t = body or BODY_TYPES[bi]
    a_r, ba_r, bp_r, sa_r, sl_r, sp_r, ms_r = _SHAPE[body_t]
    u = rng.uniform
    fat = {"thin": 0.05, "normal": 0.2, "overweight": 0.35, "obese": 0.55}[body_t]
    harm = tuple((float(u(0.0, 0.025)), float(u(0, 2 * np.pi))) for _ in range(4))
    ivc = bool(rng.random() < 0.55) if contrast is None else bool(contrast)
    arms_v = bool(rng.random() < 0.3) if arms is None else bool(arms)
    return PhantomParams(
        seed=int(seed),
        body=body_t,
        half_width_mm=float(u(*a_r)),
        ant_depth_mm=float(u(*ba_r)),
        post_depth_mm=float(u(*bp_r)),
        ant_exponent=float(u(1.9, 2.3)),
        post_exponent=float(u(2.4, 3.4)),
        outline_harmonics=harm,
        centre_mm=(float(u(-8, 8)), float(u(-15, 10))),
        sat_mm=(float(u(*sa_r)), float(u(*sl_r)), float(u(*sp_r))),
        muscle_scale=float(u(*ms_r) * u(0.85, 1.1)),
        spine_scale=float(u(0.92, 1.08)),
        vat_fullness=float(np.clip(fat + u(-0.15, 0.15), 0.05, 0.95)),
        imat_fraction=float(u(0.005, 0.025) + 0.04 * fat * rng.random()),
        muscle_hu=float(u(42, 55) - 14 * fat * rng.random()),
        sat_hu=float(u(-112, -95)),
        vat_hu=float(u(-100, -82)),
        contrast=ivc,
        oral_contrast=bool(rng.random() < 0.35),
        noise_sd_hu=float(u(13, 20) * (1 + 0.3 * fat)),
        noise_corr_px=float(u(0.7, 1.2)),
        cupping_hu=float(u(0, 18)),
        truncated=bool(truncated),
        arms=arms_v,
        table=bool(table),
        n_bowel_loops=int(rng.integers(12, 20)),
        aortic_calcification=bool(rng.random() < 0.4),
        rotation_deg=float(np.random.default_rng([int(seed), 7702]).uniform(-4.0, 4.0)),
        extra={"psoas_scale": float(u(0.8, 1.2)), "liver_tip": float(u(0.0, 1.0)), "kidney_shift": float(u(-0.3, 0.3))},
    )
