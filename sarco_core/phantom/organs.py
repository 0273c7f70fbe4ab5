"""Viscera of one slice (3-D shapes sampled per patient): lungs, liver, spleen, kidneys, pancreas, vessels,
bowel loops with gas / fluid / oral contrast, bladder. Organs only replace cavity fat (``vat``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sarco_core.phantom.canvas import Canvas
from sarco_core.phantom.frame import Frame, Geometry, interp_key, smooth
from sarco_core.phantom.tissues import TISSUES as T

V = [T["vat"]]


@dataclass(frozen=True)
class Loop:
    """A bowel segment: an ellipsoid-like tube of 1-3 lobes (positions as fractions of the cavity)."""

    fx: float
    fy: float
    key: float
    hz: float  # half-length along z (mm)
    r: float
    ecc: float
    rot: float
    kind: str  # fluid | gas | feces | contrast
    gas: float  # fraction of the lumen above the gas-fluid level
    drift: tuple[float, float]
    lobes: tuple[tuple[float, float, float], ...] = ()  # (dx, dy, radius factor) relative to r


@dataclass(frozen=True)
class Organs:
    loops: tuple[Loop, ...]
    hep: tuple[tuple[float, float, float], ...]  # hepatic vessels (fx, fy, radius mm)
    mes: tuple[tuple[float, float, float, float, float], ...]  # mesenteric vessels (fx, fy, r mm, key, half z)
    calc: tuple[tuple[float, float], ...]  # aortic calcifications (angle, key)
    kid_key: tuple[float, float]  # left, right kidney centre level keys
    kid_hl: float
    kid_r: tuple[float, float]
    liver_tip: float
    spleen_bottom: float
    aorta_r: float
    bifurcation: float
    gallbladder: tuple[float, float, float] | None = None  # (level key of the centre, radius mm, half-length mm)


def sample_organs(g: Geometry, rng: np.random.Generator) -> Organs:
    """Per-patient 3-D organ choices (positions as fractions of the cavity; extents as level keys / mm)."""
    p = g.p
    u = rng.uniform
    loops = []
    n = int(round(p.n_bowel_loops * (3.2 - 2.2 * p.vat_fullness)))
    for _ in range(n):
        kind = str(rng.choice(["fluid", "gas", "feces", "contrast"], p=[0.45, 0.2, 0.15, 0.2]))
        if kind == "contrast" and not p.oral_contrast:
            kind = "fluid"
        r = u(10, 20) * (0.85 + 0.4 * (1 - p.vat_fullness))
        lobes = tuple(
            (float(np.cos(a) * u(0.8, 1.4)), float(np.sin(a) * u(0.8, 1.4)), float(u(0.6, 0.95)))
            for a in u(0, 2 * np.pi, size=int(rng.integers(0, 3)))
        )
        loops.append(
            Loop(
                u(-0.75, 0.75),
                u(-0.85, 0.1),
                u(1.2, 6.6),
                u(25, 70),
                r,
                u(0.6, 1.0),
                u(0, 180),
                kind,
                u(0.1, 0.5),
                (u(-0.4, 0.4), u(-0.4, 0.4)),
                lobes,
            )
        )
    # colon: ascending (right), descending (left); stomach (left upper)
    loops.append(Loop(-0.8, -0.05, 3.5, 90.0, u(17, 24), 0.85, 0.0, "feces", u(0.2, 0.5), (0.0, 0.0)))
    loops.append(
        Loop(0.82, 0.05, 3.0, 100.0, u(13, 18), 0.85, 0.0, str(rng.choice(["feces", "gas"])), u(0.2, 0.6), (0.0, 0.0))
    )
    loops.append(
        Loop(
            0.35,
            -0.45,
            -1.2,
            55.0,
            u(30, 45),
            0.75,
            30.0,
            "contrast" if p.oral_contrast else "fluid",
            u(0.15, 0.4),
            (0.0, 0.0),
        )
    )
    hep = tuple((u(-0.85, -0.2), u(-0.6, 0.2), u(2.5, 6.0)) for _ in range(int(rng.integers(4, 9))))
    calc = (
        tuple((u(0, 2 * np.pi), u(-1.0, 4.0)) for _ in range(int(rng.integers(2, 7)))) if p.aortic_calcification else ()
    )
    mes = tuple((u(-0.65, 0.65), u(-0.75, 0.15), u(1.0, 3.2), u(0.5, 6.5), u(40, 150)) for _ in range(30))
    ks = p.extra["kidney_shift"]
    organs = Organs(
        tuple(loops),
        hep,
        mes,
        calc,
        (1.5 + ks, 1.85 + ks),
        u(48, 60),
        (u(20, 25), u(28, 34)),
        1.6 + 1.6 * p.extra["liver_tip"],
        u(0.3, 1.3),
        u(9, 12.5),
        u(3.7, 4.3),
    )
    if rng.random() < 0.8:  # no gallbladder after cholecystectomy
        organs = replace(organs, gallbladder=(u(0.6, 1.6), u(12, 20), u(25, 45)))
    return organs


def _ellipsoid(dz: float, hz: float) -> float:
    return float(np.sqrt(max(1.0 - (dz / hz) ** 2, 0.0)))


def paint_organs(
    cv: Canvas,
    g: Geometry,
    f: Frame,
    o: Organs,
    zkey_mm: float,
    aorta_r_mm: float | None = None,
    aorta_gap_mm: float = 3.0,
    ivc_dy_mm: float = 11.0,
    kidney_dy_mm: float = 0.0,
) -> tuple[float, float]:
    """All viscera at this slice. ``zkey_mm`` ~ mm per level key (for ellipsoid extents). ``aorta_gap_mm`` /
    ``ivc_dy_mm`` place the aorta and IVC in front of the vertebral body (an explicit ``aorta_r_mm`` also
    paints the aorta over the liver); ``kidney_dy_mm`` moves the kidneys back (onto the psoas / quadratus
    lumborum). Returns the aorta centre (x, y) mm."""
    k = f.key
    xs, ca, cb = f.x_s, max(f.cav_a, 60.0), max(f.cav_b, 50.0)
    y_ant_vb = f.y_vb - f.vb_ap / 2
    # lungs (posterior costophrenic recesses, above ~T12)
    gl = smooth(-k, 0.1, 2.5)
    if gl > 0:
        for s in (-1, 1):
            cv.ellipse(
                xs + s * 0.5 * ca,
                f.y_vb + 0.1 * f.vb_ap,
                0.42 * ca * gl**0.5,
                0.45 * cb * gl**0.5,
                T["lung"],
                rot_deg=s * 20,
                where=V,
            )
    # kidneys
    kr_a, kr_b = o.kid_r
    for s, kk in zip((1, -1), o.kid_key, strict=True):
        dz = (k - kk) * zkey_mm
        e = _ellipsoid(dz, o.kid_hl)
        if e <= 0.05:
            continue
        ps = f.ms * interp_key(k, ((1, 8.0), (3, 17.0), (5, 24.0)))
        cxk = xs + s * (f.vb_w / 2 + 2 * ps + kr_a + 6)
        cyk = f.y_vb + 0.05 * f.vb_ap + kidney_dy_mm
        rot = -s * 55.0
        cv.ellipse(cxk, cyk, kr_b * e, kr_a * e, T["kidney"], rot_deg=rot, where=V)
        if abs(dz) < 0.45 * o.kid_hl:
            t = np.deg2rad(rot)
            ny = np.array([-np.sin(t), np.cos(t)])  # short axis direction
            sgn = -1.0 if (ny[0] * s) > 0 else 1.0  # toward medial
            hx, hy = cxk + sgn * ny[0] * 0.75 * kr_a * e, cyk + sgn * ny[1] * 0.75 * kr_a * e
            cv.ellipse(
                hx,
                hy,
                0.55 * kr_b * e,
                0.5 * kr_a * e,
                T["renal_sinus_fat"],
                rot_deg=rot,
                where=[T["kidney"], T["vat"]],
            )
            cv.ellipse(
                hx - sgn * ny[0] * 3,
                hy - sgn * ny[1] * 3,
                0.25 * kr_b * e,
                0.22 * kr_a * e,
                T["renal_pelvis"],
                rot_deg=rot,
                where=[T["renal_sinus_fat"]],
            )
            if abs(dz) < 10:
                for j in range(6):
                    tt = j / 5
                    cv.ellipse(hx + (xs - hx) * tt * 0.8, hy + (y_ant_vb - 8 - hy) * tt, 4, 4, T["vessel"], where=V)
    # gallbladder under the liver, right anterior
    if o.gallbladder is not None:
        gk, gr, ghz = o.gallbladder
        e = _ellipsoid((k - gk) * zkey_mm, ghz)
        if e > 0.1:
            cv.ellipse(
                xs - 0.38 * ca,
                f.cy - 0.4 * cb,
                gr * e,
                0.8 * gr * e,
                T["gallbladder"],
                rot_deg=30,
                where=V + [T["liver"]],
            )
    # spleen
    sb = o.spleen_bottom
    if k < sb:
        e = smooth(sb - k, 0.0, 1.2)
        cv.ellipse(xs + 0.62 * ca, f.y_vb - 0.05 * cb, 0.2 * ca * e, 0.42 * cb * e, T["spleen"], rot_deg=-55, where=V)
    # liver (right lobe down to the tip, left lobe at upper levels)
    tip = o.liver_tip
    if k < tip:
        e = float(np.clip((tip - k) / (tip - 0.0), 0.0, 1.0)) ** 0.6
        e = max(e, 0.25) if k < tip else 0.0
        lx = xs - (0.38 + 0.3 * (1 - e)) * ca
        ly = f.cy - 0.1 * cb + 0.35 * cb * (1 - e)
        cv.ellipse(lx, ly, 0.56 * ca * e, 0.78 * cb * e, T["liver"], rot_deg=-10, where=V)
        if k < 0.8:
            el = smooth(0.8 - k, 0.0, 1.5)
            cv.ellipse(xs + 0.1 * ca, f.cy - 0.55 * cb, 0.45 * ca * el, 0.32 * cb * el, T["liver"], where=V)
        for hx, hy, hr in o.hep:
            cv.ellipse(xs + hx * ca, f.cy + hy * cb, hr, hr, T["vessel"], where=[T["liver"]])
    # aorta / iliac arteries, IVC / iliac veins
    ar = o.aorta_r if aorta_r_mm is None else aorta_r_mm
    bif = o.bifurcation
    ay = y_ant_vb - ar - aorta_gap_mm
    ax_ = xs + 0.22 * f.vb_w
    if k < bif:
        # the default phantom lets the liver hide the aorta at T12; with explicit placement it stays in front
        over = V + [T["psoas"]] + ([T["liver"], T["spleen"]] if aorta_r_mm is not None else [])
        cv.ellipse(ax_, ay, ar, ar, T["aorta"], where=over)
        for ang, kc in o.calc:
            if abs(k - kc) < 0.4:
                cv.ellipse(
                    ax_ + ar * np.cos(ang),
                    ay + ar * np.sin(ang),
                    1.8,
                    1.8,
                    T["calcification"],
                    where=[T["aorta"], T["vat"]],
                )
        if 1.0 < k < 3.5:  # superior mesenteric artery / vein
            cv.ellipse(xs + 4, ay - ar - 20 - 6 * (k - 1), 3.5, 3.5, T["vessel"], where=V)
            cv.ellipse(xs - 9, ay - ar - 22 - 6 * (k - 1), 5.5, 5.0, T["vessel"], where=V)
    elif k < 7.0:
        d = (k - bif) * 18
        for s in (-1, 1):
            cv.ellipse(xs + s * (8 + d), ay + 0.15 * d, 6.5, 6.5, T["vessel"], where=V)
    if k < 4.3:
        where = V + [T["liver"]] if k < 1.0 else V
        cv.ellipse(xs - 0.36 * f.vb_w - 6, y_ant_vb - ivc_dy_mm, 13, 9, T["ivc"], where=where)
    # pancreas (L1-L2), anterior to the vessels, tail toward the spleen
    pe = smooth(k, 0.3, 0.8) * (1 - smooth(k, 1.5, 2.1))
    if pe > 0.05:
        py = ay - o.aorta_r - 14
        cv.ellipse(xs - 0.1 * ca, py, 15 * pe, 12 * pe, T["pancreas"], where=V)  # head
        cv.ellipse(xs + 0.2 * ca, py + 4, 0.24 * ca * pe, 8 * pe, T["pancreas"], rot_deg=22, where=V)  # body, tail
    # bladder low in the pelvis
    bl = smooth(k, 7.2, 8.2)
    if bl > 0:
        cv.ellipse(xs, f.cy - 0.25 * cb, 48 * bl, 38 * bl, T["bladder"], where=V)
    for fx, fy, r, kc, hz in o.mes:
        if abs(k - kc) * zkey_mm < hz:
            cv.ellipse(xs + fx * ca, f.cy + fy * cb, r, r, T["vessel"], where=V)
    paint_bowel(cv, f, o.loops, zkey_mm, ca, cb)
    return ax_, ay


def paint_bowel(cv: Canvas, f: Frame, loops: tuple[Loop, ...], zkey_mm: float, ca: float, cb: float) -> None:
    content = {
        "fluid": T["bowel_content"],
        "gas": T["bowel_content"],
        "feces": T["feces"],
        "contrast": T["oral_contrast"],
    }
    vat, wall = T["vat"], T["bowel_wall"]
    for lp in loops:
        dz = (f.key - lp.key) * zkey_mm
        e = _ellipsoid(dz, lp.hz)
        if e <= 0.2:
            continue
        r = lp.r * e
        cx = f.x_s + (lp.fx + lp.drift[0] * dz / 100) * ca
        cy = f.cy + (lp.fy + lp.drift[1] * dz / 100) * cb
        parts = [(cx, cy, r)] + [(cx + ox * r, cy + oy * r, r * fr) for ox, oy, fr in lp.lobes]
        shapes = [cv.blob(x, y, rr, rr * lp.ecc, lp.rot) for x, y, rr in parts]
        main = shapes[0]
        if main is None:
            continue
        win, m = main
        if np.count_nonzero(m & (cv.tissue[win] == vat)) < 0.3 * np.count_nonzero(m):
            continue  # mostly blocked by organs / muscle: keep it fat
        for shp in shapes:
            cv.paint(shp, wall, where=[vat])
        for x, y, rr in parts:
            inner = cv.blob(x, y, max(rr - 3.0, 0.5), max(rr * lp.ecc - 3.0, 0.5), lp.rot)
            if inner is None:
                continue
            iw, im = inner
            sub = im & (cv.tissue[iw] == wall)
            cv.tissue[iw][sub] = content[lp.kind]
            if lp.kind in ("gas", "feces", "contrast") and lp.gas > 0.15:
                level = cv.unrotate(x, y)[1] - rr * lp.ecc * (1 - 2 * lp.gas)  # gas rises: image frame
                cv.tissue[iw][sub & (cv.Y0[iw] < level)] = T["bowel_gas"]
