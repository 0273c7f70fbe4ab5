"""Body wall of one slice: outline, skin, SAT, abdominal-wall muscles, back muscles, psoas, arms and table."""

from __future__ import annotations

import numpy as np

from sarco_core.phantom.canvas import Canvas
from sarco_core.phantom.frame import N_ANG, Frame, Geometry, interp_key, smooth, smooth_a
from sarco_core.phantom.tissues import MUSCLE_TISSUES
from sarco_core.phantom.tissues import TISSUES as T

MUSCLE_IDS = [T[n] for n in MUSCLE_TISSUES if n != "imat"]  # the named muscles (IMAT is drawn separately)


class Polar:
    """Per-canvas polar coordinates around the body centre (constant along z)."""

    def __init__(self, cv: Canvas, cx: float, cy: float) -> None:
        dx, dy = cv.X - cx, cv.Y - cy
        self.rho = np.hypot(dx, dy)
        theta = np.arctan2(dy, dx)
        self.idx = ((theta + np.pi) / (2 * np.pi) * N_ANG).astype(np.int32) % N_ANG
        self.phi = np.arctan2(dx, -dy)  # 0 anterior, + patient left


def paint_body(cv: Canvas, g: Geometry, f: Frame, pol: Polar) -> dict[str, np.ndarray]:
    """Outline, skin, SAT, default VAT inside, abdominal-wall ring. Returns helper maps (depth, fascia, body)."""
    p = g.p
    R = g.radius_table(f)[pol.idx]
    tsat_tab = g.sat_table(f)
    depth = R - pol.rho  # radial depth below the skin (mm)
    fascia = depth - tsat_tab[pol.idx]  # depth below the SAT / muscle boundary
    body = depth >= 0
    tis = cv.tissue
    tis[body] = T["vat"]
    tis[body & (fascia < 0)] = T["sat"]
    tis[body & (depth < 2.0)] = T["skin"]
    # wall thickness profiles per table angle
    aphi = np.abs(g.phi_tab)
    ms, k = f.ms, f.key
    thorax = smooth(-k, -0.5, 1.0)
    pelvis = smooth(k, 5.0, 6.5)
    wall = (1 - 0.45 * thorax) * (1 - 0.5 * pelvis) * ms
    r_ant = max(f.b_ant - f.sat_ant, 40.0)
    gap = (3.0 + 4.0 * p.vat_fullness) / r_ant  # half linea alba, rad
    rect_end = gap + (55 + 20 * ms) / r_ant
    lat_end = 2.15 + 0.15 * np.cos(p.outline_harmonics[0][1])
    rt = 11.0 * wall * (1 + 0.25 * pelvis) * np.sin(np.pi * np.clip((aphi - gap) / (rect_end - gap), 0, 1)) ** 0.35
    rt[(aphi <= gap) | (aphi >= rect_end)] = 0.0
    taper = smooth_a(aphi, rect_end - 0.25, rect_end + 0.1) * (1 - smooth_a(aphi, lat_end - 0.35, lat_end))
    taper[taper <= 0.02] = 0.0
    e = 6.5 * wall * taper
    i_ = 8.0 * wall * taper * (1 - 0.6 * pelvis)
    t_ = 5.0 * wall * taper
    has_lat = taper > 0
    d0, d1, d2, d3 = e, e + 1.0, e + 1.0 + i_, e + 2.0 + i_
    d4 = np.where(has_lat, d3 + t_, 0.0)
    lt = 6.0 * ms * (1 - smooth(k, 2.5, 4.0)) * np.sin(np.pi * np.clip((aphi - 1.65) / 1.05, 0, 1))
    wmax = np.maximum(np.maximum(rt, d4), lt)
    band = (fascia >= 0) & (fascia < wmax[pol.idx])
    fa = fascia[band]
    ii = pol.idx[band]
    out = tis[band]
    out[fa < rt[ii]] = T["rectus"]
    lat = has_lat[ii]
    out[lat & (fa < d0[ii])] = T["external_oblique"]
    out[lat & (fa >= d0[ii]) & (fa < d1[ii]) & (taper[ii] > 0.3)] = T["imat"]
    out[lat & (fa >= d1[ii]) & (fa < d2[ii])] = T["internal_oblique"]
    out[lat & (fa >= d2[ii]) & (fa < d3[ii]) & (taper[ii] > 0.3)] = T["imat"]
    out[lat & (fa >= d3[ii]) & (fa < d4[ii])] = T["transversus"]
    out[fa < lt[ii]] = T["latissimus"]
    tis[band] = out
    return {"depth": depth, "fascia": fascia, "body": body}


def paint_back(
    cv: Canvas, f: Frame, m: dict[str, np.ndarray], psoas_scale: float = 1.0, side_sign: tuple[int, ...] = (-1, 1)
) -> None:
    """Paraspinal compartment (erector spinae + multifidus), quadratus lumborum, psoas."""
    ms, k = f.ms, f.key
    half_w = ms * interp_key(k, ((-3, 50), (0, 54), (3, 60), (5, 58), (6, 46), (8, 30)))
    y_top = f.y_tp - 2
    hh = (f.y_pf - y_top) / 2 + 12
    yc = y_top + hh - 12
    win = cv.window(f.x_s, yc, half_w, hh)
    if win is not None:
        X, Y = cv.X[win], cv.Y[win]
        w_eff = half_w * (0.72 + 0.28 * smooth_a(Y, y_top, y_top + 28.0))
        dx, dy = (X - f.x_s) / w_eff, (Y - yc) / hh
        comp = (m["fascia"][win] >= 0) & (Y >= y_top) & ((np.abs(dx) ** 2.6 + np.abs(dy) ** 2.6) <= 1.0)
        cv.tissue[win][comp] = T["erector_spinae"]
    # multifidus: medial, along the lamina and spinous process
    for s in side_sign:
        mx, my = f.x_s + s * 0.3 * half_w, f.y_lam + 0.45 * (f.y_pf - f.y_lam)
        ax, ay = 0.3 * half_w, 0.55 * (f.y_pf - f.y_lam)
        cv.ellipse(mx, my, ax, ay, T["multifidus"], 0.0, 2.2, where=[T["erector_spinae"]])
    # posterior midline cleft: SAT dips between the two paraspinal bulges behind the spinous process
    tip = f.y_lam + 3 + min(max(f.y_pf - 3 - f.y_lam - 3, 8.0), 30.0)
    if f.y_pf > tip + 2:
        cv.ellipse(
            f.x_s,
            f.y_pf + 2,
            4.0 + 4.0 * f.ms,
            f.y_pf + 2 - tip,
            T["sat"],
            n=1.6,
            where=[T["erector_spinae"], T["multifidus"], T["imat"]],
        )
    # quadratus lumborum (L1-L5)
    ql = smooth(k, -0.3, 1.0) * (1 - smooth(k, 5.0, 6.0))
    if ql > 0.05:
        for s in side_sign:
            ax, ay = 17 * ms * ql * interp_key(k, ((0, 0.6), (2, 1.0), (4, 1.15), (5, 1.1))), 9.5 * ms * ql
            cx = f.x_s + s * (f.tp_len + 0.8 * ax)
            cv.ellipse(cx, f.y_tp - 2, ax, ay, T["quadratus_lumborum"], s * 30.0, where=[T["vat"]])
    # psoas (from T12/L1 down, joins iliacus in the pelvis)
    ps = interp_key(k, ((-0.2, 0.0), (1, 7.5), (2, 11.0), (3, 14.5), (4, 18.0), (5, 20.5), (6, 21.0), (7, 19.0)))
    if ps > 1.0:
        ps *= ms * psoas_scale
        for s in side_sign:
            ax, ay = ps, ps * 1.15
            x = f.x_s + s * (f.vb_w / 2 + 0.8 * ax + 2)
            y = f.y_vb - 0.1 * f.vb_ap - 0.45 * f.vb_ap * smooth(k, 3.0, 6.0)
            cv.ellipse(x, y, ax, ay, T["psoas"], s * 15.0, where=[T["vat"]])


def paint_arms(cv: Canvas, f: Frame, arm: dict[str, float]) -> None:
    """Forearms / elbows beside the body (label 0)."""
    air = [T["air"]]
    for s in (-1, 1):
        r = arm["r"]
        cx = f.cx + s * (f.a + arm["gap"] + r)
        cy = f.cy + arm["dy"]
        cv.ellipse(cx, cy, r, r * 0.92, T["skin"], where=air)
        cv.ellipse(cx, cy, r - 2, r * 0.92 - 2, T["arm_fat"], where=[T["skin"]])
        rm = r - 2 - arm["fat"]
        cv.ellipse(cx, cy, rm, rm * 0.9, T["arm_muscle"], where=[T["arm_fat"]])
        for j in range(int(arm["bones"])):
            off = (j - 0.5 * (arm["bones"] - 1)) * 2.4 * arm["bone_r"]
            cv.ellipse(
                cx + 0.2 * s * rm,
                cy + off,
                arm["bone_r"],
                arm["bone_r"] * 0.85,
                T["arm_bone"],
                where=[T["arm_muscle"], T["arm_fat"]],
            )


def table_map(cv: Canvas, y_top: float, tbl: dict[str, float]) -> np.ndarray:
    """Tissue ids of the curved table (shell + foam, optional mattress) under the patient; 0 elsewhere."""
    X, Y = cv.X0, cv.Y0  # the table stays level when the patient is rotated
    out = np.zeros(X.shape, dtype=np.uint8)
    within = np.abs(X) <= tbl["half_width"]
    y0 = y_top - tbl["curve"] * X**2
    if tbl["mattress"] > 0:
        out[within & (Y >= y0) & (Y < y0 + tbl["mattress"])] = T["mattress"]
        y0 = y0 + tbl["mattress"]
    shell, foam = 2.5, tbl["thick"]
    out[within & (Y >= y0) & (Y < y0 + shell)] = T["table"]
    out[within & (Y >= y0 + shell) & (Y < y0 + shell + foam)] = T["table_foam"]
    out[within & (Y >= y0 + shell + foam) & (Y < y0 + 2 * shell + foam)] = T["table"]
    return out
