"""Seeded 3-D abdominal stacks with exact labels and vertebra levels: :func:`phantom_volume`."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from sarco_core.phantom.anatomy import Patient
from sarco_core.phantom.params import PhantomParams, sample_params
from sarco_core.phantom.pv import PVRenderer
from sarco_core.phantom.slice import pixel_pair
from sarco_core.phantom.spine import FEMUR_BOTTOM_MM, SACRUM_MM, SpineLayout, build_layout
from sarco_core.phantom.texture import imat_streaks, synthesize_hu, tissue_hu
from sarco_core.phantom.tissues import LABEL_OF
from sarco_core.volume import SourceMeta, Volume

SI_JOINT_MM = (1.0, 4.0)  # adult SI joint space on CT 0.8-4.4 mm (Demir et al. 2007; sarco_core.l3.sacroiliac)
TP_ILIUM_GAP_MM = (8.0, 20.0)  # soft tissue between the L5 transverse process and the ilium (iliolumbar ligament)
CURVE_APEX = (0.35, 0.6)  # apex of a lateral curve between S1 (0) and T10 (1): about L3 to L1/L2


@dataclass(frozen=True, eq=False)
class PhantomVolume:
    """A synthetic CT stack in canonical layout (index 0 most inferior) with exact label maps."""

    volume: Volume
    labels: np.ndarray  # uint8 (k, r, c): 0 background, 1 muscle compartment, 2 SAT, 3 VAT
    tissue: np.ndarray  # uint8 (k, r, c) fine tissue ids (sarco_core.phantom.TISSUES)
    vertebrae: np.ndarray  # uint8 (k, r, c) TotalSegmentator vertebra ids (L6 = 90), 0 elsewhere
    levels: dict[str, tuple[float, float]]  # vertebral BODY z range (lo, hi) in mm, volume z frame
    discs: dict[str, tuple[float, float]]  # "L3/L4" -> (lo, hi) mm
    l3_mid_z_mm: float
    l3_mid_index: int
    lumbar_count: int
    lumbar_rib: bool
    seed: int
    params: PhantomParams
    layout: SpineLayout

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        sp = self.volume.spacing_mm
        return (float(sp.slice or 0.0), sp.row, sp.col)

    def level_at(self, z_mm: float) -> str | None:
        """The vertebra whose body contains ``z_mm`` (None in a disc or outside the spine)."""
        for name, (lo, hi) in self.levels.items():
            if lo <= z_mm < hi:
                return name
        return None

    def index_of(self, name: str, frac: float = 0.5) -> int:
        """Canonical slice index nearest to a fraction of a vertebral body."""
        lo, hi = self.levels[name]
        return self.volume.index_of_z(lo + frac * (hi - lo))


def _range(layout: SpineLayout, top: str, bottom: str, sacrum: bool) -> tuple[float, float]:
    names = layout.names
    if top not in names:
        raise ValueError(f"top must be one of {names}, got {top!r}")
    z_hi = layout.get(top).hi
    lowest = layout.lumbar()[-1]
    if not sacrum:
        return layout.get(lowest).lo, z_hi
    if bottom == "sacrum":
        return layout.s1_lo - SACRUM_MM, z_hi
    if bottom == "femur":
        return layout.s1_lo - FEMUR_BOTTOM_MM, z_hi
    if bottom not in names:
        raise ValueError(f"bottom must be a vertebra of {names}, 'sacrum' or 'femur', got {bottom!r}")
    return layout.get(bottom).lo, z_hi


def phantom_volume(
    seed: int,
    *,
    slice_mm: float = 3.0,
    pixel_mm: float | tuple[float, float] | None = None,
    size: int = 256,
    top: str = "T11",
    bottom: str = "S1",
    lumbar_count: int = 5,
    lumbar_rib: bool = False,
    sacrum: bool = True,
    body: str | None = None,
    contrast: bool | None = None,
    truncated: bool = False,
    arms: bool | None = None,
    table: bool = True,
    z_offset_mm: float = 0.0,
    contacts: str = "default",
    rib12: str = "normal",
    wedge_l5: float = 0.0,
    l5s1_disc_mm: float | None = None,
    l5_tp_scale: float = 1.0,
    crest_key: float = 4.6,
    thoracic_count: int = 12,
    si_joints: bool = False,
    cobb_deg: float = 0.0,
) -> PhantomVolume:
    """A seeded stack from ``bottom`` (lower endplate; 'sacrum'/'femur' reach lower) to ``top`` (upper endplate).

    ``sacrum=False`` starts the stack at the lowest lumbar vertebra's lower endplate (no S1 / sacrum slices).
    ``lumbar_count`` 4-6 (6 adds "L6", id 90, between L5 and S1); ``lumbar_rib`` adds rudimentary lumbar ribs
    (20-45 mm) at the tips of L1's transverse processes (no rib head at the body: L1 stays L1);
    ``thoracic_count=13`` adds "T13" (id 91) with a full rib pair between T12 and L1 (13 rib pairs; the vertebrae
    below are L1-L5, named up from the sacrum);
    ``rib12`` "short" (hypoplastic 12th ribs, ~3-5 cm) or "absent" (no 12th ribs: T11 is the last rib-bearing
    vertebra); the default "normal" renders as before. Lowest lumbar vertebra ("L5"): ``wedge_l5`` (0-0.6) makes
    its body that fraction lower behind than in front, ``l5s1_disc_mm`` sets the disc below it (large or narrow),
    ``l5_tp_scale`` enlarges its transverse processes; ``crest_key`` (default 4.6, between L4 and L5; 4.0 = the
    middle of L4) is where the iliac wings begin, so a lower value puts L5 deep between them. Defaults: unchanged.
    ``pixel_mm=None`` picks a 410 mm field of view (1.6 mm at 256², 0.8 mm at 512²); a smaller field of view
    scales the patient down to fit (unless ``truncated``). ``contacts="hard"``: see :func:`phantom_slice`.
    ``si_joints=True`` renders sacro-iliac joints: the ilium meets the sacral alae across a joint space of 1-4 mm
    and lies 8-20 mm of soft tissue beyond the lowest lumbar transverse processes (seeded; default False: the older
    pelvis, byte-identical). ``cobb_deg`` (-20..20) bends the lumbar spine into a lateral curve with that Cobb
    angle (+ convex to the left; apex seeded between L3 and L1/L2), the vertebrae shifted and rotated in-plane.
    The draws for both come from their own seeded stream, so every other draw (and volume) is unchanged.
    """
    if slice_mm <= 0.3 or slice_mm > 10:
        raise ValueError(f"slice_mm must lie in 0.3..10 mm, got {slice_mm}")
    row_mm, col_mm = pixel_pair(pixel_mm if pixel_mm is not None else round(410.0 / size, 4))
    p = sample_params(seed, body=body, contrast=contrast, truncated=truncated, arms=arms, table=table)
    layout = build_layout(
        seed,
        lumbar_count=lumbar_count,
        lumbar_rib=lumbar_rib,
        top="T6",
        spine_scale=p.spine_scale,
        z_offset_mm=z_offset_mm,
        rib12=rib12,
        lowest_disc_mm=l5s1_disc_mm,
        thoracic_count=thoracic_count,
    )
    if not 0.0 <= wedge_l5 <= 0.6:
        raise ValueError(f"wedge_l5 must lie in 0..0.6, got {wedge_l5}")
    layout = replace(
        layout, wedge_lowest=float(wedge_l5), lowest_tp_scale=float(l5_tp_scale), crest_key=float(crest_key)
    )
    if not -20.0 <= cobb_deg <= 20.0:
        raise ValueError(f"cobb_deg must lie in -20..20 degrees, got {cobb_deg}")
    if si_joints or cobb_deg:
        xrng = np.random.default_rng([int(seed), 8118])  # own stream: the other draws do not move
        joint, tp_gap, apex = (float(xrng.uniform(*r)) for r in (SI_JOINT_MM, TP_ILIUM_GAP_MM, CURVE_APEX))
        layout = replace(
            layout,
            si_joint_mm=joint if si_joints else None,
            tp_ilium_gap_mm=tp_gap,
            cobb_deg=float(cobb_deg),
            curve_apex=apex,
        )
    z_lo, z_hi = _range(layout, top, bottom, sacrum)
    n = int(np.floor((z_hi - z_lo) / slice_mm + 1e-9))
    if n < 1:
        raise ValueError("the requested range holds no slice")
    z0 = z_lo + slice_mm / 2
    pat = Patient(p, layout, rows=int(size), cols=int(size), row_mm=row_mm, col_mm=col_mm, contacts=contacts)
    tables = tissue_hu(p)
    rng = np.random.default_rng([int(seed), 556])
    hu = np.empty((n, size, size), np.int16)
    tissue = np.empty((n, size, size), np.uint8)
    vert = np.empty((n, size, size), np.uint8)
    pvr = PVRenderer(pat) if contacts == "hard" else None
    for k in range(n):
        z = z0 + k * slice_mm
        centre, rad = pat.body_centre_px(z)
        if pvr is not None:  # partial volume over each pixel and the slice's slab (sarco_core.phantom.pv)
            t, v, mean_img = pvr.render(z, slice_mm, tables[0], k)
            hu[k] = synthesize_hu(t, p, rng, (row_mm, col_mm), tables, pat.arm_streak_px(z), centre, rad, mean_img)
        else:
            t, v = pat.render(z)
            t = imat_streaks(t, p, rng, (row_mm, col_mm))
            hu[k] = synthesize_hu(t, p, rng, (row_mm, col_mm), tables, pat.arm_streak_px(z), centre, rad)
        tissue[k], vert[k] = t, v
    meta = SourceMeta(
        kind="array",
        modality="CT",
        manufacturer="sarco phantom",
        slice_thickness_mm=slice_mm,
        contrast_agent="IV contrast" if p.contrast else None,
        kvp=120.0,
    )
    vol = Volume.from_array(hu=hu, spacing_mm=(slice_mm, row_mm, col_mm), z0_mm=z0, meta=meta)
    z_last = z0 + (n - 1) * slice_mm
    levels: dict[str, tuple[float, float]] = {}
    discs: dict[str, tuple[float, float]] = {}
    vs = layout.vertebrae
    for i, vp in enumerate(vs):
        if vp.hi > z0 - slice_mm / 2 and vp.lo < z_last + slice_mm / 2:
            levels[vp.name] = (vp.lo, vp.hi)
        if i > 0 and vs[i - 1].hi < z_last and vp.lo > z0:
            discs[f"{vp.name}/{vs[i - 1].name}"] = (vs[i - 1].hi, vp.lo)
    l3 = layout.get("L3")
    l3_mid = 0.5 * (l3.lo + l3.hi)
    return PhantomVolume(
        volume=vol,
        labels=LABEL_OF[tissue],
        tissue=tissue,
        vertebrae=vert,
        levels=levels,
        discs=discs,
        l3_mid_z_mm=l3_mid,
        l3_mid_index=int(round((l3_mid - z0) / slice_mm)),
        lumbar_count=lumbar_count,
        lumbar_rib=lumbar_rib,
        seed=int(seed),
        params=p,
        layout=layout,
    )
