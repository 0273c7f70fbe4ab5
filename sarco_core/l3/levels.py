"""From spine features to vertebral levels: disc spaces along z, then two independent counts.

* **Discs**: local minima of the vertebral-body HU profile (resampled to 1 mm, detrended), at least 15 mm apart.
* **Up from the sacrum**: the sacro-iliac joints are the lowest slices where bone joined to the spine reaches
  >= 70 mm to both sides (sacrum + iliac wings, small gaps closed); the first disc above them is L5/S1.
* **Down from the ribs**: ribs are bone components lateral to the spine (> 35 mm) that run from < 50 mm to
  > 75 mm from the midline above the rib-free lumbar window; the lowest rib head marks T12, the disc under it T12/L1.

Each count gives an L3 (the third vertebra above L5/S1, or the third below T12/L1); L3's mid-body is the midpoint
of the two discs that bound it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi
from scipy.signal import find_peaks

from sarco_core.l3.spine import SpineFeatures

SI_REACH_MM = 70.0
DISC_MIN_GAP_MM = 15.0
VERT_MM = (14.0, 60.0)  # plausible disc-to-disc distance
LAT_FREE_MM2 = 60.0
LUNG_MM2 = 2500.0
RIB_NEAR_MM, RIB_FAR_MM, RIB_CUT_MM = 50.0, 75.0, 35.0


@dataclass
class Count:
    """One way of counting: the disc index where its reference disc sits and what it found."""

    name: str  # "sacrum" | "ribs"
    ref_disc: int  # index into discs of L5/S1 (sacrum) or T12/L1 (ribs)
    landmark_z_mm: float
    l3_lo: int | None  # index of the disc below L3 (L3/L4), None when out of range

    def l3_lo_from(self) -> int:
        return self.ref_disc + 2 if self.name == "sacrum" else self.ref_disc - 3


@dataclass
class Analysis:
    discs_z: np.ndarray
    disc_prominence: np.ndarray
    sacrum: Count | None
    ribs: Count | None
    si_top_z: float | None
    rib_head_z: float | None
    gap: tuple[float, float] | None  # rib- and pelvis-free lumbar window (z lo, hi)
    lungs_low_z: float | None  # lowest slice with lungs in view
    notes: list[str] = field(default_factory=list)


def find_discs(f: SpineFeatures) -> tuple[np.ndarray, np.ndarray]:
    """Disc centres (z mm, ascending) and their prominence (HU) from the body HU profile."""
    z = f.z_mm
    if z.size < 5 or not f.found.any():
        return np.array([]), np.array([])
    lo, hi = z[f.found].min(), z[f.found].max()
    zz = np.arange(lo, hi + 0.5, 1.0)
    if zz.size < 20:
        return np.array([]), np.array([])
    prof = ndi.gaussian_filter1d(np.interp(zz, z, f.body_hu), 2.0)
    base = ndi.median_filter(prof, size=min(61, zz.size | 1), mode="nearest")
    g = prof - base
    spread = float(np.percentile(g, 90) - np.percentile(g, 10))
    pk, props = find_peaks(-g, distance=DISC_MIN_GAP_MM, prominence=max(8.0, 0.25 * spread))
    zs, pr = zz[pk], props["prominences"]
    # prune minima much closer than the local disc-to-disc distance (dips inside a body), weakest first
    while zs.size >= 4:
        gaps = np.diff(zs)
        local = ndi.median_filter(gaps, size=min(5, gaps.size), mode="nearest")
        bad = np.nonzero(gaps < 0.55 * local)[0]
        if bad.size == 0:
            break
        i = int(bad[np.argmin(np.minimum(pr[bad], pr[bad + 1]))])
        drop = i if pr[i] < pr[i + 1] else i + 1
        zs, pr = np.delete(zs, drop), np.delete(pr, drop)
    return zs, pr


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist(), strict=True))


def lumbar_gap(f: SpineFeatures) -> tuple[float, float] | None:
    """The longest run (>= 20 mm) of slices with the spine found and no rib/iliac bone and no lungs beside it."""
    free = f.found & (f.lateral_mm2 < LAT_FREE_MM2) & (f.lung_mm2 < LUNG_MM2)
    best = None
    for a, b in _runs(free):
        length = f.z_mm[b - 1] - f.z_mm[a]
        if length >= 20.0 and (best is None or length > best[2]):
            best = (a, b, length)
    if best is None:
        return None
    return float(f.z_mm[best[0]]), float(f.z_mm[best[1] - 1])


def si_top(f: SpineFeatures, gap: tuple[float, float] | None) -> float | None:
    """Top z of the sacro-iliac joints (bone joined to the spine reaching both sides), below the lumbar window."""
    si = (f.joined_mm >= SI_REACH_MM) & (f.lung_mm2 < LUNG_MM2)
    if gap is not None:
        si &= f.z_mm < gap[0]
    else:
        # without a rib-free window accept it only when no lungs are seen anywhere above it
        if (f.lung_mm2 >= LUNG_MM2).any():
            lungs_low = f.z_mm[f.lung_mm2 >= LUNG_MM2].min()
            si &= f.z_mm < lungs_low - 80.0
    runs = [(a, b) for a, b in _runs(si) if b - a >= 2 or f.z_mm.size < 10]
    if not runs:
        return None
    # the lowest sustained run; merge runs separated by < 8 mm
    a, b = runs[0]
    for a2, b2 in runs[1:]:
        if f.z_mm[a2] - f.z_mm[b - 1] < 8.0:
            b = b2
    return float(f.z_mm[b - 1])


def rib_heads(f: SpineFeatures, gap: tuple[float, float] | None) -> float | None:
    """z of the lowest rib head: the medial end of a bone component that runs from < 50 to > 75 mm lateral."""
    if gap is not None:
        zone = f.z_mm > gap[1] - 10.0
    elif (f.lung_mm2 >= LUNG_MM2).any():
        zone = np.ones_like(f.found)
    else:
        return None
    js = np.nonzero(zone)[0]
    if js.size < 2:
        return None
    nc = f.bone.shape[2]
    cols = np.arange(nc)[None, None, :]
    dx = np.abs(cols - f.mid_col[js][:, None, None]) * f.col_mm
    sel = f.bone[js] & (dx > RIB_CUT_MM) & (dx < 160.0)
    lab, n = ndi.label(sel, structure=np.ones((3, 3, 3), bool))
    if n == 0:
        return None
    dxb = np.broadcast_to(dx, sel.shape)
    kk = np.broadcast_to(np.arange(js.size)[:, None, None], sel.shape)
    m = lab > 0
    labs, dxs, ks = lab[m], dxb[m], kk[m]
    heads = []
    for i in range(1, n + 1):
        sel_i = labs == i
        d = dxs[sel_i]
        if d.min() < RIB_NEAR_MM and d.max() > RIB_FAR_MM:
            near = ks[sel_i][d < d.min() + 8.0]
            heads.append(float(np.mean(f.z_mm[js[near]])))
    return min(heads) if heads else None


def analyse(f: SpineFeatures) -> Analysis:
    discs, prom = find_discs(f)
    gap = lumbar_gap(f)
    lungs = f.z_mm[f.lung_mm2 >= LUNG_MM2]
    a = Analysis(discs, prom, None, None, None, None, gap, float(lungs.min()) if lungs.size else None)
    a.si_top_z = si_top(f, gap)
    a.rib_head_z = rib_heads(f, gap)
    if a.si_top_z is not None and discs.size:
        above = np.nonzero(discs > a.si_top_z - 12.0)[0]
        if above.size and discs[above[0]] - a.si_top_z < 45.0:
            a.sacrum = Count("sacrum", int(above[0]), a.si_top_z, None)
            lo = a.sacrum.l3_lo_from()
            a.sacrum.l3_lo = lo if lo + 1 < discs.size else None
        else:
            a.notes.append("sacro-iliac joints seen but no disc space found just above them")
    if a.rib_head_z is not None and discs.size:
        below = np.nonzero(discs < a.rib_head_z - 4.0)[0]
        if below.size:
            a.ribs = Count("ribs", int(below[-1]), a.rib_head_z, None)
            lo = a.ribs.l3_lo_from()
            a.ribs.l3_lo = lo if lo >= 0 else None
    return a


def interval_ok(discs: np.ndarray, lo: int) -> bool:
    """Disc-to-disc distance of the vertebra above disc ``lo`` is plausible."""
    if lo < 0 or lo + 1 >= discs.size:
        return False
    return VERT_MM[0] <= discs[lo + 1] - discs[lo] <= VERT_MM[1]
