"""Per-slice geometry of one phantom patient: level coordinate, body outline and spine position at height z."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sarco_core.phantom.params import PhantomParams
from sarco_core.phantom.spine import SpineLayout

N_ANG = 4096


def smooth(x: float, lo: float, hi: float) -> float:
    """Smoothstep 0 at ``lo`` .. 1 at ``hi``."""
    t = min(max((float(x) - lo) / (hi - lo), 0.0), 1.0)
    return t * t * (3 - 2 * t)


def smooth_a(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Element-wise :func:`smooth`."""
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def interp_key(key: float, table: tuple[tuple[float, float], ...]) -> float:
    ks, vs = zip(*table, strict=True)
    return float(np.interp(key, ks, vs))


def level_keys(layout: SpineLayout) -> tuple[np.ndarray, np.ndarray]:
    """Anchor (z, key) pairs: key 0 = the lowest thoracic mid (T12, or T13 with 13 thoracic vertebrae), 1..5 =
    L1..lowest lumbar (evenly), 6 = S1 mid, -1 = the thoracic vertebra above ..."""
    zs, ks = [], []
    n = layout.lumbar_count
    last_t = layout.thoracic_count
    for v in layout.vertebrae:
        if v.name == "S1":
            k = 6.0
        elif v.name.startswith("L"):
            i = int(v.name[1:])
            k = 1.0 + (i - 1) * 4.0 / (n - 1)
        else:
            k = float(int(v.name[1:]) - last_t)
        zs.append(v.mid)
        ks.append(k)
    return np.asarray(zs), np.asarray(ks)


@dataclass(frozen=True)
class Frame:
    """Geometry at one z (mm; x + patient left, y + posterior, image centre = 0)."""

    z: float
    key: float  # continuous level coordinate (see level_keys)
    cx: float
    cy: float
    a: float
    b_ant: float
    b_post: float
    sat_ant: float
    sat_lat: float
    sat_post: float
    ms: float  # muscle scale
    x_s: float  # spine midline
    y_vb: float  # vertebral body centre
    vb_w: float
    vb_ap: float
    canal_w: float
    canal_ap: float
    y_tp: float  # transverse-process line
    tp_len: float  # from midline to tip
    y_lam: float  # lamina
    y_pf: float  # posterior fascia (inner SAT boundary at the midline)
    cav_a: float  # rough cavity half-width
    cav_b: float  # rough cavity half-depth (anterior)
    spine_rot_deg: float = 0.0  # in-plane rotation of the vertebra about its body centre (scoliosis)


class Geometry:
    """z -> :class:`Frame` for one patient, plus angular lookup tables of the outline."""

    def __init__(self, p: PhantomParams, layout: SpineLayout, body_scale: float) -> None:
        self.p = p
        self.layout = layout
        self.s = body_scale
        self.kz, self.kk = level_keys(layout)
        ang = np.linspace(-np.pi, np.pi, N_ANG, endpoint=False)
        self.ang = ang
        h = np.zeros_like(ang)
        for i, (amp, ph) in enumerate(p.outline_harmonics):
            h += amp * np.cos((i + 2) * ang + ph)
        self.harm = 1.0 + h
        self.phi_tab = self.phi_of_theta(ang)
        self._c, self._s, self._post = np.abs(np.cos(ang)), np.abs(np.sin(ang)), np.sin(ang) > 0

    def key(self, z: float) -> float:
        zs, ks = self.kz, self.kk
        if z <= zs[0]:
            return float(ks[0] + (zs[0] - z) / 30.0)
        if z >= zs[-1]:
            return float(ks[-1] - (z - zs[-1]) / 30.0)
        # z increases while key decreases: interpolate on reversed arrays
        return float(np.interp(z, zs, ks))

    def frame(self, z: float) -> Frame:
        p, s = self.p, self.s
        k = self.key(z)
        pelvis = smooth(k, 4.5, 6.5)
        thorax = smooth(-k, -0.5, 1.5)
        a = p.half_width_mm * s * (1 + 0.07 * pelvis + 0.02 * thorax)
        belly = 1.0 - 0.08 * thorax - 0.06 * pelvis
        b_ant = p.ant_depth_mm * s * belly
        b_post = p.post_depth_mm * s
        sat_f = s * (1 - 0.3 * thorax)
        sat_ant, sat_lat, sat_post = (t * sat_f for t in p.sat_mm)
        ms = p.muscle_scale * s  # a patient scaled to fit the field of view is a smaller person throughout
        ss = p.spine_scale * s
        lumbar = smooth(k, -0.5, 1.0)
        vb_w = ss * (interp_key(k, ((-3, 32), (0, 40), (1, 42), (3, 46), (5, 50), (6, 50))))
        vb_ap = ss * (interp_key(k, ((-3, 25), (0, 29), (1, 30), (3, 32), (5, 33), (6, 32))))
        canal_w = ss * (16 + 6 * lumbar)
        canal_ap = ss * (14 + 2 * lumbar)
        para = ms * interp_key(k, ((-3, 34), (0, 40), (2, 46), (4, 50), (5, 46), (6, 30), (8, 20)))
        cx, cy = p.centre_mm[0] * s, p.centre_mm[1] * s
        y_pf = cy + b_post - sat_post
        y_lam = y_pf - para
        y_vb = y_lam - 3 - canal_ap - vb_ap / 2
        y_tp = y_vb + vb_ap / 2 + 0.35 * canal_ap
        tp_len = ss * interp_key(k, ((-3, 30), (0, 32), (1, 40), (3, 48), (5, 44), (6, 50)))
        cav_a = a - sat_lat - 20 * ms
        cav_b = b_ant - sat_ant - 12 * ms
        shift, rot = self.layout.curve(z)  # (0, 0) unless the phantom has a scoliosis
        return Frame(
            z,
            k,
            cx,
            cy,
            a,
            b_ant,
            b_post,
            sat_ant,
            sat_lat,
            sat_post,
            ms,
            cx + shift,
            y_vb,
            vb_w,
            vb_ap,
            canal_w,
            canal_ap,
            y_tp,
            tp_len,
            y_lam,
            y_pf,
            cav_a,
            cav_b,
            rot,
        )

    def radius_table(self, f: Frame) -> npt.NDArray[np.float64]:
        """Body outline radius (mm) per table angle theta (atan2(y - cy, x - cx))."""
        c, s, post = self._c, self._s, self._post
        n = np.where(post, self.p.post_exponent, self.p.ant_exponent)
        b = np.where(post, f.b_post, f.b_ant)
        r = (c**n / f.a**n + s**n / b**n) ** (-1.0 / n)
        radius_mm: npt.NDArray[np.float64] = r * self.harm  # NumPy's stubs: Any for arrays of unknown dtype
        return radius_mm

    @staticmethod
    def phi_of_theta(ang: np.ndarray) -> npt.NDArray[np.float64]:
        """Angle from the anterior midline (0 anterior, ±pi posterior, + toward patient left)."""
        phi: npt.NDArray[np.float64] = np.arctan2(np.cos(ang), -np.sin(ang))
        return phi

    def sat_table(self, f: Frame) -> npt.NDArray[np.float64]:
        c = np.cos(self.phi_tab)
        t = f.sat_lat + (f.sat_ant - f.sat_lat) * np.clip(c, 0, None) ** 1.5
        t = t + (f.sat_post - f.sat_lat) * np.clip(-c, 0, None) ** 1.5
        sat_mm: npt.NDArray[np.float64] = t * (1 + 0.5 * (self.harm - 1))
        return sat_mm
