"""Transverse processes per vertebra: free (lumbar-type), carrying a rib (thoracic) or a sacral ala (S1).

Anatomy (Gray's Anatomy, 42nd ed., the vertebral column; Standring 2020): lumbar transverse processes are long,
thin, horizontal bars that leave the pedicle-lamina junction and end free in the muscles of the posterior abdominal
wall (psoas in front, quadratus lumborum at the tip), the third the longest, the fifth stout and attached to the
whole pedicle; thoracic vertebrae carry the ribs (the rib neck lies against the transverse process, the tubercle
articulates with its tip down to T10); the sacral alae are wide, thick masses joined to the ilium at the
sacro-iliac joints. Adult lumbar processes span roughly 70-100 mm tip to tip (approximate figures), i.e. they
reach about 25-50 mm from the midline (L1 shortest, L3 longest); the phantom uses 30-50 mm
(``sarco_core/phantom/frame.py`` ``tp_len``: key 0 = T12 32 mm, L1 40, L3 48, L5 44; a massive L5 process
``l5_tp_scale=1.5``: 66 mm).

For each vertebra (the interval between two detected discs) :func:`classify` looks at the slices of its upper-middle
part (pedicles and transverse processes, :data:`TP_FRAC`) and, per side and slice, follows the bone (> the
finder's ``BONE_HU`` on the working grid, one-pixel gaps closed) that is joined in-plane to the root of the process
beside the canal:

* **reach**: how far from the midline that bone goes behind the vertebral-body centre (the process band);
* **plate**: the thickest point of that bone beyond :data:`PLATE_FROM_MM` (half-thickness, mm): a sacral ala is a
  solid mass (the phantom's: 16-20 mm half-thick), a transverse process or a rib a bar (<= 5 mm half-thick, a
  massive L5 process included);
* **rib at the tip**: separate thin dense bone (the rib finder's mask) within a joint space of the process's tip
  (:data:`NEAR_MM`), in that slice or the next.

A side is **free** when the bone ends in soft tissue within :data:`TP_FREE_MAX_MM` and is no plate; **rib** when,
not a plate, it goes on beyond :data:`RIB_MIN_MM` (a rib joined to the tip) or rib bone lies against its tip;
**ala** when it is a plate. Kinds: "sacral" (both sides ala, or one side ala with sacro-iliac contact),
"rib-bearing" (a rib on at least one side and no ala), "lumbar-type" (both sides free), else "unknown" (the
evidence is given either way). This is evidence for the decision only where it is clear-cut (``decide``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from sarco_core.l3 import sacroiliac as si
from sarco_core.l3.spine import SpineFeatures

TP_FRAC = (0.35, 0.75)  # pedicles / transverse processes: the upper-middle of the disc-to-disc interval (phantom:
# processes at 0.35-0.8 of the body height; the body spans about 0.15-0.85 of the interval)
SLAB_FRAC = (0.15, 0.85)  # the vertebra's slab (about its body's height): its slices' features are read there
ROOT_MM = (10.0, 26.0)  # the process root beside the canal (canal half-width 8-11 mm, pedicle about 9 mm wide)
BAND_DY_MM = (-5.0, 45.0)  # rows of the process band: behind the body centre (TP line about 20-30 mm behind it)
# up to the laminae; bowel and kidneys lie in front of it
TP_MIN_MM = 20.0  # a process shorter than this is not seen (the body's half-width is 20-25 mm)
TP_FREE_MAX_MM = 70.0  # a free process ends by here (lumbar 25-50 mm; a massive L5 process in the phantom 66 mm)
RIB_MIN_MM = 75.0  # bone going on beyond this from the process is a rib (ribs reach >= 55 mm: see ribs.py) ...
PLATE_FROM_MM = 30.0  # ... unless it is a plate: thickness is measured beyond the body's half-width
PLATE_HALF_MM = 8.0  # a sacral ala is >= 16 mm thick; a process or a rib a 6-13 mm bar (half: <= 6.5 mm)
TIP_MM = 6.0  # the tip: the process's last 6 mm
NEAR_MM = 6.0  # a rib lies against the tip across a joint space (costotransverse joint 2-3 mm + a working pixel);
# a free process ends in muscle, and the ilium beside a free L5 lies beyond the iliolumbar ligament (sacroiliac.py)
RIB_MM2 = 20.0  # a rib's cross-section (>= 9 x 6 mm) shows at least this much thin dense bone there
RIB_AP_MAX_MM = 35.0  # a rib's piece in one slice spans less front to back than an iliac wing
DY_WIN_MM = (-20.0, 60.0)  # rows followed (an ala and the SI joints lie beside and behind the body centre)
LAT_WIN_MM = 130.0  # columns followed on each side (a rib's first 8 cm)


@dataclass(frozen=True)
class Side:
    """One side's process: ``reach_mm`` from the midline (0: none seen), ``plate_half_mm`` its thickest half-width
    beyond the body, and the verdict ``kind``: "free" | "rib" | "ala" | "unclear"."""

    reach_mm: float
    plate_half_mm: float
    rib_mm2: float  # separate rib bone within a joint space of its tip (largest in one slice)
    kind: str


@dataclass(frozen=True)
class VertebraKind:
    """What the transverse processes of the vertebra between discs ``lo`` and ``lo + 1`` say (z in mm)."""

    lo: int
    z_lo_mm: float
    z_hi_mm: float
    kind: str  # "lumbar-type" | "rib-bearing" | "sacral" | "unknown"
    right: Side
    left: Side
    si_contact: bool  # sacro-iliac contact on both sides in most of its process slices
    evidence: str  # in words

    def to_dict(self) -> dict[str, object]:
        return {
            "z_mm": [round(self.z_lo_mm, 1), round(self.z_hi_mm, 1)],
            "kind": self.kind,
            "reach_mm": [round(self.right.reach_mm, 1), round(self.left.reach_mm, 1)],
            "evidence": self.evidence,
        }


def _side_kind(reach: float, plate: float, rib_mm2: float) -> str:
    if plate >= PLATE_HALF_MM:
        return "ala"
    if reach >= RIB_MIN_MM or (reach >= TP_MIN_MM and rib_mm2 >= RIB_MM2):
        return "rib"
    if TP_MIN_MM <= reach <= TP_FREE_MAX_MM:
        return "free"
    return "unclear"


def _measure_side(f: SpineFeatures, js: np.ndarray, tp: np.ndarray, s: float) -> tuple[float, float, float]:
    """(reach mm, plate half-thickness mm, rib area mm² at its tip) on side ``s`` (+1: increasing columns) over
    working slices ``js`` (``tp``: which of them are process slices)."""
    nr, nc = f.bone.shape[1:]
    r0 = float(np.median(f.body_row[js]))
    c0 = float(np.median(f.mid_col[js]))
    ra = max(0, int(np.floor(r0 + DY_WIN_MM[0] / f.row_mm)))
    rb = min(nr, int(np.ceil(r0 + DY_WIN_MM[1] / f.row_mm)) + 1)
    lat = int(np.ceil(LAT_WIN_MM / f.col_mm))
    if s > 0:
        ca, cb = max(0, int(np.floor(c0))), min(nc, int(c0) + lat + 1)
    else:
        ca, cb = max(0, int(c0) - lat), min(nc, int(np.ceil(c0)) + 1)
    if ra >= rb or cb - ca < 2:
        return 0.0, 0.0, 0.0
    sq = np.zeros((3, 3, 3), bool)
    sq[1] = True  # in-plane closing and labels: a slice's process is its own
    dx = (np.arange(ca, cb) - c0)[None, None, :] * f.col_mm * s
    dy = (np.arange(ra, rb) - r0)[None, :, None] * f.row_mm
    b = np.asarray(ndi.binary_closing(f.bone[js, ra:rb, ca:cb], structure=sq)) & (dx >= ROOT_MM[0])
    lab, n = ndi.label(b, structure=sq)
    if n == 0:
        return 0.0, 0.0, 0.0
    inband = (dy >= BAND_DY_MM[0]) & (dy <= BAND_DY_MM[1])
    root = (dx <= ROOT_MM[1]) & inband & tp[:, None, None]
    ids = np.unique(lab[root & (lab > 0)])
    if ids.size == 0:
        return 0.0, 0.0, 0.0
    own = np.isin(lab, ids)  # per slice: the bone joined (in-plane) to the process root
    band = own & inband
    reach = float((dx * band).max()) + 0.5 * f.col_mm if band.any() else 0.0
    # foreign thin bone (a rib: the finder's rib mask, large thick blobs removed), not a plate (an iliac wing spans
    # >= RIB_AP_MAX_MM front to back in one slice), within a joint space of the process's tip in its slice or the
    # slice above / below: the rib's neck and tubercle against the process (a free process ends in muscle)
    rib_m = f.ribs[js, ra:rb, ca:cb] & ~own & (dx >= ROOT_MM[1])
    rl, rn = ndi.label(rib_m, structure=sq)
    if rn:
        rows = np.arange(rb - ra)
        ap = np.zeros(rn + 1)
        for i, sl in enumerate(ndi.find_objects(rl)):
            if sl is not None:
                ap[i + 1] = (rows[sl[1]][-1] - rows[sl[1]][0] + 1) * f.row_mm
        rib_m &= (ap < RIB_AP_MAX_MM)[rl]
    plate, rib_mm2 = 0.0, 0.0
    px = f.row_mm * f.col_mm
    for k in np.nonzero(tp)[0]:
        sl = np.asarray(ndi.binary_fill_holes(own[k]))
        if not sl.any():
            continue
        half = ndi.distance_transform_edt(sl, sampling=(f.row_mm, f.col_mm))
        out = half[(dx[0] >= PLATE_FROM_MM) & sl]
        if out.size:
            plate = max(plate, float(out.max()))
        reach_k = float((dx[0] * (own[k] & inband[0])).max())
        tip = own[k] & inband[0] & (dx[0] >= max(TP_MIN_MM, reach_k - TIP_MM))
        if not tip.any() or rn == 0:
            continue
        near = ndi.distance_transform_edt(~tip, sampling=(f.row_mm, f.col_mm)) <= NEAR_MM
        for j in range(max(0, int(k) - 1), min(int(js.size), int(k) + 2)):
            rib_mm2 = max(rib_mm2, float(np.count_nonzero(rib_m[j] & near)) * px)
    return reach, plate, rib_mm2


def _words(kind: str, right: Side, left: Side, contact: bool) -> str:
    def one(name: str, sd: Side) -> str:
        what = {
            "free": "ends free",
            "rib": "goes on as a rib",
            "ala": "is a solid mass (sacral ala)",
            "unclear": "is unclear",
        }[sd.kind]
        return f"{name} process {what} ({sd.reach_mm:.0f} mm from the midline)"

    head = {
        "lumbar-type": "free transverse processes on both sides",
        "rib-bearing": "a rib at its transverse process",
        "sacral": "sacral alae" + (" meeting the iliac bones" if contact else ""),
        "unknown": "not clear-cut",
    }[kind]
    return f"{head}: {one('right', right)}, {one('left', left)}"


def classify(f: SpineFeatures, discs: np.ndarray) -> tuple[VertebraKind, ...]:
    """The kind of each vertebra between consecutive discs ``discs`` (z mm, ascending), lowest first."""
    out: list[VertebraKind] = []
    if f.bone.ndim != 3 or f.z_mm.size < 2:
        return ()
    contact_thr = si.SI_JOINT_MAX_MM + max(f.row_mm, f.col_mm)
    spans = [(i, float(discs[i]), float(discs[i + 1])) for i in range(discs.size - 1)]
    if discs.size >= 2:  # the vertebra below the lowest disc (S1 below L5/S1: the sacral discs are not found)
        pitch = float(discs[1] - discs[0])
        if float(f.z_mm[0]) <= float(discs[0]) - (1.0 - SLAB_FRAC[0]) * pitch:
            spans.insert(0, (-1, float(discs[0]) - pitch, float(discs[0])))
        top = float(discs[-1] - discs[-2])  # ... and the one above the highest disc (its upper disc out of view)
        if float(f.z_mm[-1]) >= float(discs[-1]) + SLAB_FRAC[1] * top:
            spans.append((discs.size - 1, float(discs[-1]), float(discs[-1]) + top))
    for i, z0, z1 in spans:
        h = z1 - z0
        js = np.nonzero((f.z_mm >= z0 + SLAB_FRAC[0] * h) & (f.z_mm <= z0 + SLAB_FRAC[1] * h))[0]
        if js.size == 0:
            continue
        zj = f.z_mm[js]
        tp = (zj >= z0 + TP_FRAC[0] * h) & (zj <= z0 + TP_FRAC[1] * h)
        if not tp.any():  # thick slices: the slab's slice nearest to the process level
            tp[int(np.argmin(np.abs(zj - (z0 + 0.55 * h))))] = True
        sides = []
        for s in (-1.0, 1.0):
            reach, plate, rib_mm2 = _measure_side(f, js, tp, s)
            sides.append(Side(reach, plate, rib_mm2, _side_kind(reach, plate, rib_mm2)))
        right, left = sides  # image columns increase towards the patient's left (canonical orientation)
        gaps = f.si_gap_mm[js[tp]] if f.si_gap_mm is not None else np.array([np.inf])
        contact = bool(np.mean(gaps <= contact_thr) >= 0.5)
        ks = {right.kind, left.kind}
        if ks == {"ala"} or ("ala" in ks and contact):
            kind = "sacral"
        elif "rib" in ks and "ala" not in ks:
            kind = "rib-bearing"
        elif ks == {"free"}:
            kind = "lumbar-type"
        else:
            kind = "unknown"
        out.append(VertebraKind(i, z0, z1, kind, right, left, contact, _words(kind, right, left, contact)))
    return tuple(out)


def below_disc(kinds: tuple[VertebraKind, ...], lo: int) -> VertebraKind | None:
    """The vertebra right below disc ``lo`` (between discs ``lo - 1`` and ``lo``), None when not classified."""
    return next((v for v in kinds if v.lo == lo - 1), None)
