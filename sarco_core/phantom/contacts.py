"""``contacts="hard"``: the anatomy that makes real CT hard to segment - viscera touching muscle with no fat plane.

* bowel / colon / stomach loops pressed against the abdominal wall (wall and content at muscle HU, gas bubbles,
  oral contrast, collapsed loops that are soft tissue throughout);
* liver (right) and spleen (left) against the lateral / posterior wall at T12-L2;
* diaphragmatic crura (tissue ``diaphragm``, label 0: not skeletal muscle area, as in the L3 protocol) from
  the antero-lateral vertebral body to the aorta, and a thin posterior diaphragm lying on the back wall above L1;
* para-aortic lymph nodes touching the psoas / vertebral body (label 0);
* no fat plane between the oblique muscles at the flanks (label unchanged: all muscle).

The aorta / IVC moves (touching the vertebral body) are arguments of :func:`paint_organs`. Every choice here
comes from its own seeded stream, so ``contacts="default"`` renders exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from sarco_core.phantom.canvas import Canvas
from sarco_core.phantom.frame import Frame, Geometry, smooth
from sarco_core.phantom.tissues import TISSUES as T

CONTACT_MODES = ("default", "hard")
WALL = [
    T[n]
    for n in (
        "rectus",
        "external_oblique",
        "internal_oblique",
        "transversus",
        "latissimus",
        "quadratus_lumborum",
        "psoas",
        "erector_spinae",
        "imat",
    )
]
_WALL_LUT = np.zeros(256, dtype=bool)
_WALL_LUT[WALL] = True
_STOP_LUT = np.zeros(256, dtype=bool)
_STOP_LUT[[T["skin"], T["sat"], T["air"], T["outside_fov"], T["rib"], T["vertebral_cortex"]]] = True
BOWEL = [T[n] for n in ("bowel_wall", "bowel_content", "bowel_gas", "oral_contrast", "feces")]
V = [T["vat"]]


def check_contacts(contacts: str) -> str:
    if contacts not in CONTACT_MODES:
        raise ValueError(f"contacts must be one of {CONTACT_MODES}, got {contacts!r}")
    return contacts


@dataclass(frozen=True)
class WallLoop:
    """A bowel loop pressed against the wall at angle ``phi`` (0 anterior, + patient left, rad)."""

    phi: float
    key: float
    hz: float  # half-length along z (mm)
    r: float  # radial half-size (mm); the tangential one is ``r * stretch``
    stretch: float
    kind: str  # feces | gas | fluid | contrast | collapsed
    wall_mm: float
    bubbles: tuple[tuple[float, float, float], ...]  # (tangential, radial offset fraction, radius mm)


@dataclass(frozen=True)
class HardPlan:
    loops: tuple[WallLoop, ...]
    liver: tuple[float, float]  # (phi, size fraction of the cavity)
    spleen: tuple[float, float]
    crus_mm: tuple[float, float]  # right, left thickness
    crus_bottom: tuple[float, float]  # right, left lowest level key
    diaphragm_mm: float
    strand_width: float  # |field| threshold of the mesenteric strands (~ their share of the cavity fat / 0.8)
    nodes: tuple[tuple[float, float, float, float], ...]  # (side, dy mm, radius mm, level key)
    flank_no_plane: tuple[bool, bool]  # right, left
    flank_thin: tuple[bool, bool]  # right, left: no transversus layer at the flank (thin wall)
    aorta_r_mm: float
    aorta_gap_mm: float  # gap to the vertebral body (<= 0: touching)
    ivc_dy_mm: float
    kidney_dy_mm: float  # kidneys moved back onto the psoas / quadratus lumborum
    liver_front: tuple[float, float]  # (phi, size): the liver under the right anterior wall / costal margin


def sample_hard(seed: int, oral_contrast: bool) -> HardPlan:
    """Per-patient hard-contact choices from their own seeded stream."""
    rng = np.random.default_rng([int(seed), 4242])
    u = rng.uniform
    loops = []
    # colon at the flanks (ascending right, descending left), hepatic / splenic flexures, small bowel anteriorly
    spots = [
        (-u(1.35, 1.95), u(2.0, 4.5), "colon"),
        (u(1.35, 2.05), u(1.5, 4.5), "colon"),
        (-u(0.7, 1.2), u(0.8, 2.0), "colon"),
        (u(0.9, 1.4), u(0.3, 1.5), "colon"),
    ]
    spots += [(u(-1.1, 1.1), u(1.2, 5.0), "small") for _ in range(int(rng.integers(4, 9)))]
    spots.append((u(0.3, 1.0), u(-0.8, 0.8), "stomach"))
    for phi, key, where in spots:
        if where == "colon":
            kind = str(rng.choice(["feces", "gas", "collapsed", "fluid"], p=[0.45, 0.2, 0.2, 0.15]))
            r, hz, wall = u(12, 22), u(50, 110), u(2.0, 3.5)
        elif where == "stomach":  # rugal folds: a thick wall; food, fluid, contrast, gas
            kind = str(rng.choice(["feces", "fluid", "contrast", "gas"], p=[0.3, 0.3, 0.25, 0.15]))
            r, hz, wall = u(22, 36), u(50, 90), u(4.0, 7.0)
        else:
            kind = str(rng.choice(["fluid", "collapsed", "contrast", "gas"], p=[0.35, 0.35, 0.2, 0.1]))
            r, hz, wall = u(9, 17), u(30, 70), u(2.0, 3.0)
        if kind == "contrast" and not oral_contrast:
            kind = "fluid"
        bub = tuple(
            (float(u(-0.6, 0.6)), float(u(-0.5, 0.3)), float(u(1.5, 4.5))) for _ in range(int(rng.integers(0, 4)))
        )
        loops.append(WallLoop(float(phi), float(key), float(hz), float(r), float(u(1.3, 2.4)), kind, float(wall), bub))
    nodes = tuple(
        (float(rng.choice([-1.0, 1.0])), float(u(-6, 8)), float(u(3.5, 7.0)), float(u(0.5, 4.0)))
        for _ in range(int(rng.integers(1, 4)))
    )
    return HardPlan(
        loops=tuple(loops),
        liver=(-float(u(1.5, 2.3)), float(u(0.3, 0.45))),
        spleen=(float(u(1.7, 2.4)), float(u(0.22, 0.35))),
        crus_mm=(float(u(8, 14)), float(u(6, 11))),
        crus_bottom=(float(u(2.2, 3.0)), float(u(1.4, 2.1))),
        diaphragm_mm=float(u(3, 6)),
        strand_width=float(u(0.06, 0.14)),
        nodes=nodes,
        flank_no_plane=(bool(rng.random() < 0.7), bool(rng.random() < 0.7)),
        flank_thin=(bool(rng.random() < 0.4), bool(rng.random() < 0.4)),
        aorta_r_mm=float(u(7.5, 11.0)),
        aorta_gap_mm=float(u(-2.0, 0.0)),
        ivc_dy_mm=float(u(6.0, 9.0)),
        kidney_dy_mm=float(u(4.0, 14.0)),
        liver_front=(-float(u(0.45, 1.1)), float(u(0.25, 0.4))),
    )


STRAND_GRID_MM = 1.0
STRAND_HALF_MM = 320.0


@lru_cache(maxsize=4)
def strand_field(seed: int) -> npt.NDArray[np.float32]:
    """A smooth random field on a fixed 1 mm patient grid (constant along z); its zero crossings are strands."""
    n = int(2 * STRAND_HALF_MM / STRAND_GRID_MM)
    w = np.random.default_rng([int(seed), 4243]).standard_normal((n, n)).astype(np.float32)
    f: npt.NDArray[np.float32] = ndi.gaussian_filter(w, 5.0 / STRAND_GRID_MM, mode="wrap")  # scipy: untyped
    return f / float(f.std())


def _strands(cv: Canvas, seed: int, width: float) -> None:
    """Thin curved strands (mesenteric vessels / fibrous septa) through the cavity fat."""
    fat = cv.tissue == T["vat"]
    if not fat.any():
        return
    fld = strand_field(seed)
    n = fld.shape[0]
    ix = np.clip(((cv.X[fat] + STRAND_HALF_MM) / STRAND_GRID_MM).astype(np.int32), 0, n - 1)
    iy = np.clip(((cv.Y[fat] + STRAND_HALF_MM) / STRAND_GRID_MM).astype(np.int32), 0, n - 1)
    sel = np.zeros(fat.shape, bool)
    sel[fat] = np.abs(fld[iy, ix]) < width
    cv.tissue[sel] = T["mesentery"]


WARP_MM = 2.0  # SD of the smooth displacement that makes ellipse organs, loops and outlines less regular


@lru_cache(maxsize=4)
def warp_field(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two smooth random displacement components (mm, SD ``WARP_MM``) on the fixed 1 mm patient grid."""
    n = int(2 * STRAND_HALF_MM / STRAND_GRID_MM)
    rng = np.random.default_rng([int(seed), 4244])
    out = []
    for _ in range(2):
        f = ndi.gaussian_filter(rng.standard_normal((n, n)).astype(np.float32), 20.0 / STRAND_GRID_MM, mode="wrap")
        out.append(f * (WARP_MM / float(f.std())))
    return out[0], out[1]


def warp(cv: Canvas, seed: int) -> None:
    """Resample the tissue and vertebra maps through a smooth displacement (constant along z): shapes lose
    their perfect ellipses; labels stay exact (they are read from the warped tissue map)."""
    fx, fy = warp_field(seed)
    n = fx.shape[0]
    ix = np.clip(((cv.X + STRAND_HALF_MM) / STRAND_GRID_MM).astype(np.int32), 0, n - 1)
    iy = np.clip(((cv.Y + STRAND_HALF_MM) / STRAND_GRID_MM).astype(np.int32), 0, n - 1)
    dx, dy = fx[iy, ix], fy[iy, ix]  # patient frame; rotate into the image frame
    dc = (cv.rc * dx - cv.rs * dy) / cv.col_mm
    dr = (cv.rs * dx + cv.rc * dy) / cv.row_mm
    rr, cc = np.mgrid[0 : cv.rows, 0 : cv.cols]
    r = np.clip(np.rint(rr + dr), 0, cv.rows - 1).astype(np.intp)
    c = np.clip(np.rint(cc + dc), 0, cv.cols - 1).astype(np.intp)
    cv.tissue[:] = cv.tissue[r, c]
    cv.vert[:] = cv.vert[r, c]


def _centre(f: Frame) -> tuple[float, float]:
    """Ray origin: the middle of the abdominal cavity in front of the spine."""
    return f.x_s, f.y_vb - f.vb_ap / 2 - 0.45 * max(f.cav_b, 50.0)


def wall_hit(cv: Canvas, f: Frame, phi: float) -> tuple[float, float] | None:
    """First wall-muscle point on the ray from the cavity centre at angle ``phi`` (None when none is met)."""
    ox, oy = _centre(f)
    dx, dy = np.sin(phi), -np.cos(phi)
    for d in np.arange(10.0, 450.0, 0.5):
        x, y = ox + d * dx, oy + d * dy
        r, c = cv.to_px(x, y)
        ri, ci = int(round(r)), int(round(c))
        if not (0 <= ri < cv.rows and 0 <= ci < cv.cols):
            return None
        t = cv.tissue[ri, ci]
        if _WALL_LUT[t]:
            return float(x), float(y)
        if _STOP_LUT[t]:
            return None
    return None


def _pressed(
    cv: Canvas, f: Frame, phi: float, ax: float, ay: float, tissue: int, where: list[int], into_mm: float = 2.0
) -> bool:
    """Paint an ellipse (``ax`` along the wall, ``ay`` across) whose outer edge sinks ``into_mm`` into the wall."""
    hit = wall_hit(cv, f, phi)
    if hit is None:
        return False
    d = ay - into_mm
    cx, cy = hit[0] - d * np.sin(phi), hit[1] + d * np.cos(phi)
    cv.ellipse(cx, cy, ax, ay, tissue, rot_deg=float(np.degrees(phi)), where=where)
    return True


def _loop(cv: Canvas, f: Frame, lp: WallLoop, e: float) -> None:
    hit = wall_hit(cv, f, lp.phi)
    if hit is None:
        return
    ay, ax = lp.r * e, lp.r * lp.stretch * e
    if ay < 4.0:
        return
    d = ay - 2.0
    nx, ny = np.sin(lp.phi), -np.cos(lp.phi)  # outward normal
    tx, ty = np.cos(lp.phi), np.sin(lp.phi)  # along the wall
    cx, cy = hit[0] - d * nx, hit[1] - d * ny
    rot = float(np.degrees(lp.phi))
    outer = cv.blob(cx, cy, ax, ay, rot)
    cv.paint(outer, T["bowel_wall"], where=V + BOWEL + [T["vessel"]])
    w = lp.wall_mm
    inner = cv.blob(cx, cy, max(ax - w, 0.5), max(ay - w, 0.5), rot)
    if inner is None or outer is None:
        return
    iw, im = inner
    mine = im & (cv.tissue[iw] == T["bowel_wall"])
    if lp.kind == "collapsed":  # soft tissue throughout: a thin slit of mucus / fluid in the middle
        slit = cv.blob(cx, cy, max(ax - 2 * w, 0.5), 1.0, rot)
        if slit is not None:
            sw, sm = slit
            cv.tissue[sw][sm & (cv.tissue[sw] == T["bowel_wall"])] = T["bowel_content"]
        return
    content = {
        "feces": T["feces"],
        "gas": T["bowel_content"],
        "fluid": T["bowel_content"],
        "contrast": T["oral_contrast"],
    }[lp.kind]
    cv.tissue[iw][mine] = content
    if lp.kind == "gas":  # gas rises (image frame): the anterior part of the lumen
        level = cv.unrotate(cx, cy)[1] - 0.2 * ay
        cv.tissue[iw][mine & (cv.Y0[iw] < level)] = T["bowel_gas"]
    for ot, orad, br in lp.bubbles:
        bx = cx + ot * ax * tx + orad * ay * nx
        by = cy + ot * ax * ty + orad * ay * ny
        cv.ellipse(bx, by, br, br, T["bowel_gas"], where=[content])


def paint_hard(
    cv: Canvas,
    g: Geometry,
    f: Frame,
    plan: HardPlan,
    zkey_mm: float,
    liver_tip: float,
    spleen_bottom: float,
    aorta_x_mm: float,
    aorta_y_mm: float,
) -> None:
    """Apply the hard-contact anatomy of ``plan`` to the slice already painted on ``cv``."""
    k = f.key
    ca, cb = max(f.cav_a, 60.0), max(f.cav_b, 50.0)
    y_ant_vb = f.y_vb - f.vb_ap / 2
    # flanks: no fat plane between the oblique muscles (label stays muscle)
    for side, flag, thin in zip((-1, 1), plan.flank_no_plane, plan.flank_thin, strict=True):
        this = (cv.X - f.x_s) * side > 0
        if flag or thin:
            cv.tissue[this & (cv.tissue == T["imat"])] = T["internal_oblique"]
        if thin:  # a thin flank: no transversus, so viscera reach the internal oblique
            cv.tissue[this & (cv.tissue == T["transversus"])] = T["vat"]
    # posterior diaphragm lying on the back wall (T11-L1) and the crura (to L2-L3 on the right, L1-L2 left)
    dia = 1.0 - smooth(k, 0.2, 1.2)
    if dia > 0.05:
        _diaphragm(cv, f, plan.diaphragm_mm * (0.5 + 0.5 * dia))
    crus_where = V + BOWEL + [T[n] for n in ("liver", "spleen", "pancreas", "vessel", "ivc", "lymph_node")]
    ar = plan.aorta_r_mm
    for s, t_mm, kb in zip((-1, 1), plan.crus_mm, plan.crus_bottom, strict=True):
        taper = 1.0 - smooth(k, kb - 1.0, kb)
        if k < -2.0 or taper <= 0.05:
            continue
        rad = 0.5 * t_mm * (0.6 + 0.4 * taper)
        # from the antero-lateral vertebral body (50 deg off the midline) along the side of the aorta; above L1
        # the two crura arch in front of it (median arcuate ligament)
        pts = [
            (f.x_s + s * np.sin(0.87) * f.vb_w / 2, f.y_vb - np.cos(0.87) * f.vb_ap / 2),
            (aorta_x_mm + s * (ar + rad), aorta_y_mm + 0.3 * ar),
            (aorta_x_mm + s * (ar + rad), aorta_y_mm - 0.5 * ar),
        ]
        meet = 1.0 - smooth(k, 0.6, 1.4)
        if meet > 0.05:
            pts.append((aorta_x_mm + s * 0.5 * rad, aorta_y_mm - ar - rad * meet))
        for (xa, ya), (xb, yb) in zip(pts[:-1], pts[1:], strict=True):
            for tt in np.linspace(0.0, 1.0, max(2, int(np.hypot(xb - xa, yb - ya) / 1.0))):
                cv.ellipse(xa + (xb - xa) * tt, ya + (yb - ya) * tt, rad, rad, T["diaphragm"], where=crus_where)
    # liver and spleen reaching the lateral / posterior wall
    if k < liver_tip + 0.3:
        e = float(np.clip((liver_tip + 0.3 - k) / 1.2, 0.0, 1.0)) ** 0.5
        phi, size = plan.liver
        if e > 0.1:
            _pressed(cv, f, phi, size * ca * e * 1.3, size * cb * e, T["liver"], V + BOWEL)
        phi, size = plan.liver_front
        e = float(np.clip((liver_tip - 0.2 - k) / 1.0, 0.0, 1.0)) ** 0.5
        if e > 0.1:
            _pressed(cv, f, phi, size * ca * e * 1.4, size * cb * e, T["liver"], V + BOWEL)
    if k < spleen_bottom + 0.2:
        e = float(np.clip((spleen_bottom + 0.2 - k) / 1.0, 0.0, 1.0)) ** 0.5
        phi, size = plan.spleen
        if e > 0.1:
            _pressed(cv, f, phi, size * ca * e * 1.4, size * cb * e, T["spleen"], V + BOWEL)
    # para-aortic / paracaval lymph nodes touching the psoas and vertebral body
    for side_f, dy, r, kc in plan.nodes:
        if abs(k - kc) * zkey_mm < 2.5 * r:
            cv.ellipse(f.x_s + side_f * (f.vb_w / 2 + r - 1.0), y_ant_vb + dy, r, r * 0.8, T["lymph_node"], where=V)
    for lp in plan.loops:
        dz = (k - lp.key) * zkey_mm
        e = float(np.sqrt(max(1.0 - (dz / lp.hz) ** 2, 0.0)))
        if e > 0.3:
            _loop(cv, f, lp, e)
    _strands(cv, g.p.seed, plan.strand_width)


def _diaphragm(cv: Canvas, f: Frame, t_mm: float) -> None:
    """Fat within ``t_mm`` of the posterior / lateral wall muscles (behind the cavity centre) -> diaphragm."""
    wall = _WALL_LUT[cv.tissue]
    fat = cv.tissue == T["vat"]
    dist = ndi.distance_transform_edt(~wall, sampling=(cv.row_mm, cv.col_mm))
    ox, oy = _centre(f)
    post = (cv.Y - oy) > 0.3 * np.abs(cv.X - ox)
    cv.tissue[fat & post & (dist <= t_mm)] = T["diaphragm"]
