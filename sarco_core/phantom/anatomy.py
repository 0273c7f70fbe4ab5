"""One phantom patient in 3-D: renders the tissue and vertebra maps of any axial slice at height z."""

from __future__ import annotations

import numpy as np

from sarco_core.phantom.body import Polar, paint_arms, paint_back, paint_body, table_map
from sarco_core.phantom.canvas import Canvas
from sarco_core.phantom.contacts import check_contacts, paint_hard, sample_hard, warp
from sarco_core.phantom.frame import Geometry
from sarco_core.phantom.organs import paint_organs, sample_organs
from sarco_core.phantom.params import PhantomParams
from sarco_core.phantom.skeleton import (
    lumbar_rib_set,
    paint_lumbar_rib,
    paint_pelvis,
    paint_ribs,
    paint_spine,
    rib_set,
)
from sarco_core.phantom.spine import SpineLayout
from sarco_core.phantom.tissues import TISSUES as T


class Patient:
    """Geometry + seeded 3-D structures (ribs, bowel, arms, table) of one phantom patient on one pixel grid."""

    def __init__(
        self,
        p: PhantomParams,
        layout: SpineLayout,
        *,
        rows: int,
        cols: int,
        row_mm: float,
        col_mm: float,
        contacts: str = "default",
    ) -> None:
        self.fov_r = 0.5 * min(rows * row_mm, cols * col_mm)
        rng = np.random.default_rng([p.seed, 31337])
        reach = max(
            p.half_width_mm + abs(p.centre_mm[0]),
            p.ant_depth_mm + abs(p.centre_mm[1]),
            p.post_depth_mm + abs(p.centre_mm[1]),
        )
        if p.truncated:
            scale = self.fov_r * rng.uniform(1.03, 1.12) / (p.half_width_mm + abs(p.centre_mm[0]))
        else:
            scale = min(1.0, 0.96 * self.fov_r / reach)
        self.p = p
        self.layout = layout
        self.g = Geometry(p, layout, scale)
        self.cv = Canvas(rows, cols, row_mm, col_mm, p.rotation_deg)
        f0 = self.g.frame(layout.z_of(layout.lumbar()[min(2, layout.lumbar_count - 1)]))
        self.pol = Polar(self.cv, f0.cx, f0.cy)
        self.ribs = rib_set(self.g, rng)
        self.lumbar_ribs = lumbar_rib_set(self.g, p.seed) if layout.lumbar_rib else []
        self.organs = sample_organs(self.g, rng)
        self.contacts = contacts
        self.hard = sample_hard(p.seed, p.oral_contrast) if check_contacts(contacts) == "hard" else None
        kz, kk = self.g.kz, self.g.kk
        self.zkey_mm = float(abs((kz[-1] - kz[0]) / (kk[-1] - kk[0])))
        self.arm = {
            "r": rng.uniform(32, 42) * (1 + 0.5 * p.vat_fullness),
            "gap": rng.uniform(4, 25),
            "dy": rng.uniform(-25, 10),
            "fat": rng.uniform(4, 8) + 15 * p.vat_fullness,
            "bones": float(rng.integers(1, 3)),
            "bone_r": rng.uniform(7, 11),
        }
        self.table = {
            "gap": rng.uniform(0, 3),
            "curve": rng.uniform(1e-4, 4e-4),
            "half_width": rng.uniform(190, 240),
            "mattress": float(rng.uniform(8, 25)) if rng.random() < 0.4 else 0.0,
            "thick": rng.uniform(30, 50),
        }
        body0 = self.g.radius_table(f0)[self.pol.idx] >= self.pol.rho
        low = float(self.cv.Y0[body0].max()) if body0.any() else f0.cy + p.post_depth_mm * scale
        self.y_table = low + self.table["gap"]  # the back rests on the table (image frame)
        self.table_px = table_map(self.cv, self.y_table, self.table) if p.table else None

    def render(self, z: float) -> tuple[np.ndarray, np.ndarray]:
        """(tissue uint8, vertebra id uint8) maps of the slice centred at ``z`` (mm)."""
        cv, g = self.cv, self.g
        cv.tissue[:] = T["air"]
        cv.vert[:] = 0
        f = g.frame(z)
        m = paint_body(cv, g, f, self.pol)
        paint_back(cv, f, m, self.p.extra["psoas_scale"])
        paint_spine(cv, g, f)
        paint_pelvis(cv, g, f)
        h, o = self.hard, self.organs
        if h is None:
            paint_organs(cv, g, f, o, self.zkey_mm)
        else:
            ax, ay = paint_organs(cv, g, f, o, self.zkey_mm, h.aorta_r_mm, h.aorta_gap_mm, h.ivc_dy_mm, h.kidney_dy_mm)
            paint_hard(cv, g, f, h, self.zkey_mm, o.liver_tip, o.spleen_bottom, ax, ay)
        if self.ribs:
            R_tab = g.radius_table(f)
            paint_ribs(cv, g, f, self.ribs, R_tab, g.sat_table(f))
        if self.lumbar_ribs:
            paint_lumbar_rib(cv, f, self.lumbar_ribs)
        if self.p.arms:
            paint_arms(cv, f, self.arm)
        if self.hard is not None:
            warp(cv, self.p.seed)
        if self.table_px is not None:
            free = (cv.tissue == T["air"]) & (self.table_px > 0)
            cv.tissue[free] = self.table_px[free]
        fov = (cv.X**2 + cv.Y**2) > self.fov_r**2
        cv.tissue[fov] = T["outside_fov"]
        cv.vert[fov] = 0
        return cv.tissue.copy(), cv.vert.copy()

    def arm_streak_px(self, z: float) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """Row/col end points of the beam-hardening streak between the arm bones (None without arms)."""
        if not self.p.arms:
            return None
        f = self.g.frame(z)
        cv = self.cv
        pts = []
        for s in (-1, 1):
            x = f.cx + s * (f.a + self.arm["gap"] + self.arm["r"])
            y = f.cy + self.arm["dy"]
            pts.append(cv.to_px(x, y))
        return pts[0], pts[1]

    def body_centre_px(self, z: float) -> tuple[tuple[float, float], float]:
        f = self.g.frame(z)
        cv = self.cv
        return cv.to_px(f.cx, f.cy), max(f.a, f.b_ant) / min(cv.row_mm, cv.col_mm)
