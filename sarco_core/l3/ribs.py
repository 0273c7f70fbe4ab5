"""Ribs in 3-D: separate elongated bones that leave the spine beside the vertebral body and sweep laterally and
downward. :func:`count_t12` finds the last rib-bearing vertebra (T12) from them; the level count goes down from it.

On the working grid of :mod:`sarco_core.l3.spine`:

1. **Bone lateral to the column**: thin dense bone (``SpineFeatures.ribs``: > 220 HU inside the body, large thick
   blobs such as vertebral bodies, enhanced kidneys and the aorta removed) more than ``CUT_MM`` beside the midline
   (this separates the ribs from the vertebral bodies; the sternum region is cut too, so the two sides never join)
   and less than ``MAX_DY_MM`` behind the body centre (the table). 3-D connected components are labelled on each
   side separately, pieces closer than about ``GROW_MM`` in-plane being joined.
2. **Rib-like components** (:func:`components`; each rejection says why): the part beside or behind the vertebral
   body (``dy >= -DY_FRONT_MM``) comes within ``MEDIAL_MAX_MM`` of the midline (a rib neck), or within
   ``MEDIAL_LOST_MM`` when that end lies well behind the body (a rib angle whose neck was lost in the bone around the
   transverse process; a kidney or bowel beside the spine is not behind it); it reaches ``REACH_MIN_MM`` laterally
   and is ``LENGTH_MIN_MM`` long (lumbar transverse processes are shorter); it is not a plate (``PLATE_MM2``: iliac
   wings, scapulae); it falls away from its head: nothing of it lies more than ``RISE_MAX_MM`` above the head, its
   lateral end is not higher than the head (iliac crests rise laterally from the sacro-iliac joints) and z falls as
   the distance from the head grows (``CORR_MAX``).
3. **Head level**: the mean z of the medial ``HEAD_ZONE_MM`` of the component. A head in the first or last slice
   of the series is cut by the series' edge and is not used.
4. **T12** (:func:`count_t12`): each rib belongs to the vertebra whose disc-to-disc span holds its head. A rib is
   kept when it is supported: a rib on the other side at the same vertebra (a pair), or on the same side one
   vertebra higher (the next rib up); a short rib (``SHORT_*``: 45-55 mm reach, clearly falling: a hypoplastic
   12th rib, not a flat transverse process) only right below a full rib on its side. One rib per side per
   vertebra: a short piece medial to and above a rib of its side and vertebra whose neck was lost is that rib's
   neck, not a second rib (:func:`_join_necks`). The lowest vertebra with a kept rib is T12. The evidence is
   *weak* (``RibCount.notes`` says why) when that rib is on one side only, is short, when two ribs share a
   vertebra or the vertebra is taller than ``TALL`` rib pitches (a missed disc), or when the lowest ribs end in
   front of the vertebral body centre (``TIP_DY_MIN``) like 11th ribs: 12th ribs end further back, so a missed
   short or absent 12th rib shows this way.
5. **Lumbar rib**: when every rib on that lowest vertebra is *rudimentary* (``Rib.rudimentary``: reaching less than
   ``LR_REACH_MAX_MM`` from the midline and running in line with a transverse process, its far end at most
   ``LR_TURN_MAX_MM`` further back than its medial end) and lies right below a full rib on its side, it is a lumbar
   rib on L1: it does not mark T12, the vertebra above it does (``RibCount.lumbar_ribs``; ``alt_t12`` keeps the
   other reading, a short 12th rib, one vertebra lower, for the candidate list).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from sarco_core.l3.spine import SpineFeatures

CUT_MM = 25.0  # bone within this distance of the midline belongs to the vertebral column
MAX_DY_MM = 90.0  # ... and more than this behind the vertebral body centre is the table
DY_FRONT_MM = 15.0  # rib heads / necks lie beside or behind the body centre (not further forward than this)
MEDIAL_MAX_MM = 45.0  # a rib's medial end (neck) comes this close to the midline
MEDIAL_LOST_MM, LOST_DY_MM = 75.0, 20.0  # ... or this close when it lies at least LOST_DY_MM behind the body centre
REACH_MIN_MM = 55.0  # and it reaches at least this far laterally
LENGTH_MIN_MM = 35.0  # 3-D extent from the head zone (lumbar transverse processes: about 20-30 mm beyond CUT_MM)
PLATE_MM2 = 300.0  # bone volume per mm of z extent above this is a plate (iliac wing, scapula), not a rib
RISE_MAX_MM = 12.0  # a rib does not reach higher than this above its head
DESCENT_MIN_MM = -4.0  # head z - lateral end z (iliac crests: negative)
CORR_MAX = -0.3  # correlation of z with the distance from the head: ribs fall away from their heads
HEAD_ZONE_MM = 10.0  # the medial part of a rib used to place its head
GROW_MM = 2.5  # pieces of one rib closer than about twice this in-plane are joined
LINK_STEPS = 3.0  # rib pieces in neighbouring slices this many slice spacings apart in-plane are joined
SHORT_REACH_MM, SHORT_LENGTH_MM = 45.0, 25.0  # a short (hypoplastic) rib: shorter than a full rib ...
SHORT_DESCENT_MM, SHORT_CORR = 3.0, -0.6  # ... but clearly falling away from its head (transverse processes: flat)
TIP_DY_MIN = 0.0  # 12th ribs end behind the vertebral body centre, 11th ribs in front of it (phantom: T12 +2..+83 mm,
# T11 -10..-78 mm; Lung_Dx-A0001's short lowest ribs +34/+37 mm)
# A lumbar rib is a rudimentary rib articulating with (or fused to) the tip of L1's transverse process, with no
# head at the vertebral body (Bergman et al., Anatomy Atlases, "Lumbar vertebrae": "usually rudimentary";
# Chengetanai et al., Anat Cell Biol 2017: joint cavities between L1's transverse processes and the ribs). It is
# the transverse process's own costal element, so it continues the process laterally, whereas a 12th rib, even a
# hypoplastic one, sweeps back along the posterior abdominal wall from its head (phantom hypoplastic 12th ribs:
# far end 21-35 mm further back than the medial end; full 12th ribs reach >= 115 mm).
LR_REACH_MAX_MM = 90.0  # L1's transverse-process tip (about 35-45 mm from the midline) + a rib of a few cm
LR_TURN_MAX_MM = 15.0  # its far end lies at most this much further back than its medial end (in line with the process)
TALL = 1.4  # the lowest rib's vertebra is taller than this many rib (or disc) pitches: a disc was probably missed
ABOVE_TOP = 0.9  # a head at most this many disc pitches above the highest disc belongs to the vertebra above it


@dataclass(frozen=True)
class Rib:
    """One rib-like 3-D component on one side (``side`` +1 patient left, -1 right); lengths in mm."""

    side: int
    head_z: float
    head_dx: float
    head_dy: float
    reach: float
    length: float
    descent: float
    z_lo: float
    z_hi: float
    n_vox: int
    rise: float  # how far the component reaches above its head (mm): ribs fall from their heads
    corr: float  # correlation of z with the distance from the head (ribs: strongly negative)
    plate: float  # bone volume per mm of z extent (mm²): ribs about 30-150, iliac wings and scapulae more
    cut: bool  # the head lies at the series' top or bottom edge
    rib_like: bool
    why: str  # the first criterion failed ("" for a rib)
    short: bool = False  # a short rib (hypoplastic 12th): only used directly below a full rib on the same side
    tip_dy: float = float("nan")  # where its far end lies: mm behind (+) / in front of (-) the vertebral body centre
    at_bottom: bool = False  # it reaches the series' lowest slice (its far end may be cut off)

    @property
    def turn_mm(self) -> float:
        """How much further back its far end lies than its medial end (mm; 12th ribs sweep back, a lumbar rib
        continues its transverse process laterally)."""
        return self.tip_dy - self.head_dy

    @property
    def rudimentary(self) -> bool:
        """Short and in line with a transverse process (``LR_*``): a lumbar rib when it lies right below a full
        rib on its side."""
        return self.reach < LR_REACH_MAX_MM and self.turn_mm <= LR_TURN_MAX_MM and not self.at_bottom


def components(f: SpineFeatures, voxels: list[tuple[np.ndarray, ...]] | None = None) -> list[Rib]:
    """All 3-D components of lateral thin dense bone with their rib features (rib-like or not); ``voxels``, when
    given, receives each component's (slice, row, col) working-grid indices (for figures)."""
    n, nr, nc = f.ribs.shape
    cols = np.arange(nc)[None, None, :]
    rows = np.arange(nr)[None, :, None]
    dx = (cols - f.mid_col[:, None, None]) * f.col_mm
    dy = (rows - f.body_row[:, None, None]) * f.row_mm
    base = f.ribs & (np.abs(dx) >= CUT_MM) & (dy <= MAX_DY_MM)
    z = f.z_mm
    step = float(np.median(np.diff(z))) if z.size > 1 else 1.0
    out: list[Rib] = []
    for side in (1, -1):
        m = base & ((dx > 0) if side > 0 else (dx < 0))
        lab = _label(m, step, f.row_mm, f.col_mm)
        for i, sl in enumerate(ndi.find_objects(lab), start=1):
            if sl is None:
                continue
            sub = lab[sl] == i
            kk, rr, cc = np.nonzero(sub)
            if kk.size < 3:
                continue
            kk, rr, cc = kk + sl[0].start, rr + sl[1].start, cc + sl[2].start
            ax = np.abs(dx[kk, 0, cc])
            ay = dy[kk, rr, 0]
            zz = z[kk]
            out.append(_describe(side, zz, ax, ay, kk, n, step * f.row_mm * f.col_mm))
            if voxels is not None:
                voxels.append((kk, rr, cc))
    return out


def _label(m: np.ndarray, step: float, row_mm: float, col_mm: float) -> npt.NDArray[np.int32]:
    """3-D components of ``m``: 8-connected pieces of each slice (gaps up to about 2 x GROW_MM closed) linked
    with the pieces of the next slice that come within ``LINK_STEPS`` slice spacings in-plane (a rib crosses thick
    slices obliquely, so its cross-sections in neighbouring slices need not touch)."""
    gr = max(1, int(round(GROW_MM / min(row_mm, col_mm))))
    flat = np.zeros((3, 3, 3), bool)
    flat[1] = True
    lab: npt.NDArray[np.int32]  # scipy (untyped) labels as int32
    lab, nl = ndi.label(ndi.binary_dilation(m, structure=np.ones((1, 2 * gr + 1, 2 * gr + 1), bool)), structure=flat)
    lab[~m] = 0
    if nl == 0:
        return lab
    reach = max(LINK_STEPS * step, 2.0 * (GROW_MM + max(row_mm, col_mm)))
    pairs: list[np.ndarray] = []
    has = np.asarray(m.any(axis=(1, 2)), bool)
    pad_r, pad_c = int(np.ceil(reach / row_mm)) + 1, int(np.ceil(reach / col_mm)) + 1
    for k in np.nonzero(has[:-1] & has[1:])[0]:
        rows = np.nonzero(m[k].any(axis=1) | m[k + 1].any(axis=1))[0]
        cols = np.nonzero(m[k].any(axis=0) | m[k + 1].any(axis=0))[0]
        win = (
            slice(max(0, rows[0] - pad_r), rows[-1] + pad_r + 1),
            slice(max(0, cols[0] - pad_c), cols[-1] + pad_c + 1),
        )  # every voxel of both slices, padded
        a, b = lab[k][win], lab[k + 1][win]
        dist, (ir, ic) = ndi.distance_transform_edt(b == 0, sampling=(row_mm, col_mm), return_indices=True)
        sel = (a > 0) & (dist <= reach)
        if sel.any():
            pairs.append(np.unique(np.stack([a[sel], b[ir[sel], ic[sel]]], axis=1), axis=0))
    if not pairs:
        return lab
    e = np.concatenate(pairs)
    g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(nl + 1, nl + 1))
    _, root = connected_components(g, directed=False)
    root[0] = -1
    _, new = np.unique(root, return_inverse=True)  # 0 stays background (root -1 sorts first)
    return np.asarray(new[lab], dtype=np.int32)


def _describe(side: int, zz: np.ndarray, ax: np.ndarray, ay: np.ndarray, kk: np.ndarray, n: int, vox_mm3: float) -> Rib:
    reach = float(ax.max())
    post = ay >= -DY_FRONT_MM
    nv = int(zz.size)
    z_lo, z_hi = float(zz.min()), float(zz.max())
    n_z = int(np.unique(kk).size)
    plate = nv * vox_mm3 / max(z_hi - z_lo, 1e-6) * (n_z - 1) / n_z if n_z > 1 else nv * vox_mm3
    if not post.any():
        nan, why0 = float("nan"), "no part beside or behind the vertebral body"
        return Rib(
            side, nan, float(ax.min()), float(ay.mean()), reach, 0, 0, z_lo, z_hi, nv, 0, 0, plate, False, False, why0
        )
    medial = float(ax[post].min())
    head = post & (ax <= medial + HEAD_ZONE_MM)
    hz, hx, hy = float(zz[head].mean()), float(ax[head].mean()), float(ay[head].mean())
    lat = ax >= reach - HEAD_ZONE_MM
    descent = hz - float(zz[lat].mean())
    dist = np.sqrt((ax - hx) ** 2 + (ay - hy) ** 2 + (zz - hz) ** 2)
    length = float(dist.max())
    rise = z_hi - hz
    corr = float(np.corrcoef(zz, dist)[0, 1]) if zz.std() > 0 and dist.std() > 0 else 0.0
    kh = kk[head]
    cut = bool(kh.max() >= n - 1 or kh.min() <= 0)
    why, short = "", False
    if medial > MEDIAL_LOST_MM or (medial > MEDIAL_MAX_MM and hy < LOST_DY_MM):
        why = f"medial end {medial:.0f} mm beside and {hy:.0f} mm behind the vertebral body centre"
    elif plate > PLATE_MM2:
        why = f"a plate ({plate:.0f} mm² per mm of z)"
    elif reach < REACH_MIN_MM or length < LENGTH_MIN_MM:
        short = (
            reach >= SHORT_REACH_MM
            and length >= SHORT_LENGTH_MM
            and descent >= SHORT_DESCENT_MM
            and corr <= SHORT_CORR
            and rise <= RISE_MAX_MM
        )
        if not short:
            why = (
                f"reaches {reach:.0f} mm laterally, {length:.0f} mm long, falls {descent:.0f} mm "
                "(a transverse process?)"
            )
    elif rise > RISE_MAX_MM:
        why = f"reaches {rise:.0f} mm above its medial end"
    elif descent < DESCENT_MIN_MM:
        why = f"rises {-descent:.0f} mm laterally"
    elif corr > CORR_MAX:
        why = f"does not fall away from its medial end (correlation {corr:+.2f})"
    tip_dy, bottom = float(ay[int(np.argmax(dist))]), bool(kk.min() <= 0)
    feats = (reach, length, descent, z_lo, z_hi, nv, rise, corr, plate)
    return Rib(side, hz, hx, hy, *feats, cut, why == "", why, short, tip_dy, bottom)


@dataclass
class RibCount:
    """The last rib-bearing vertebra. ``t12`` is a vertebra index: the vertebra above disc ``t12`` (so T12/L1 is
    ``discs[t12]``; -1 = below the lowest disc found). ``ribs`` lists the rib-like components used, with their
    vertebra index."""

    t12: int | None
    head_z: float | None  # mean head z of the rib(s) on T12
    paired: bool  # a rib on both sides at T12
    ribs: list[tuple[Rib, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    short: bool = False  # a T12 rib is short (hypoplastic)
    ignored: int = 0  # rib-like bones left out: no rib beside them or above them on their side
    lumbar_ribs: list[Rib] = field(default_factory=list)  # rudimentary ribs on the vertebra below T12: not counted
    alt_t12: int | None = None  # T12 if the lumbar rib were a (short) 12th rib instead: one vertebra lower
    necks: int = 0  # short pieces joined to the rib whose lost neck they are (:func:`_join_necks`)

    @property
    def weak(self) -> bool:
        """T12 rests on weaker evidence (``notes`` says which): one side only, a short rib, two ribs on one
        vertebra."""
        return self.t12 is not None and len(self.notes) > 0


def vertebra_of(z: float, discs: np.ndarray) -> int | None:
    """Index of the vertebra whose disc-to-disc span holds ``z`` (the vertebra above disc i is i; -1 below the
    lowest disc); None when ``z`` lies more than ABOVE_TOP pitches above the highest disc (a disc above it may have
    been missed, so its vertebra is not known)."""
    if discs.size == 0:
        return None
    v = int(np.searchsorted(discs, z)) - 1
    pitch = float(np.median(np.diff(discs))) if discs.size > 1 else 35.0
    if v == discs.size - 1 and z - discs[-1] > ABOVE_TOP * pitch:
        return None
    return v


def _join_necks(used: list[tuple[Rib, int]]) -> tuple[list[tuple[Rib, int]], int]:
    """One rib per side per vertebra: a short rib-like piece that lies medial to and above the medial end of a
    full rib whose neck was lost (its medial end > ``MEDIAL_MAX_MM`` from the midline), on the same side and
    vertebra, is that rib's neck (a rib runs from its head laterally and down, so its neck is the part nearer the
    midline and higher than its shaft), not a second, hypoplastic rib: the two are joined, the head taken from the
    neck. (A short 12th rib on a vertebra whose disc above was missed lies *below* the 11th rib's head instead.)
    Returns the ribs and the number of necks joined."""
    out, necks = list(used), 0
    for piece, v in used:
        if not piece.short:
            continue
        shafts = [
            (i, r)
            for i, (r, w) in enumerate(out)
            if w == v
            and r.side == piece.side
            and not r.short
            and r.head_dx > MEDIAL_MAX_MM
            and piece.head_dx < r.head_dx
            and piece.head_z > r.head_z
        ]
        if shafts:
            i, r = shafts[0]
            out[i] = (
                replace(
                    r,
                    head_z=piece.head_z,
                    head_dx=piece.head_dx,
                    head_dy=piece.head_dy,
                    z_hi=max(r.z_hi, piece.z_hi),
                    n_vox=r.n_vox + piece.n_vox,
                ),
                v,
            )
            out = [(q, w) for q, w in out if q is not piece]
            necks += 1
    return out, necks


def count_t12(ribs: list[Rib], discs: np.ndarray, z_top: float, si_top_z: float | None = None) -> RibCount:
    """T12 = the lowest vertebra carrying a supported rib (see the module docstring)."""
    used: list[tuple[Rib, int]] = []
    for r in ribs:
        if not r.rib_like or r.cut or (si_top_z is not None and r.head_z <= si_top_z + 20.0):
            continue
        v = vertebra_of(r.head_z, discs)
        if v is not None:
            used.append((r, v))
    used, necks = _join_necks(used)
    have = {(r.side, v) for r, v in used}
    full = {(r.side, v) for r, v in used if not r.short}
    kept = []
    for r, v in used:
        if r.short:  # a hypoplastic 12th rib only right below a full rib on its side (not a transverse process)
            if (r.side, v + 1) in full:
                kept.append((r, v))
            continue
        top_room = z_top - r.head_z < 0.8 * float(np.median(np.diff(discs))) if discs.size > 1 else True
        if (-r.side, v) in have or (r.side, v + 1) in have or top_room:
            kept.append((r, v))
    out = RibCount(None, None, False, kept, necks=necks)
    out.ignored = len(used) - len(kept)
    if not kept:
        return out
    t12 = min(v for _, v in kept)
    low_all = [r for r, v in kept if v == t12]
    full_above = {(r.side, v) for r, v in kept if not r.rudimentary}
    if all(r.rudimentary and (r.side, t12 + 1) in full_above for r in low_all):  # a lumbar rib, not a 12th rib
        out.lumbar_ribs, out.alt_t12 = low_all, t12
        kept = [(r, v) for r, v in kept if v != t12]
        out.ribs = kept
        t12 += 1
    low = [r for r, v in kept if v == t12]
    out.t12, out.head_z = t12, float(np.mean([r.head_z for r in low]))
    sides = {r.side for r in low}
    out.paired = len(sides) == 2
    out.short = any(r.short for r in low)
    if out.short:
        out.notes.append("the lowest rib is short (hypoplastic 12th rib, or a transverse process)")
    if not out.paired:
        other = -next(iter(sides))
        if (other, t12 + 1) in {(r.side, v) for r, v in kept}:
            out.notes.append("the lowest rib is seen on one side only; the other side's lowest rib is one level higher")
        else:
            out.notes.append("the lowest rib is seen on one side only")
    per_side: dict[tuple[int, int], int] = {}
    for r, v in kept:
        per_side[(r.side, v)] = per_side.get((r.side, v), 0) + 1
    if any(c > 1 for c in per_side.values()):
        out.notes.append("two ribs on one side share a vertebra (a disc space may have been missed)")
    if out.lumbar_ribs:
        out.notes.append(
            "a short rib on L1 (lumbar rib) was not counted as a 12th rib: it runs laterally in line with the "
            f"transverse process and reaches only {max(r.reach for r in out.lumbar_ribs):.0f} mm from the midline"
        )
    whole = [r for r in low if not r.at_bottom]
    if whole and all(r.tip_dy < TIP_DY_MIN for r in whole):
        out.notes.append(
            "the lowest ribs reach in front of the vertebral bodies like 11th ribs (the 12th ribs may be "
            "short or absent)"
        )
    if 0 <= t12 < discs.size - 1:
        height = float(discs[t12 + 1] - discs[t12])
        up = [
            b.head_z - a.head_z for a, va in kept for b, vb in kept if a.side == b.side and va == t12 and vb == t12 + 1
        ]
        pitch = float(np.median(up)) if up else float(np.median(np.diff(discs)))  # rib-to-rib, else disc-to-disc
        if height > TALL * pitch:
            out.notes.append(
                f"the vertebra with the lowest rib spans {height:.0f} mm between its discs, against "
                f"{pitch:.0f} mm from rib to rib (a disc space may have been missed)"
            )
    return out
