"""Teacher step 5: abdominal-wall, back (paraspinal, quadratus lumborum) and flank muscles, by rays from the
fascia interior's centre and a geodesic growth through soft tissue (see :mod:`teacher_anatomy`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from sarco_core.body import dilate
from sarco_core.segment.teacher.anatomy import FAT_HU, ORGAN_BRIGHTER_HU, SOFT_HU, Vertebra, reached
from sarco_core.segment.teacher.tissue import ORGAN_HOT_HU, bright_halo, dark_pieces, muscle_like, organ_like

SEED_DEPTH_MM = 5.0  # seeds of the wall layer: soft tissue within this depth of the fascia
WALL_MAX_MM = 40.0  # abdominal wall muscles are at most this deep from the fascia
BACK_MAX_MM = 110.0  # paraspinal + quadratus lumborum, behind the vertebral body centre
BACK_HALF_WIDTH_MM = 70.0  # rays leaving the back within this distance of the midline may go BACK_MAX_MM deep
PARASPINAL_HALF_WIDTH_MM = 70.0  # erector spinae + multifidus lie within this of the midline, behind the body
PARASPINAL_SEED_MM = 6.0  # soft tissue this close to the posterior elements seeds the paraspinal block
RAY_STEP_DEG = 2.0  # one ray per 2 degrees around the interior centre
ENVELOPE_DEG = 20.0  # a ray's wall may be at most ENVELOPE_MARGIN_MM thicker than the median of ±this
ENVELOPE_MARGIN_MM = 1.5  # (a deep "stop" inside an organ touching the wall is not believed)
STOP_RUN_MM = 3.0  # a fat / air / bone / bright run at least this long ends the wall on a ray
RIB_PASS_HU = 300.0  # samples brighter than this (rib cortex) do not end the wall on a ray
LEAD_SKIP_MM = 8.0  # fat just under the found fascia (bridged by the closing) is skipped
WALL_MARGIN_MM = 2.0
LEAKY_MARGIN_MM = 3.0  # a ray with no stop gets at most the median stopped wall thickness + this
REF_DEPTH_MM = (1.5, 6.0)  # the outer wall at this depth under the fascia gives each ray's muscle HU ...
REF_DEG = 10.0  # ... as a median over ±this
DARK_FASCIA_MM = 4.0  # a dark piece this close to the fascia is fatty wall muscle (see wall_and_back)


@dataclass(frozen=True)
class MuscleResult:
    muscle: np.ndarray  # muscle tissue (before compartment closing)
    leaky_fraction: float  # share of wall directions where no fat plane stopped the wall (organ contact)
    n_rays: int
    thickness_mm: np.ndarray  # wall thickness per ray (after filling and smoothing)


def _circular_fill(values: np.ndarray, known: np.ndarray, default: float) -> npt.NDArray[np.float64]:
    """Fill unknown entries of a circular profile by linear interpolation between known neighbours."""
    if not known.any():
        return np.full(values.shape, default)
    n = values.size
    idx = np.nonzero(known)[0]
    xp = np.concatenate([idx - n, idx, idx + n])
    fp = np.tile(values[idx], 3)
    filled: npt.NDArray[np.float64] = np.interp(np.arange(n), xp, fp)
    return filled


def _envelope(values: np.ndarray, use: np.ndarray) -> np.ndarray:
    """Circular running median over ±ENVELOPE_DEG of the ``use`` entries (others keep +inf: no limit)."""
    n = values.size
    k = max(1, int(round(ENVELOPE_DEG * n / 360.0)))
    v = np.where(use, values, np.nan)
    windows = np.stack([np.roll(v, s) for s in range(-k, k + 1)])
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(windows, axis=0)
    return np.where(use & np.isfinite(med), med, np.inf)


def wall_thickness(
    hs: np.ndarray,
    interior: np.ndarray,
    depth_mm: np.ndarray,
    centre: tuple[float, float],
    max_mm: np.ndarray,
    bright_hu: float,
    px_mm: float,
    organ: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per ray from ``centre``: depth (mm) of the first fat / air / bone / organ-bright run met when walking
    inward from the fascia; unknown (False) where none is met before ``max_mm`` (organ touching the wall)."""
    n = max_mm.size
    theta = np.radians((np.arange(n) + 0.5) * 360.0 / n)
    length = int(np.hypot(*hs.shape)) + 1
    s = np.arange(length, dtype=np.float32)
    r = centre[0] + np.sin(theta)[:, None] * s[None, :]
    c = centre[1] + np.cos(theta)[:, None] * s[None, :]
    coords = np.stack([r, c])
    inside = ndi.map_coordinates(interior.astype(np.uint8), coords, order=0, cval=0) > 0
    hu = ndi.map_coordinates(hs, coords, order=0, cval=-1000.0)
    dep = ndi.map_coordinates(depth_mm, coords, order=0, cval=0.0)
    org = (ndi.map_coordinates(organ.astype(np.uint8), coords, order=0, cval=0) > 0) if organ is not None else None
    thick = np.zeros(n)
    known = np.zeros(n, bool)
    stop_run = max(1, int(round(STOP_RUN_MM / px_mm)))
    lead = int(round(LEAD_SKIP_MM / px_mm))
    for k in range(n):
        idx = np.nonzero(inside[k])[0]
        if idx.size == 0:
            known[k] = True
            continue
        b = int(idx[-1])  # outermost interior sample = the fascia
        prof = hu[k, b::-1]
        d = dep[k, b::-1]
        # fat, gas or organ-bright tissue ends the wall; a rib does not (the wall muscles wrap around it)
        stop = (prof < FAT_HU[1]) | ((prof > bright_hu) & (prof <= RIB_PASS_HU))
        if org is not None:  # an organ brighter than the wall muscle ends it too
            stop |= org[k, b::-1]
        soft_at = np.nonzero(~stop[: lead + 1])[0]
        if soft_at.size == 0:  # only fat under the fascia here: no wall muscle on this ray
            known[k] = True
            continue
        start = int(soft_at[0])
        run = np.convolve(stop[start:].astype(np.int32), np.ones(stop_run, np.int32), "valid") >= stop_run
        hits = np.nonzero(run)[0]
        limit = max_mm[k]
        if hits.size and d[start + hits[0]] <= limit:
            thick[k] = float(d[start + hits[0]])
            known[k] = True
        elif d[start:].size and d[start:].max() < limit:  # reached the centre without a stop: small slice
            thick[k] = float(d[start:].max())
            known[k] = True
    return thick, known


def _ray_reference(
    hs: np.ndarray, soft: np.ndarray, depth_mm: np.ndarray, b: np.ndarray, n: int, default: float
) -> np.ndarray:
    """Per ray: median HU of the outer wall (soft tissue REF_DEPTH_MM deep, partial-volume pixels below 0 HU
    left out) - the wall muscle's own HU - as a circular median over ±REF_DEG (rays with too few pixels are
    interpolated from their neighbours)."""
    zone = soft & (hs >= 0.0) & (depth_mm >= REF_DEPTH_MM[0]) & (depth_mm <= REF_DEPTH_MM[1])
    cnt = np.bincount(b[zone], minlength=n)
    med = np.asarray(ndi.median(hs, labels=np.where(zone, b + 1, 0), index=np.arange(1, n + 1)), float)
    ok = (cnt >= 3) & np.isfinite(med)
    filled = _circular_fill(np.where(ok, med, 0.0), ok, default)
    k = max(1, int(round(REF_DEG * n / 360.0)))
    return np.asarray(np.median(np.stack([np.roll(filled, s) for s in range(-k, k + 1)]), axis=0))


def wall_and_back(
    hs: np.ndarray, interior: np.ndarray, bone: np.ndarray, vert: Vertebra | None, ref: float, px_mm: float
) -> MuscleResult:
    """Abdominal-wall, back (paraspinal, quadratus lumborum) and flank muscles (see module docstring)."""
    depth_mm = (ndi.distance_transform_edt(interior) * px_mm).astype(np.float32)
    bright = ref + ORGAN_BRIGHTER_HU
    rr, cc = np.indices(hs.shape)
    ocy, ocx = ndi.center_of_mass(interior)
    if vert is not None:
        cy, cx = vert.centre_rc
    else:
        ir = np.nonzero(interior.any(axis=1))[0]
        cy, cx = ir[0] + 0.65 * (ir[-1] - ir[0]), ocx
    n = int(round(360.0 / RAY_STEP_DEG))
    theta = np.radians((np.arange(n) + 0.5) * RAY_STEP_DEG)
    # rays that leave through the back (behind the vertebral body centre, near the midline) may go deeper
    t_back = (cy - ocy) / np.maximum(np.sin(theta), 1e-6)
    back_ray = (np.sin(theta) > 0) & (np.abs(ocx + np.cos(theta) * t_back - cx) * px_mm <= BACK_HALF_WIDTH_MM)
    max_mm = np.where(back_ray, BACK_MAX_MM, WALL_MAX_MM)
    ang = np.degrees(np.arctan2(rr - ocy, cc - ocx)) % 360.0
    b = np.minimum((ang / RAY_STEP_DEG).astype(np.int32), n - 1)
    soft = interior & ~bone & (hs >= SOFT_HU[0]) & (hs <= bright)
    cand = interior & ~bone & (hs >= SOFT_HU[0]) & (hs <= ref + ORGAN_HOT_HU)
    organ = organ_like(hs, cand, bone, ref, np.maximum(_ray_reference(hs, soft, depth_mm, b, n, ref), ref)[b], px_mm)
    thick, known = wall_thickness(hs, interior, depth_mm, (ocy, ocx), max_mm, bright, px_mm, organ)
    default = float(np.median(thick[known & ~back_ray])) if (known & ~back_ray).any() else 15.0
    filled = _circular_fill(thick, known, default)
    # where an organ touches the wall (no stop found) the wall is not believed thicker than the typical wall
    filled = np.where(known | back_ray, filled, np.minimum(filled, default + LEAKY_MARGIN_MM))
    thick_all = np.minimum(filled, _envelope(filled, np.ones(n, bool)) + ENVELOPE_MARGIN_MM)

    # dark pieces reaching up to the fascia are fatty wall muscle (elderly), not bowel content: the bowel lies
    # inside the wall muscles, never directly under the SAT
    dark = dark_pieces(hs, soft, ref, px_mm)
    lab, _ = ndi.label(dark)
    outer = np.unique(lab[dark & (depth_mm <= DARK_FASCIA_MM)])
    dark &= ~np.isin(lab, outer[outer > 0])
    medium = muscle_like(hs, soft, ref, px_mm, dark) & ~organ & ~bright_halo(hs, bone, bright, px_mm)
    seed = medium & (depth_mm <= SEED_DEPTH_MM)
    allowed = medium & (depth_mm <= thick_all[b] + WALL_MARGIN_MM)
    block = np.zeros(hs.shape, bool)
    if vert is not None:
        # paraspinal block: everything soft behind the vertebral body, beside the spinous process
        back_row = float(np.nonzero(vert.body.any(axis=1))[0][-1])
        box = medium & (rr >= back_row) & (np.abs(cc - cx) * px_mm <= PARASPINAL_HALF_WIDTH_MM)
        # ... reached through soft tissue from the posterior elements (not the liver / kidney beside them)
        post = vert.mask & (rr >= back_row)
        near_spine = dilate(post, PARASPINAL_SEED_MM / px_mm) & box
        box = box | (soft & organ & (rr >= back_row) & (np.abs(cc - cx) * px_mm <= PARASPINAL_HALF_WIDTH_MM))
        block = reached(near_spine, box)
    muscle = reached(seed | block, allowed | block)
    leaky = float((~known & ~back_ray).sum()) / max(1, int((~back_ray).sum()))
    return MuscleResult(muscle, leaky, n, thick_all)
