"""Bones of one slice: vertebral body / disc, posterior elements, ribs, sacrum, iliac wings, femoral heads."""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from sarco_core.phantom.canvas import Canvas
from sarco_core.phantom.frame import Frame, Geometry, smooth
from sarco_core.phantom.spine import FEMUR_BELOW_S1_MM, SACRUM_MM
from sarco_core.phantom.tissues import TISSUES as T
from sarco_core.phantom.tissues import VERTEBRA_IDS

SOFT = [
    T[n]
    for n in (
        "vat",
        "sat",
        "imat",
        "erector_spinae",
        "multifidus",
        "psoas",
        "quadratus_lumborum",
        "external_oblique",
        "internal_oblique",
        "transversus",
        "latissimus",
        "rectus",
        "iliacus",
        "gluteal",
        "skin",
    )
]
PE = T["posterior_elements"]


def _arch(
    cv: Canvas, f: Frame, vid: int, t: float, thoracic: bool, lumbar_rib: bool = False, tp_scale: float = 1.0
) -> None:
    """Posterior arch for a body fraction ``t`` (0 lower endplate .. 1 upper; <0 = disc below the vertebra);
    ``tp_scale`` lengthens and thickens the transverse processes (a massive L5 process)."""
    xs, ss = f.x_s, tp_scale
    y_back = f.y_vb + f.vb_ap / 2
    y_cp = y_back + f.canal_ap  # posterior canal wall
    lam_th = 5.0
    for s in (-1, 1):
        if 0.25 <= t <= 0.9:  # pedicles
            cv.ellipse(
                xs + s * (f.canal_w / 2 + 3.5),
                y_back + 0.45 * f.canal_ap,
                4.5,
                0.6 * f.canal_ap + 2,
                PE,
                where=SOFT,
                vert=vid,
            )
        if 0.35 <= t <= 0.8:  # transverse processes
            ln = f.tp_len * ss - f.canal_w / 2
            ang = -35.0 if thoracic else -8.0
            cv.ellipse(
                xs + s * (f.canal_w / 2 + ln / 2),
                f.y_tp + (12 if thoracic else 0) * 0.5,
                ln / 2,
                3.2 * ss,
                PE,
                rot_deg=s * -ang,
                n=2.4,
                where=SOFT,
                vert=vid,
            )
        # laminae (roof of the canal), facets near the disc
        cv.ellipse(
            xs + s * f.canal_w * 0.32,
            y_cp + lam_th / 2,
            f.canal_w * 0.36,
            lam_th / 2 + 0.5,
            PE,
            rot_deg=s * 18.0,
            where=SOFT,
            vert=vid,
        )
        if t > 0.8 or t < 0.1:
            cv.ellipse(xs + s * (f.canal_w / 2 + 5), y_cp - 1, 6.0, 5.0, PE, where=SOFT, vert=vid)
    if t <= 0.65:  # spinous process (hangs down over the disc below)
        ln = min(max(f.y_pf - 3 - y_cp, 8.0), 30.0)
        w = 3.5 if not thoracic else 3.0
        cv.ellipse(xs, y_cp + ln / 2 + 2, w, ln / 2, PE, n=3.0, where=SOFT, vert=vid)
    cv.ellipse(
        xs,
        y_back + f.canal_ap / 2 + 1,
        f.canal_w / 2,
        f.canal_ap / 2,
        T["spinal_canal"],
        n=2.3,
        where=SOFT + [PE],
        vert=0,
    )


def paint_spine(cv: Canvas, g: Geometry, f: Frame) -> None:
    """Vertebral body (cancellous + cortical rim) or disc at ``f.z``, posterior arch, sacrum below S1; turned
    in-plane about the body centre by ``f.spine_rot_deg`` (scoliosis)."""
    with cv.pivoted(f.x_s, f.y_vb, f.spine_rot_deg):
        _paint_spine(cv, g, f)


def _paint_spine(cv: Canvas, g: Geometry, f: Frame) -> None:
    name, t, above = g.layout.at(f.z)
    xs, yv = f.x_s, f.y_vb
    w2, a2 = f.vb_w / 2, f.vb_ap / 2
    if name == "sacrum":  # lower sacrum (S2-S5): smaller, more posterior, flattening downward
        if t > 1.0:
            return
        vid = VERTEBRA_IDS["sacrum"]
        shift = 25 * t
        cv.ellipse(
            xs,
            yv + shift + 8,
            w2 * (1 - 0.5 * t) + 30 * (1 - t),
            a2 * (1 - 0.45 * t),
            T["sacrum"],
            where=SOFT,
            vert=vid,
        )
        cv.ellipse(xs, yv + shift + 10, 10 * (1 - 0.6 * t), 5, T["spinal_canal"], where=[T["sacrum"]], vert=0)
        return
    if name is None and above is None:
        return
    if name is None:  # disc: disc tissue, arch of the vertebra above hanging over it
        vid = VERTEBRA_IDS[above or "L3"]
        cv.ellipse(xs, yv, w2 + 1.5, a2 + 1.0, T["disc"], n=2.3, where=SOFT)
        _arch(cv, f, vid, -1.0, above is not None and above.startswith("T"))
        return
    vid = VERTEBRA_IDS[name]
    thoracic = name.startswith("T")
    n = 2.0 if thoracic else 2.4
    lowest = name == g.layout.lumbar()[-1]
    endplate = min(t, 1 - t) * (g.layout.get(name).hi - g.layout.get(name).lo) < 1.5
    cv.ellipse(xs, yv, w2, a2, T["vertebral_cortex"], n=n, where=SOFT, vert=vid)
    if not endplate:
        cv.ellipse(xs, yv, w2 - 1.8, a2 - 1.8, T["vertebral_body"], n=n, where=[T["vertebral_cortex"]], vert=vid)
    if lowest and g.layout.wedge_lowest > 0:  # wedge: the upper endplate slopes down towards the back
        h = g.layout.get(name).hi - g.layout.get(name).lo
        y_cut = yv - a2 + 2 * a2 * (1 - t) / g.layout.wedge_lowest  # behind this the body has ended (disc above)
        top = y_cut - 1.5 * 2 * a2 / (g.layout.wedge_lowest * h)  # a 1.5 mm cortical rim along the sloping endplate
        body = np.isin(cv.tissue, [T["vertebral_cortex"], T["vertebral_body"]]) & (cv.vert == vid)
        cv.tissue[body & (cv.Y > top) & (cv.Y <= y_cut)] = T["vertebral_cortex"]
        cut = body & (cv.Y > y_cut)
        cv.tissue[cut] = T["disc"]
        cv.vert[cut] = 0
    if name == "S1":  # sacral alae reaching the sacroiliac joints
        for s in (-1, 1):
            cv.ellipse(
                xs + s * (w2 + 18),
                yv + 0.3 * f.vb_ap,
                26,
                16 + 4 * t,
                T["sacrum"],
                rot_deg=s * 12,
                where=SOFT,
                vert=vid,
            )
        cv.ellipse(xs, yv + a2 + 9, 12, 6, T["spinal_canal"], where=SOFT + [T["sacrum"]], vert=0)
        cv.ellipse(xs, yv + a2 + 20, 14, 4, T["sacrum"], where=SOFT, vert=vid)
        return
    _arch(cv, f, vid, t, thoracic, tp_scale=g.layout.lowest_tp_scale if lowest else 1.0)


def rib_set(g: Geometry, rng: np.random.Generator) -> list[dict[str, float]]:
    """3-D rib paths (one per side per rib-bearing vertebra). ``layout.rib12`` "short" ends the T12 ribs early
    (path parameter 0.22 of 1: hypoplastic, about 3-5 cm beyond the transverse process); "absent" leaves them out.
    The random draws are the same for every ``rib12`` (the other ribs do not move)."""
    ends = {
        "T6": (0.15, 120),
        "T7": (0.22, 135),
        "T8": (0.32, 150),
        "T9": (0.45, 160),
        "T10": (0.65, 160),
        "T11": (1.3, 105),
        "T12": (1.95, 65),
        "T13": (1.95, 65),  # 13 thoracic vertebrae: the 13th rib is shaped like a 12th
    }
    out = []
    for name in g.layout.rib_bearing():
        phi_end, drop = ends.get(name, (0.3, 100))
        v = g.layout.get(name)
        for s in (-1, 1):
            rib = {
                "z_head": v.lo + 0.65 * (v.hi - v.lo) + rng.uniform(-2, 2),
                "phi_end": phi_end * rng.uniform(0.9, 1.1),
                "drop": drop * g.p.spine_scale * rng.uniform(0.9, 1.1),
                "side": s,
                "cartilage": 1.0 if name in ("T6", "T7", "T8", "T9", "T10") else 0.0,
            }
            if name == "T12" and g.layout.rib12 == "absent":
                continue
            if name == "T12" and g.layout.rib12 == "short":
                rib["u_max"] = 0.22
            out.append(rib)
    return out


LUMBAR_RIB_MM = (20.0, 45.0)  # rudimentary rib beyond the tip of L1's transverse process ("usually rudimentary",
# Bergman et al., Anatomy Atlases: lumbar vertebrae; a few cm), seeded per side
LUMBAR_RIB_SLOPE_DEG = (10.0, 30.0)  # falls laterally (caudal slope of the rib)
LUMBAR_RIB_BACK_DEG = (0.0, 20.0)  # runs laterally in line with the transverse process, slightly backward
LUMBAR_RIB_R_MM = 3.0  # half thickness at its base (tapers to 2/3 at the tip)
LUMBAR_RIB_JOINT_MM = 1.5  # cartilage joint at the tip of the transverse process (a pseudarthrosis)


def lumbar_rib_set(g: Geometry, seed: int) -> list[dict[str, float]]:
    """Rudimentary lumbar ribs (one per side) at the tips of L1's transverse processes: no rib head at the
    vertebral body (real lumbar ribs articulate with, or are fused to, the tip or ventral surface of L1's
    transverse process; Bergman et al.; Chengetanai et al. 2017). Own random stream: nothing else moves."""
    rng = np.random.default_rng([int(seed), 1313])
    v = g.layout.get("L1")
    out = []
    for s in (-1, 1):
        z0 = v.lo + 0.57 * (v.hi - v.lo) + rng.uniform(-1.5, 1.5)  # the middle of the transverse process
        f = g.frame(z0)
        out.append(
            {
                "side": float(s),
                "z0": z0,
                "x0": f.x_s + s * (f.tp_len + LUMBAR_RIB_JOINT_MM),
                "y0": f.y_tp,
                "len": rng.uniform(*LUMBAR_RIB_MM) * g.p.spine_scale,
                "slope": np.deg2rad(rng.uniform(*LUMBAR_RIB_SLOPE_DEG)),
                "back": np.deg2rad(rng.uniform(*LUMBAR_RIB_BACK_DEG)),
            }
        )
    return out


def paint_lumbar_rib(cv: Canvas, f: Frame, ribs: list[dict[str, float]]) -> None:
    """Cross-sections of the rudimentary lumbar ribs in the slice at ``f.z`` (a tapering rod, joint at its base)."""
    for rb in ribs:
        s = rb["side"]
        dz0 = rb["z0"] - f.z
        if abs(dz0) < LUMBAR_RIB_R_MM:  # the cartilage joint between the transverse-process tip and the rib
            rj = np.sqrt(LUMBAR_RIB_R_MM**2 - dz0**2)
            cv.ellipse(
                rb["x0"] - s * LUMBAR_RIB_JOINT_MM / 2, rb["y0"], LUMBAR_RIB_JOINT_MM, rj, T["cartilage"], where=SOFT
            )
        for t in np.arange(0.0, rb["len"] + 0.01, 0.75):
            pz = rb["z0"] - t * np.sin(rb["slope"])
            r = LUMBAR_RIB_R_MM * (1 - t / (3 * rb["len"]))
            dz = pz - f.z
            if abs(dz) >= r:
                continue
            rr = float(np.sqrt(r**2 - dz**2))
            h = t * np.cos(rb["slope"])
            x = rb["x0"] + s * h * np.cos(rb["back"])
            y = rb["y0"] + h * np.sin(rb["back"])
            cv.ellipse(x, y, rr, rr, T["rib"], where=SOFT)


def paint_ribs(
    cv: Canvas, g: Geometry, f: Frame, ribs: list[dict[str, float]], R_tab: np.ndarray, sat_tab: np.ndarray
) -> None:
    """Rib cross-sections where each rib's path crosses this slice (inside the muscle wall)."""
    n_ang = len(R_tab)
    for rb in ribs:
        dz = rb["z_head"] - f.z
        if dz < 0 or dz > rb["drop"]:
            continue
        u = (dz / rb["drop"]) ** (1 / 1.3)
        if u > rb.get("u_max", 1.0):
            continue
        phi_head = 2.75
        phi = phi_head + (rb["phi_end"] - phi_head) * u
        sphi = rb["side"] * phi
        theta = np.arctan2(-np.cos(sphi), np.sin(sphi))  # inverse of phi_of_theta
        i = int((theta + np.pi) / (2 * np.pi) * n_ang) % n_ang
        rho = R_tab[i] - sat_tab[i] - 7.0 * f.ms
        wx = f.cx + rho * np.sin(sphi)
        wy = f.cy - rho * np.cos(sphi)
        hx = f.x_s + rb["side"] * f.tp_len
        hy = f.y_tp + 4
        b = smooth(u, 0.0, 0.3)
        x, y = hx + (wx - hx) * b, hy + (wy - hy) * b
        ds_dz = abs(rho * (rb["phi_end"] - phi_head)) / rb["drop"]
        length = float(np.clip(5 + 3.5 * ds_dz, 6, 22))
        rot = np.rad2deg(theta) + 90
        tissue = T["cartilage"] if rb["cartilage"] and u > 0.82 else T["rib"]
        cv.ellipse(x, y, length / 2, 4.5, tissue, rot_deg=float(rot), where=SOFT)


SI_BELOW_S1_MM = 40.0  # the sacro-iliac joints span S1-S3: from the S1 upper endplate to about 40 mm below S1
ILIUM_TH_MM = 16.0  # thickness of the iliac bone along the joint / beside the lowest lumbar vertebrae
SUBCHONDRAL_MM = 2.0  # the cortical plate of the ala facing the joint
ILIUM_DY_MM = (-12.0, 42.0)  # its extent from in front of the vertebral-body centre to behind it


def paint_si_joints(cv: Canvas, g: Geometry, f: Frame) -> None:
    """The iliac part of the sacro-iliac joints (``layout.si_joint_mm`` set). Where the sacrum (alae) is in the
    slice, the ilium hugs its lateral surface across a joint space of ``si_joint_mm``; above S1 (beside the lowest
    lumbar vertebrae, down in the iliac wings) its inner plate lies ``tp_ilium_gap_mm`` of soft tissue beyond the
    tips of the transverse processes (free processes: the iliolumbar ligament between)."""
    lay = g.layout
    gap = float(lay.si_joint_mm or 0.0)
    px = min(cv.row_mm, cv.col_mm)
    dx, dy = cv.X - f.x_s, cv.Y - f.y_vb
    rows = (dy >= ILIUM_DY_MM[0]) & (dy <= ILIUM_DY_MM[1])
    sac = cv.tissue == T["sacrum"]
    soft = np.isin(cv.tissue, SOFT)
    for s in (-1, 1):
        side = dx * s
        own = sac & (side > 0)
        if own.any():
            edge = float(side[own].max())
            d = ndi.distance_transform_edt(~own, sampling=(cv.row_mm, cv.col_mm))
            bone = (d > gap + 0.5 * px) & (d <= gap + ILIUM_TH_MM) & (side >= edge - 15.0) & rows
            # the subchondral (cortical) plate of the ala along the joint
            inner = ndi.distance_transform_edt(own, sampling=(cv.row_mm, cv.col_mm))
            plate = own & (inner <= SUBCHONDRAL_MM) & (side >= edge - 15.0) & rows
            cv.tissue[plate] = T["vertebral_cortex"]
        else:
            tip = f.tp_len * max(lay.lowest_tp_scale, 1.0) + lay.tp_ilium_gap_mm
            bone = (side >= tip) & (side <= tip + ILIUM_TH_MM) & rows
        cv.tissue[bone & soft] = T["ilium"]


def paint_pelvis(cv: Canvas, g: Geometry, f: Frame) -> None:
    """Iliac wings with iliacus inside and gluteal muscles outside; femoral heads low down."""
    k, ms = f.key, f.ms
    gw = smooth(k, g.layout.crest_key, g.layout.crest_key + 1.7)
    s1_lo = g.layout.s1_lo
    if gw > 0 and f.z > s1_lo - SACRUM_MM:
        X, Y = cv.X, cv.Y
        for s in (-1, 1):
            ccx = f.x_s + s * 25
            ccy = f.y_vb + 0.4 * f.vb_ap
            rx = 60 + 0.45 * f.cav_a * gw
            ry = 35 + 25 * gw
            dx, dy = (X - ccx) * s, Y - ccy
            ang = np.arctan2(dy, dx)  # 0 lateral, +pi/2 posterior
            rr = np.hypot(dx / rx, dy / ry)
            sector = (ang > np.pi / 2 - 1.4 * gw - 0.5) & (ang < np.pi / 2 + 0.15)
            th = (7 + 3 * gw) / rx
            bone = sector & (rr >= 1) & (rr < 1 + th)
            glut_th = (12 + 22 * gw) * ms / rx
            glut = sector & (rr >= 1 + th) & (rr < 1 + th + glut_th)
            ilia_th = (6 + 12 * gw) * ms / rx
            iliac = sector & (rr < 1) & (rr >= 1 - ilia_th) & (ang < np.pi / 2 - 0.15)
            soft = np.isin(cv.tissue, SOFT)
            cv.tissue[glut & soft] = T["gluteal"]
            cv.tissue[bone & soft] = T["ilium"]
            cv.tissue[iliac & np.isin(cv.tissue, [T["vat"], T["psoas"]])] = T["iliacus"]
    if g.layout.si_joint_mm is not None and gw > 0.02 and f.z > s1_lo - SI_BELOW_S1_MM:
        paint_si_joints(cv, g, f)
    dz = f.z - (s1_lo - FEMUR_BELOW_S1_MM)
    r = 23.0 * g.p.spine_scale
    if abs(dz) < r + 6:
        for s in (-1, 1):
            cxh, cyh = f.x_s + s * 0.62 * max(f.cav_a, 90), f.y_vb - 0.3 * f.vb_ap - 10
            if abs(dz) < r + 5:
                ra = np.sqrt(max((r + 5) ** 2 - dz**2, 0))
                cv.ellipse(cxh, cyh, ra, ra, T["ilium"], where=SOFT)
            if abs(dz) < r:
                rh = np.sqrt(r**2 - dz**2)
                cv.ellipse(cxh, cyh, rh + 1.5, rh + 1.5, T["disc"], where=[T["ilium"]])
                cv.ellipse(cxh, cyh, rh, rh, T["femur"], where=SOFT + [T["ilium"], T["disc"]])
