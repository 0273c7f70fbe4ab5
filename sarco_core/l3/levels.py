"""From spine features to vertebral levels: disc spaces along z, then two independent counts.

* **Discs**: dark gaps between two bright endplates in the vertebral-body HU profile (resampled to 1 mm; see
  :func:`endplate_gap`), chosen as a regular sequence 20-60 mm apart, continued upwards by a candidate one pitch
  above the highest disc (:func:`_extend_top`).
* **Up from the sacrum**: S1 is the first vertebra from above whose lateral masses meet the iliac bones on both
  sides (sacro-iliac bone contact, :mod:`sarco_core.l3.sacroiliac`); where no slice shows iliac bone on both sides
  or no contact is found, the older landmark: the lowest slices where bone joined to the spine reaches >= 70 mm to
  both sides (small gaps closed), or where bone (the sacral alae) fills the band 30-60 mm beside the vertebral body
  on both sides. The first disc above the joints' top is L5/S1.
* **Down from the ribs** (:mod:`sarco_core.l3.ribs`): ribs are found as 3-D bones leaving the spine; each is
  assigned to the vertebra that holds its head, and the lowest rib-bearing vertebra is T12 (the disc below it is
  T12/L1).

Each count gives an L3 (the third vertebra above L5/S1, or the third below T12/L1); L3's mid-body is the midpoint
of the two discs that bound it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage as ndi

from sarco_core.l3 import ribs as rb
from sarco_core.l3 import sacroiliac as si
from sarco_core.l3.spine import SpineFeatures

SI_REACH_MM = 70.0
ALA_FRAC = 0.2
DISC_MIN_GAP_MM = 15.0
VERT_MM = (20.0, 60.0)  # plausible disc-to-disc distance
DISC_COST, REGULARITY = 0.3, 1.5  # disc-sequence fit: cost per disc, penalty per |log(gap ratio)|
LAT_FREE_MM2 = 60.0
LUNG_MM2 = 2500.0
SI_SPAN_MM = 30.0  # contact runs closer than this belong to one pair of SI joints (they span S1-S3, 40-60 mm)
SI_MERGE_STEPS = 2.5  # sacral runs this many slice spacings apart are one run (a 5 mm slice may miss the joint)
# The top of the sacro-iliac joints lies at the S1 upper endplate, just below the L5/S1 disc (phantom: 6-10 mm
# below it; example_ct: at it). When the first disc found lies SI_DISC_FAR..SI_DISC_MISSED local pitches above that top,
# the L5/S1 disc was missed (thick slices blur it) and is placed SI_DISC_OFFSET_MM above the joints' top.
SI_DISC_FAR, SI_DISC_MISSED, SI_DISC_OFFSET_MM = 0.6, 1.3, 4.0
SI_PITCH_MAX_MM = 45.0  # lumbar disc-to-disc distance (L4: body <= 30 mm + disc <= 12 mm, phantom and real)
ENDPLATE_WIN_MM = 9  # endplates are looked for within this distance on each side of a disc (disc 4-12 mm high)
NEXT_PITCH = (0.8, 1.25)  # the next vertebra up is 0.8-1.25 times as tall as the one below (adjacent vertebrae
# differ by well under 20 %; the DP's regularity term penalises the same ratio)


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
    rib_low_z: float | None
    gap: tuple[float, float] | None  # rib- and pelvis-free lumbar window (z lo, hi)
    lungs_low_z: float | None  # lowest slice with lungs in view
    notes: list[str] = field(default_factory=list)
    rib_count: rb.RibCount | None = None  # the 3-D rib finder's T12 (sarco_core.l3.ribs)
    si_evidence: str | None = None  # "contact" (sacro-iliac bone contact) or "alae" (the older landmark)


def _regular_sequence(z: np.ndarray, depth: np.ndarray) -> list[int]:
    """Pick the disc sequence that maximises sum(depth - DISC_COST) - REGULARITY * sum|log(gap ratio)|.

    Dynamic programming over pairs (previous, current) of candidate minima; gaps must lie in VERT_MM.
    """
    n = z.size
    if n == 0:
        return []
    best: dict[tuple[int, int], float] = {}
    back: dict[tuple[int, int], tuple[int, int] | None] = {}
    top_score, top_state = max(depth) - DISC_COST, (-1, int(np.argmax(depth)))
    for i in range(n):
        for j in range(i):
            gap = z[i] - z[j]
            if not VERT_MM[0] <= gap <= VERT_MM[1]:
                continue
            sc = depth[i] + depth[j] - 2 * DISC_COST
            arg: tuple[int, int] | None = None
            for k in range(j):
                prev = best.get((j, k))
                if prev is None:
                    continue
                cand = prev + depth[i] - DISC_COST - REGULARITY * abs(np.log(gap / (z[j] - z[k])))
                if cand > sc:
                    sc, arg = cand, (j, k)
            best[(i, j)] = sc
            back[(i, j)] = arg
            if sc > top_score:
                top_score, top_state = sc, (i, j)
    if top_state[0] < 0:
        return [top_state[1]]
    seq = [top_state[0], top_state[1]]
    st = back.get(top_state)
    while st is not None:
        seq.append(st[1])
        st = back.get(st)
    return sorted(seq)


def endplate_gap(prof: np.ndarray, win: int = ENDPLATE_WIN_MM) -> np.ndarray:
    """Disc score of a body-HU profile sampled at 1 mm: how much darker each point is than the brighter
    structure on *both* sides within ``win`` mm (min of the two one-sided maxima minus the profile).

    A disc lies between two cortical endplates a few mm away, so it scores high; the middle of a vertebral body
    (endplates about half a body height away, beyond ``win``) scores about zero even when its cancellous bone is
    as dark as a disc (osteoporosis), which the old "minimum below the running median" rule took for a disc.
    """
    below = ndi.maximum_filter1d(prof, size=win, origin=(win - 1) // 2, mode="nearest")  # max over [i-win+1, i]
    above = ndi.maximum_filter1d(prof, size=win, origin=-((win - 1) // 2), mode="nearest")  # max over [i, i+win-1]
    return np.asarray(np.minimum(below, above) - prof)


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
    g = endplate_gap(prof)
    from scipy.signal import find_peaks  # imported here: scipy.signal costs ~1 s of a cold start

    pk, props = find_peaks(g, distance=8, prominence=3.0)
    if pk.size == 0:
        return np.array([]), np.array([])
    prom = props["prominences"]
    scale = float(np.percentile(prom, 80))
    depth = prom / max(scale, 1e-6)
    seq = _extend_top(zz[pk], depth, _regular_sequence(zz[pk], depth), float(zz[-1]))
    return zz[pk][seq], prom[seq]


def _extend_top(z: np.ndarray, depth: np.ndarray, seq: list[int], top_mm: float) -> list[int]:
    """Continue the disc sequence upwards: the column goes on above its highest disc found, so a candidate that
    pays for itself (depth >= DISC_COST, before any regularity penalty) one pitch above it (``NEXT_PITCH`` times
    the pitch below, both of its endplates in view) is the next disc. The sequence search drops such a disc when
    the series ends close above it (phantom seed 0: T11/T12, 18 mm below the top, depth 0.37 < the 0.3 cost plus
    the penalty for a T12 a little shorter than L1), and the rib count needs it to place T11's ribs. (At the
    bottom the sacro-iliac joints place a missed L5/S1 disc instead, Method 8.)"""
    while len(seq) >= 2:
        last, pitch = z[seq[-1]], z[seq[-1]] - z[seq[-2]]
        ok = [
            j
            for j in range(seq[-1] + 1, z.size)
            if NEXT_PITCH[0] * pitch <= z[j] - last <= NEXT_PITCH[1] * pitch
            and depth[j] >= DISC_COST
            and z[j] + ENDPLATE_WIN_MM <= top_mm
        ]
        if not ok:
            break
        seq = [*seq, min(ok, key=lambda j: abs(z[j] - last - pitch))]
    return seq


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


def _top_of_lowest(f: SpineFeatures, mask: np.ndarray, merge_mm: float) -> float | None:
    """Top z of the lowest sustained run of ``mask`` slices below the lungs, merging runs less than ``merge_mm``
    (or SI_MERGE_STEPS slices) apart."""
    mask = mask & (f.lung_mm2 < LUNG_MM2)
    if (f.lung_mm2 >= LUNG_MM2).any():  # well below the lungs
        mask &= f.z_mm < f.z_mm[f.lung_mm2 >= LUNG_MM2].min() - 60.0
    runs = [(a, b) for a, b in _runs(mask) if b - a >= 2 or f.z_mm.size < 10]
    if not runs:
        return None
    step = float(np.median(np.diff(f.z_mm))) if f.z_mm.size > 1 else 0.0
    merge = max(merge_mm, SI_MERGE_STEPS * step)
    a, b = runs[0]
    for a2, b2 in runs[1:]:
        if f.z_mm[a2] - f.z_mm[b - 1] < merge:
            b = b2
    return float(f.z_mm[b - 1])


def si_contact(f: SpineFeatures) -> np.ndarray | None:
    """Slices where the spine's lateral masses meet the iliac bones on both sides (sarco_core.l3.sacroiliac):
    joined, or a gap no wider than a normal SI joint space plus one working-grid pixel. None when no slice shows
    iliac bone on both sides (then the contact cannot be judged)."""
    if f.si_gap_mm is None or not np.isfinite(f.si_gap_mm).any():
        return None
    contact: np.ndarray = f.si_gap_mm <= si.SI_JOINT_MAX_MM + max(f.row_mm, f.col_mm)
    return contact


def si_top(f: SpineFeatures) -> tuple[float | None, str | None]:
    """Top z of the sacro-iliac joints and the evidence used: "contact" (S1 = the first vertebra from above whose
    lateral masses meet the iliac bones on both sides: the top of the lowest run of contact slices, runs up to
    SI_SPAN_MM apart merged, since the joints span S1-S3 and may look open on a few slices), else "alae" (the
    older landmark: alae beside the body, or bone joined to the spine reaching >= SI_REACH_MM to both sides)."""
    contact = si_contact(f)
    if contact is not None:
        top = _top_of_lowest(f, contact, SI_SPAN_MM)
        if top is not None:
            return top, "contact"
    top = _top_of_lowest(f, (f.joined_mm >= SI_REACH_MM) | (f.ala_frac >= ALA_FRAC), 8.0)
    return top, None if top is None else "alae"


def analyse(f: SpineFeatures) -> Analysis:
    discs, prom = find_discs(f)
    gap = lumbar_gap(f)
    lungs = f.z_mm[f.lung_mm2 >= LUNG_MM2]
    a = Analysis(discs, prom, None, None, None, None, gap, float(lungs.min()) if lungs.size else None)
    a.si_top_z, a.si_evidence = si_top(f)
    if a.si_top_z is not None and discs.size >= 2:
        above = np.nonzero(discs > a.si_top_z - 12.0)[0]
        # the pitch of the two discs above (L4/L5 to L3/L4 when only L5/S1 was missed): a missing disc there too
        # (an irregular sequence, e.g. osteoporotic bodies) makes the gap no evidence of a missed L5/S1 disc
        pitch = float(discs[above[0] + 1] - discs[above[0]]) if above.size and above[0] + 1 < discs.size else 0.0
        regular = VERT_MM[0] <= pitch <= SI_PITCH_MAX_MM
        if regular and SI_DISC_FAR * pitch < discs[above[0]] - a.si_top_z <= SI_DISC_MISSED * pitch:
            z_new = a.si_top_z + SI_DISC_OFFSET_MM
            if discs[above[0]] - z_new >= VERT_MM[0] and (above[0] == 0 or z_new - discs[above[0] - 1] >= VERT_MM[0]):
                discs = np.insert(discs, above[0], z_new)
                prom = np.insert(prom, above[0], 0.0)
                a.discs_z, a.disc_prominence = discs, prom
                a.notes.append(
                    f"the L5/S1 disc space was not seen; it was placed at the top of the sacro-iliac "
                    f"joints (z {z_new:.0f} mm)"
                )
    a.rib_count = rb.count_t12(rb.components(f), discs, float(f.z_mm[-1]), a.si_top_z)
    a.rib_low_z = a.rib_count.head_z
    if a.si_top_z is not None and discs.size:
        above = np.nonzero(discs > a.si_top_z - 12.0)[0]
        if above.size and discs[above[0]] - a.si_top_z < 45.0:
            a.sacrum = Count("sacrum", int(above[0]), a.si_top_z, None)
            lo = a.sacrum.l3_lo_from()
            a.sacrum.l3_lo = lo if lo + 1 < discs.size else None
        else:
            a.notes.append("sacro-iliac joints seen but no disc space found just above them")
    t12 = a.rib_count.t12
    if t12 is not None and a.rib_low_z is not None:
        a.ribs = Count("ribs", t12, a.rib_low_z, None)
        lo = a.ribs.l3_lo_from()
        a.ribs.l3_lo = lo if lo >= 0 else None
    return a


def interval_ok(discs: np.ndarray, lo: int) -> bool:
    """Disc-to-disc distance of the vertebra above disc ``lo`` is plausible."""
    if lo < 0 or lo + 1 >= discs.size:
        return False
    return bool(VERT_MM[0] <= discs[lo + 1] - discs[lo] <= VERT_MM[1])
