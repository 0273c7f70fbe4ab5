"""Per-slice spine features on a coarse grid: where the vertebral body is, its HU profile along z, and the
bone and air around it (iliac wings, ribs, lungs) that the level counting in :mod:`sarco_core.l3.levels` uses.

Everything is computed on a copy reduced to about ``GRID_MM`` in-plane and ``GRID_Z_MM`` along z (block means),
and expressed in millimetres, so slice spacings of 0.625-5 mm and pixels of 0.6-3 mm behave alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from sarco_core.l3.sacroiliac import si_gap_mm

GRID_MM = 2.4  # target in-plane pixel size of the working grid
GRID_Z_MM = 2.0  # target slice spacing of the working grid (thicker input is kept as is)
BODY_HU = -400.0
BONE_HU = 180.0
RIB_HU = 220.0  # ribs / iliac wings: above contrast-enhanced kidney and vessels
THICK_BLOB_MM2 = 150.0  # thick cores at least this large are not ribs (vertebral body, kidney, aorta)
AIR_HU = -400.0
STRIP_MM = 6.0  # half-width of the midline strip used to find the vertebral body
JUMP_MM = 12.0  # the body centre moves less than this from its running median
PROFILE_BONE_HU = 130.0  # midline rows brighter than this (strip mean) count as bone
LOW_DENSITY_HU: tuple[float, ...] = (100.0,)  # retried when no body with a canal behind it is found at 130 HU
# ... and then brighter thresholds: at 70-80 kVp (bone and iodine brighter) or with a contrast-filled aorta against
# the body, the body, the canal edges and the aorta merge into one run at 130 HU; a higher threshold opens the canal
BRIGHT_HU: tuple[float, ...] = (200.0, 280.0)
BOX_DEPTH, BOX_HALF_WIDTH_MM = 0.9, 12.0  # vertebral-body box: 90 % of the body's depth, +-12 mm wide
LATERAL_MM = (60.0, 150.0)  # lateral bone band (ribs / iliac wings), distance from the midline
MAX_DY_MM = 85.0  # ribs and iliac wings lie less than this behind the vertebral body centre (the table: more)
SI_LUNG_MM2 = 2500.0  # the sacro-iliac contact is not looked for where lungs are in view (levels.LUNG_MM2)
ALA_MM = (30.0, 60.0)  # band beside the vertebral body where the sacral alae lie (psoas at lumbar levels)
# spinal canal: a ring-closed low-density hole in the bone (body in front, pedicles beside, laminae behind); adult
# lumbar canal about 15-20 mm AP x 20-25 mm wide (Eisenstein 1977, J Bone Joint Surg Br 59:173), CSF / cord / fat
CANAL_MM2 = (60.0, 600.0)  # hole area in one slice (smaller: trabecular gaps; larger: a low-density body)
CANAL_MAX_HU = 100.0  # mean HU inside the hole (CSF, cord, epidural fat; not bone, not enhanced vessels)
SHELL_HU = 200.0  # cortical bone of a low-density body's shell (cancellous bone of osteoporosis: < 100 HU)
CANAL_Z_MM = 20.0  # the canal sightings within this (about half a vertebra) give a slice's canal position
# ... where it is seen in at least this share of them: the canal is ring-closed by bone only at the pedicles (about
# 40 % of a vertebra's height on the phantom); fewer sightings (real CT at 3 mm: scattered) are not trusted
CANAL_SEEN_FRAC = 0.3
CANAL_MAX_OFF_MM = 40.0  # the canal lies within this of the bone-median midline (kidneys and bowel farther out)
# bone overlap with its mirror image about the canal (see symmetry): vertebrae 0.39-0.57 on example_ct and 0.42-0.69
# on phantom seed 102, the holes beside example_ct's hip prosthesis and in its pelvis 0.09-0.30
CANAL_SYMMETRY = 0.35


@dataclass(frozen=True)
class Grid:
    """The reduced working stack: ``hu[j, r, c]`` with slice centres ``z_mm[j]`` and pixel size (row, col)."""

    hu: np.ndarray
    z_mm: np.ndarray
    row_mm: float
    col_mm: float
    z_step_mm: float
    groups: list[np.ndarray]  # original canonical indices averaged into each working slice


def reduce(hu: np.ndarray, z_mm: np.ndarray, row_mm: float, col_mm: float, slice_mm: float | None) -> Grid:
    """Block-mean the stack to about GRID_MM in-plane and GRID_Z_MM along z (chunked: bounded memory)."""
    k, r, c = hu.shape
    fr = max(1, int(round(GRID_MM / row_mm)))
    fc = max(1, int(round(GRID_MM / col_mm)))
    fz = max(1, int(round(GRID_Z_MM / slice_mm))) if slice_mm and k > 1 else 1
    r2, c2 = r // fr, c // fc
    nz = max(1, k // fz)
    out = np.empty((nz, r2, c2), np.float32)
    step = max(1, 48 // fz) * fz
    for k0 in range(0, nz * fz, step):
        k1 = min(k0 + step, nz * fz)
        blk = np.asarray(hu[k0:k1, : r2 * fr, : c2 * fc], dtype=np.float32)
        blk = blk.reshape((k1 - k0) // fz, fz, r2, fr, c2, fc).mean(axis=(1, 3, 5))
        out[k0 // fz : k1 // fz] = blk
    groups = [np.arange(j * fz, (j + 1) * fz) for j in range(nz)]
    zz = np.array([float(np.mean(z_mm[g])) for g in groups])
    return Grid(out, zz, row_mm * fr, col_mm * fc, float((slice_mm or 0.0) * fz), groups)


def body_mask(sl: np.ndarray) -> np.ndarray:
    """Largest 8-connected component above BODY_HU with holes filled."""
    fg = sl > BODY_HU
    lab, n = ndi.label(fg, structure=np.ones((3, 3), bool))
    if n == 0:
        return fg
    sizes = np.bincount(lab.ravel())
    sizes[0] = 0
    return np.asarray(ndi.binary_fill_holes(lab == int(np.argmax(sizes))))


def thin_dense(g: Grid, bodies: np.ndarray) -> npt.NDArray[np.bool_]:
    """Bone above RIB_HU minus blobs thicker than about 12 mm (opening with a 5 x 5 mm square removes ribs) whose
    thick core covers at least THICK_BLOB_MM2 in the slice (vertebral bodies, enhanced kidneys, the aorta); small
    thick spots (a rib crossing its transverse process, a rib seen along its length) are kept."""
    dense: npt.NDArray[np.bool_] = (g.hu > RIB_HU) & bodies  # NumPy's stubs: Any for arrays of unknown dtype
    rr = max(1, int(round(5.0 / g.row_mm)))
    rc = max(1, int(round(5.0 / g.col_mm)))
    thick = ndi.binary_opening(dense, structure=np.ones((1, 2 * rr + 1, 2 * rc + 1), bool))
    flat = np.zeros((3, 3, 3), bool)
    flat[1] = True
    lab, nl = ndi.label(thick, structure=flat)
    if nl:
        area = np.bincount(lab.ravel()) * g.row_mm * g.col_mm
        big = area >= THICK_BLOB_MM2
        big[0] = False
        thick = big[lab]
    near_thick: npt.NDArray[np.bool_] = ndi.binary_dilation(thick, structure=np.ones((1, 3, 3), bool))  # scipy: untyped
    return dense & ~near_thick


@dataclass(frozen=True)
class SpineFeatures:
    """Per working-slice features (arrays of length n). Rows/cols are working-grid coordinates."""

    z_mm: np.ndarray
    found: np.ndarray  # vertebral body located
    body_row: np.ndarray  # centre row of the vertebral body (smoothed, interpolated where not found)
    body_half_rows: np.ndarray  # half AP depth of the body in rows
    mid_col: np.ndarray  # midline column of the spine
    body_hu: np.ndarray  # mean HU of the vertebral-body box (bodies high, discs low)
    joined_mm: np.ndarray  # lateral reach of the bone joined to the spine (sacrum + ilium at the SI joints)
    ala_frac: np.ndarray  # bone fraction 30-60 mm beside the vertebral body, weaker side (sacral alae)
    lateral_mm2: np.ndarray  # bone area 60-150 mm lateral to the midline (ribs or iliac wings)
    lung_mm2: np.ndarray  # air area inside the body beside and behind the spine (lungs)
    bone: np.ndarray  # (n, rows, cols) bone mask inside the body
    ribs: np.ndarray  # (n, rows, cols) thin dense bone (> RIB_HU, large thick blobs removed): sarco_core.l3.ribs
    row_mm: float
    col_mm: float
    # gap (mm) between the spine's lateral bone and the iliac bones, wider side (sarco_core.l3.sacroiliac):
    # 0 joined, inf no iliac bone in view on a side; None: not computed
    si_gap_mm: np.ndarray | None = None


def _runs(mask1d: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of True runs."""
    d = np.diff(np.concatenate([[0], mask1d.astype(np.int8), [0]]))
    return list(zip(np.nonzero(d == 1)[0].tolist(), np.nonzero(d == -1)[0].tolist(), strict=True))


def symmetry(bone: np.ndarray, r: float, c: float, px_mm: tuple[float, float]) -> float:
    """Left-right symmetry of the bone around column ``c`` (rows ``r`` - 35 mm .. ``r`` + 25 mm, +-35 mm wide): the
    overlap (intersection over union) of the bone with its mirror image. A vertebra is bilaterally symmetric about
    its canal; a hole beside a hip joint or in the pelvis is not."""
    hr, hc = int(round(35.0 / px_mm[0])), int(round(35.0 / px_mm[1]))
    r0, r1 = max(0, int(round(r)) - hr), min(bone.shape[0], int(round(r)) + int(round(25.0 / px_mm[0])) + 1)
    ci = int(round(c))
    w = min(hc, ci, bone.shape[1] - 1 - ci)
    if w < 3:
        return 0.0
    box = bone[r0:r1, ci - w : ci + w + 1]
    union = np.count_nonzero(box | box[:, ::-1])
    return float(np.count_nonzero(box & box[:, ::-1]) / union) if union else 0.0


def find_canal(
    bone: np.ndarray, hu: np.ndarray, guess_col: float, px_mm: tuple[float, float]
) -> tuple[float, float] | None:
    """The spinal canal in one slice: (row, col) of the most posterior ring-closed low-density hole in the bone
    (after closing ~1-pixel gaps) of CANAL_MM2 area and mean HU <= CANAL_MAX_HU within CANAL_MAX_OFF_MM of
    ``guess_col``; None at disc levels (the disc does not close the ring) or without such a hole. A contrast-filled
    aorta, bowel or kidney is not a hole in bone behind which the posterior elements close a ring."""
    closed = ndi.binary_closing(bone, structure=np.ones((3, 3), bool), iterations=1)
    holes = np.asarray(ndi.binary_fill_holes(closed)) & ~closed
    lab, n = ndi.label(holes)
    if n == 0:
        return None
    idx = np.arange(1, n + 1)
    area = np.asarray(ndi.sum(np.ones_like(hu), lab, idx)) * px_mm[0] * px_mm[1]
    mean_hu = np.asarray(ndi.mean(hu, lab, idx))
    centres = ndi.center_of_mass(holes, lab, idx)
    cands = [
        (float(r), float(c), abs(c - guess_col) * px_mm[1])
        for a, m, (r, c) in zip(area, mean_hu, centres, strict=True)
        if CANAL_MM2[0] <= a <= CANAL_MM2[1]
        and m <= CANAL_MAX_HU
        and abs(c - guess_col) * px_mm[1] <= CANAL_MAX_OFF_MM
        and symmetry(bone, r, c, px_mm) >= CANAL_SYMMETRY
    ]
    if not cands:
        return None
    # on the midline (the holes beside it, between ribs and transverse processes, come in lateral pairs); of the
    # midline holes the most posterior (a low-density body interior lies in front of the canal)
    near = min(x[2] for x in cands) + 15.0
    r, c, _ = max((x for x in cands if x[2] <= near), key=lambda x: x[0])
    return r, c


def _shell(profile: np.ndarray, row_mm: float, canal_row: float) -> tuple[int, int] | None:
    """A low-density body (cancellous bone as dark as soft tissue) as its cortical shell in front of the canal: the
    posterior cortex is the last row > SHELL_HU within 10 mm in front of the canal centre, the anterior cortex the
    most anterior row > SHELL_HU 15-55 mm in front of it (vertebral body AP depth, Panjabi 1992)."""
    bright = np.nonzero(profile > SHELL_HU)[0]
    post = bright[(bright <= canal_row) & (bright >= canal_row - 10.0 / row_mm)]
    if post.size == 0:
        return None
    b = int(post.max())
    ant = bright[(bright <= b - 15.0 / row_mm) & (bright >= b - 55.0 / row_mm)]
    return (int(ant.min()), b + 1) if ant.size else None


def locate_body(
    profile: np.ndarray, row_mm: float, body_rows: tuple[int, int] | None = None, canal_row: float | None = None
) -> tuple[float, float] | None:
    """Vertebral body in a midline HU profile (strip mean per row, averaged over neighbouring slices).

    The body is the bone run (>= 10 mm) with another bone run (posterior elements) 3-45 mm behind it
    (the spinal canal); the longest such run wins. When the canal row is known (``canal_row``, from
    :func:`find_canal`), the body must lie directly in front of it (the canal within the gap behind the run, or at
    most 6 mm behind its end): a contrast-filled aorta has the vertebral body behind it, not the canal. Without a
    canal in view, the longest 15-60 mm run in the posterior half of the body (``body_rows``: its first and last
    row) is taken. Returns (centre row, half depth in rows) or None.
    """
    best = None
    for thr in (PROFILE_BONE_HU, *LOW_DENSITY_HU, *BRIGHT_HU):  # low density: osteoporosis; bright: low kVp
        runs = [(a, b) for a, b in _runs(profile > thr) if (b - a) * row_mm >= 4.0]
        for i, (a, b) in enumerate(runs):
            if (b - a) * row_mm < 10.0 or (b - a) * row_mm > 70.0:
                continue
            behind = [(a2, b2) for a2, b2 in runs[i + 1 :] if 3.0 <= (a2 - b) * row_mm <= 45.0]
            if not behind:
                continue
            if canal_row is not None and not (b - 6.0 / row_mm <= canal_row <= behind[0][0] + 6.0 / row_mm):
                continue
            if best is None or (b - a) > (best[1] - best[0]):
                best = (a, b)
        if best is not None:
            break
    for thr in (PROFILE_BONE_HU, *BRIGHT_HU):
        if best is not None or body_rows is None:
            break
        runs = [(a, b) for a, b in _runs(profile > thr) if (b - a) * row_mm >= 4.0]
        r0, r1 = body_rows
        for a, b in runs:
            ok = 15.0 <= (b - a) * row_mm <= 60.0 and (a + b) / 2.0 > r0 + 0.5 * (r1 - r0)
            ok = ok and (canal_row is None or b <= canal_row)  # not the posterior elements behind the canal
            if ok and (best is None or (b - a) > (best[1] - best[0])):
                best = (a, b)
    if best is None and canal_row is not None:
        best = _shell(profile, row_mm, canal_row)
    if best is None:
        return None
    return (best[0] + best[1] - 1) / 2.0, (best[1] - best[0]) / 2.0


def spine_features(g: Grid) -> SpineFeatures:
    n, nr, nc = g.hu.shape
    cols = np.arange(nc)
    bodies = np.empty((n, nr, nc), bool)
    bone = np.empty((n, nr, nc), bool)
    mid = np.full(n, np.nan)
    for j in range(n):
        bodies[j] = body_mask(g.hu[j])
        bone[j] = (g.hu[j] > BONE_HU) & bodies[j]
        cc = np.nonzero(bone[j].any(axis=0))[0]
        if cc.size:
            w = bone[j].sum(axis=0)
            cum = np.cumsum(w)
            mid[j] = float(np.searchsorted(cum, cum[-1] / 2.0))
    ribs = thin_dense(g, bodies)
    ok = np.isfinite(mid)
    win = max(3, int(round(60.0 / max(g.z_step_mm, 1.0))) | 1)
    size = min(win, 2 * n - 1 if n > 1 else 1)
    if not ok.any():
        mid[:] = nc / 2.0
    else:
        mid[~ok] = np.median(mid[ok])
        mid = ndi.median_filter(mid, size=size, mode="nearest")
    # the spinal canal fixes the midline: the median column of all bone drifts towards contrast-filled bowel, the
    # aorta and enhanced kidneys (> BONE_HU too); between canal slices (discs) the canal is interpolated
    canal = np.full((n, 2), np.nan)
    for j in range(n):
        got_c = find_canal(bone[j], g.hu[j], float(mid[j]), (g.row_mm, g.col_mm))
        if got_c is not None:
            canal[j] = got_c
    has_canal = np.isfinite(canal[:, 0])
    canal_row = np.full(n, np.nan)
    if has_canal.any():
        # used where the canal is seen in CANAL_SEEN_FRAC of the slices within CANAL_Z_MM (the local median of those
        # sightings); where sightings are sparse (thick or noisy slices, real CT at disc levels) the bone median
        # is kept and the body is located without the canal, as before
        col = mid.copy()
        for j in range(n):
            win_j = np.abs(g.z_mm - g.z_mm[j]) <= CANAL_Z_MM
            seen = win_j & has_canal
            if seen.sum() >= CANAL_SEEN_FRAC * win_j.sum():
                col[j] = float(np.median(canal[seen, 1]))
                canal_row[j] = float(np.median(canal[seen, 0]))
        mid = ndi.median_filter(col, size=size, mode="nearest")
    # midline bone profiles, averaged over +-12 mm of z so that disc slices still show the body
    hw = max(1, int(round(STRIP_MM / g.col_mm)))
    prof = np.zeros((n, nr), np.float32)
    for j in range(n):
        c0 = int(round(mid[j]))
        prof[j] = np.clip(g.hu[j][:, max(0, c0 - hw) : c0 + hw + 1], -200, 800).mean(axis=1)
    zw = max(1, int(round(24.0 / max(g.z_step_mm, 0.5))))
    if n > 1:
        prof = ndi.uniform_filter1d(prof, size=min(zw, n), axis=0, mode="nearest")
    row = np.full(n, np.nan)
    half = np.full(n, np.nan)
    for j in range(n):
        rows_in = np.nonzero(bodies[j].any(axis=1))[0]
        extent = (int(rows_in[0]), int(rows_in[-1])) if rows_in.size else None
        cr = float(canal_row[j]) if np.isfinite(canal_row[j]) else None
        got = locate_body(prof[j], g.row_mm, extent, cr)
        if got is not None:
            row[j], half[j] = got
    found = np.isfinite(row)
    if found.sum() > 2:
        # continuity: drop rows far from the running median over ~45 mm (posterior elements taken at discs)
        idx = np.arange(n)
        filled = np.interp(idx, idx[found], row[found])
        w45 = max(3, int(round(45.0 / max(g.z_step_mm, 1.0))) | 1)
        med = ndi.median_filter(filled, size=min(w45, n if n % 2 else n - 1), mode="nearest")
        found &= np.abs(filled - med) * g.row_mm <= JUMP_MM
    if found.any():
        idx = np.arange(n)
        row = np.interp(idx, idx[found], row[found])
        half = np.interp(idx, idx[found], half[found])
        if n > 2:
            w = max(3, int(round(20.0 / max(g.z_step_mm, 1.0))) | 1)
            row = ndi.median_filter(row, size=min(w, n if n % 2 else n - 1), mode="nearest")
            half = ndi.median_filter(half, size=min(w, n if n % 2 else n - 1), mode="nearest")
    else:
        row[:] = nr / 2.0
        half[:] = 15.0 / g.row_mm
    body_hu = np.zeros(n)
    joined = np.zeros(n)
    ala = np.zeros(n)
    lateral = np.zeros(n)
    lung = np.zeros(n)
    si_gap = np.full(n, np.inf)
    px = g.row_mm * g.col_mm
    rr = np.arange(nr)[:, None]
    close = np.ones((3, 3), bool)
    for j in range(n):
        r0, c0, h = row[j], mid[j], max(half[j], 5.0 / g.row_mm)
        ra, rb = int(round(r0 - BOX_DEPTH * h)), int(round(r0 + BOX_DEPTH * h)) + 1
        bw = max(1, int(round(BOX_HALF_WIDTH_MM / g.col_mm)))
        box = g.hu[j, max(0, ra) : rb, max(0, int(round(c0)) - bw) : int(round(c0)) + bw + 1]
        body_hu[j] = float(np.clip(box, -100, 600).mean()) if box.size else 0.0
        dx = np.abs(cols[None, :] - c0) * g.col_mm
        dy = (rr - r0) * g.row_mm
        lat = (g.hu[j] > RIB_HU) & bodies[j] & (dx >= LATERAL_MM[0]) & (dx <= LATERAL_MM[1]) & (dy <= MAX_DY_MM)
        lateral[j] = float(lat.sum()) * px
        band = (np.abs(dy) <= 0.8 * h * g.row_mm) & (dx >= ALA_MM[0]) & (dx <= ALA_MM[1])
        left, right = band & (cols[None, :] > c0), band & (cols[None, :] < c0)
        if left.any() and right.any():
            ala[j] = float(min(bone[j][left].mean(), bone[j][right].mean()))
        # bone joined to the vertebral body after closing small gaps (the sacro-iliac joints)
        bj = ndi.binary_closing(bone[j], structure=close, iterations=1)
        lab, nl = ndi.label(bj)
        rc = int(np.clip(round(r0), 0, nr - 1))
        seed = lab[max(0, rc - 2) : rc + 3, max(0, int(c0) - 2) : int(c0) + 3]
        ids = np.unique(seed[seed > 0])
        if ids.size:
            comp = np.isin(lab, ids)
            cc = np.nonzero(comp.any(axis=0))[0]
            joined[j] = float(min(abs(cc[0] - c0), abs(cc[-1] - c0)) * g.col_mm)
        air = bodies[j] & (g.hu[j] < AIR_HU) & (dx >= 20.0) & (dx <= 160.0) & (dy >= -80.0) & (dy <= 40.0)
        lung[j] = float(air.sum()) * px
        if lateral[j] > 0.0 and lung[j] < SI_LUNG_MM2:  # iliac bone may be in view (not the chest)
            si_gap[j] = si_gap_mm(bone[j], r0, c0, h, g.row_mm, g.col_mm)
    return SpineFeatures(
        z_mm=g.z_mm,
        found=found,
        body_row=row,
        body_half_rows=half,
        mid_col=mid,
        body_hu=body_hu,
        joined_mm=joined,
        ala_frac=ala,
        lateral_mm2=lateral,
        lung_mm2=lung,
        bone=bone,
        ribs=ribs,
        row_mm=g.row_mm,
        col_mm=g.col_mm,
        si_gap_mm=si_gap,
    )
