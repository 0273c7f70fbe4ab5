"""Phantom variants for the failure modes seen on real L3 slices (issue 15): :func:`variant_slice`.

Each variant is a default-contacts :func:`~sarco_core.phantom.phantom_slice` patient with one seeded change,
and labels that follow the muscle convention (skin, bowel and fluid are never muscle):

* ``anasarca`` - oedematous subcutaneous fat: SAT rendered at 0..20 HU (inside the −29..150 HU muscle gate), the
  SAT geometry unchanged; a mask that leaks into SAT over-counts the gated area;
* ``cachexia`` - almost no subcutaneous fat: SAT (skin included, the phantom's convention) 2.4..3.0 mm all
  round, so no fat plane separates the skin from the wall and back muscles;
* ``bowel_flank`` - a fluid-filled bowel loop (radius 10..16 mm, 2.5 mm wall) against the inner face of the
  lateral wall at the flank, with no fat plane;
* ``ascites`` - free fluid (the bowel-content HU, 5..30 HU) 5..15 mm deep against the inner face of the anterior
  and lateral wall.

Same seed and options -> the same slice; ``variant="none"`` is exactly :func:`phantom_slice` (default contacts).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from sarco_core.phantom.anatomy import Patient
from sarco_core.phantom.params import sample_params
from sarco_core.phantom.slice import PhantomSlice, check_slice_request, pixel_pair
from sarco_core.phantom.spine import build_layout
from sarco_core.phantom.texture import imat_streaks, synthesize_hu, tissue_hu
from sarco_core.phantom.tissues import MUSCLE_TISSUES
from sarco_core.phantom.tissues import TISSUES as T

VARIANTS = ("none", "anasarca", "cachexia", "bowel_flank", "ascites")
ANASARCA_SAT_HU = (0.0, 20.0)
CACHEXIA_SAT_MM = (2.4, 3.0)  # skin (2 mm) included, like PhantomParams.sat_mm
BOWEL_RADIUS_MM = (10.0, 16.0)
BOWEL_WALL_MM = 2.5
ASCITES_DEPTH_MM = (5.0, 15.0)
# cavity tissues a loop or fluid may displace (never muscle, bone, solid organs or vessels)
_SOFT_CAVITY = np.zeros(256, bool)
_SOFT_CAVITY[
    [T["vat"], T["mesentery"], T["bowel_wall"], T["bowel_content"], T["bowel_gas"], T["oral_contrast"], T["feces"]]
] = True
_MUSCLE = np.zeros(256, bool)
_MUSCLE[[T[n] for n in MUSCLE_TISSUES]] = True
_WALL = np.zeros(256, bool)
_WALL[[T[n] for n in ("rectus", "external_oblique", "internal_oblique", "transversus")]] = True


def _wall_inner_face(tissue: np.ndarray) -> npt.NDArray[np.bool_]:
    """Cavity pixels (displaceable soft tissue) touching the abdominal-wall muscles."""
    soft = _SOFT_CAVITY[tissue]
    face: npt.NDArray[np.bool_] = soft & ndi.binary_dilation(_WALL[tissue], iterations=1)  # scipy: untyped
    return face


def _add_bowel_flank(tissue: np.ndarray, rng: np.random.Generator, px: tuple[float, float]) -> np.ndarray:
    face = _wall_inner_face(tissue)
    rr, cc = np.nonzero(face)
    if not rr.size:
        return tissue
    mid_c = 0.5 * (cc.min() + cc.max())
    r_lo, r_hi = np.percentile(rr, 40), np.percentile(rr, 85)  # the flank: lateral, middle-to-back of the cavity
    side = 1 if rng.random() < 0.5 else -1
    sel = (rr >= r_lo) & (rr <= r_hi) & ((cc - mid_c) * side > 0)
    if not sel.any():
        return tissue
    far = np.argmax(np.abs(cc[sel] - mid_c))  # the most lateral point of the inner face
    r0, c0 = rr[sel][far], cc[sel][far]
    rad = float(rng.uniform(*BOWEL_RADIUS_MM))
    # centre inside the cavity, one radius medial of the wall: the loop touches the wall with no fat plane
    cr, ccol = r0, c0 - side * rad / px[1]
    yy, xx = np.ogrid[: tissue.shape[0], : tissue.shape[1]]
    d = np.hypot((yy - cr) * px[0], (xx - ccol) * px[1])
    disc = (d <= rad + 1.0) & _SOFT_CAVITY[tissue]
    out = tissue.copy()
    out[disc] = T["bowel_wall"]
    out[disc & (d <= rad - BOWEL_WALL_MM)] = T["bowel_content"]
    return out


def _add_ascites(tissue: np.ndarray, rng: np.random.Generator, px: tuple[float, float]) -> np.ndarray:
    depth = float(rng.uniform(*ASCITES_DEPTH_MM))
    wall = _WALL[tissue]
    d = ndi.distance_transform_edt(~wall, sampling=px)
    rows = np.nonzero(wall.any(axis=1))[0]
    if not rows.size:
        return tissue
    front = np.zeros(tissue.shape, bool)  # anterior 60 % of the trunk: the fluid lies in front of the viscera
    front[: int(rows[0] + 0.6 * (rows[-1] - rows[0]))] = True
    fluid = (d <= depth) & _SOFT_CAVITY[tissue] & front
    lab, n = ndi.label(fluid)
    if n:  # only the layer connected to the wall's inner face
        ids = np.unique(lab[_wall_inner_face(tissue) & fluid])
        fluid = np.isin(lab, ids[ids > 0])
    out = tissue.copy()
    out[fluid] = T["bowel_content"]
    return out


def variant_slice(
    seed: int,
    variant: str,
    *,
    level: str = "L3",
    pixel_mm: float | tuple[float, float] = 0.8,
    size: int = 512,
    body: str | None = None,
    contrast: bool | None = None,
    arms: bool | None = None,
) -> PhantomSlice:
    """One seeded phantom slice of ``variant`` (one of :data:`VARIANTS`) with labels per the convention."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    check_slice_request(level, size)
    row_mm, col_mm = pixel_pair(pixel_mm)
    vrng = np.random.default_rng([int(seed), 1515, VARIANTS.index(variant)])
    p = sample_params(seed, body=body if variant != "cachexia" else (body or "thin"), contrast=contrast, arms=arms)
    if variant == "cachexia":
        p = replace(
            p,
            sat_mm=tuple(float(vrng.uniform(*CACHEXIA_SAT_MM)) for _ in range(3)),  # type: ignore[arg-type]
            muscle_scale=p.muscle_scale * float(vrng.uniform(0.75, 0.95)),
        )
    layout = build_layout(seed, spine_scale=p.spine_scale, top="T6")
    pat = Patient(p, layout, rows=int(size), cols=int(size), row_mm=row_mm, col_mm=col_mm)
    z = layout.z_of(level, 0.5)
    centre, rad = pat.body_centre_px(z)
    mean, sd = tissue_hu(p)
    mean, sd = mean.copy(), sd.copy()
    if variant == "anasarca":
        oedema = float(vrng.uniform(*ANASARCA_SAT_HU))
        mean[T["sat"]] = oedema
        mean[T["sat_septa"]] = oedema + 20.0
    tissue, vert = pat.render(z)
    rng = np.random.default_rng([int(seed), 555])
    tissue = imat_streaks(tissue, p, rng, (row_mm, col_mm))
    if variant == "bowel_flank":
        tissue = _add_bowel_flank(tissue, vrng, (row_mm, col_mm))
    elif variant == "ascites":
        tissue = _add_ascites(tissue, vrng, (row_mm, col_mm))
    hu = synthesize_hu(tissue, p, rng, (row_mm, col_mm), (mean, sd), pat.arm_streak_px(z), centre, rad)
    return PhantomSlice.from_render(
        hu=hu, tissue=tissue, vertebrae=vert, spacing_mm=(row_mm, col_mm), level=level, seed=seed, z_mm=z, params=p
    )
