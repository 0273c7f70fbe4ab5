"""Anatomical regions of an axial trunk slice, for reporting agreement region by region (``sarco evaluate``).

One owner: :func:`slice_regions` partitions the image plane of one slice into fixed regions defined by anatomy
alone (the vertebral body centre and the body outline found in the image), never by either mask being compared,
so a change of a mask in one region shows as a change in that region only. Canonical display is assumed (row 0
anterior, column 0 patient right: :mod:`sarco_core.io`).

* ``back``: behind the coronal plane through the posterior edge of the vertebral body: erector spinae /
  multifidus, the posterior quadratus lumborum, latissimus dorsi;
* ``psoas_crus``: in front of that plane and within ``PSOAS_ZONE_HALF_WIDTHS`` vertebral half widths (half the
  body's transverse width) of the body centre: psoas, the anterior quadratus lumborum and, at T12-L2, the
  diaphragmatic crura (not muscle by the convention: an error here is often crus, vessel or node);
* ``inner_layer``: the rest of the trunk more than ``WALL_OUTER_MM`` under the outer surface of the muscle ring
  (the fascia boundary): transversus abdominis and whatever lies against it (liver, spleen, bowel, diaphragm) -
  where over-calls into organs land;
* ``abdominal_wall``: the rest of the trunk within ``WALL_OUTER_MM`` of the ring's outer surface (rectus, external
  and internal obliques; also skin and SAT, which no mask should hold);
* ``other``: outside the trunk (arms, table, air), or the whole slice when no vertebra is found.

The regions are a reporting aid, not a segmentation: their borders are approximate by design and are the same for
the reference and the method compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
from scipy import ndimage as ndi

from sarco_core.body import find_body
from sarco_core.segment.teacher.anatomy import bone_mask, fascia_interior, find_vertebra

# Project definition (no published cutoff exists for a reporting zone): at L1-L3 the psoas and the crura lie against
# the side / front of the vertebral body and reach about one body width lateral of its side, so 3 half widths
# from the body centre hold them and stay clear of the lateral wall (6-8 half widths from the midline in adults).
# Checked on seeded phantoms (tests/test_regions.py), never fitted to a scan.
PSOAS_ZONE_HALF_WIDTHS = 3.0
# The outer wall layers: rectus abdominis ~ 10 mm, external + internal oblique ~ 12 mm thick in adults
# (Rankin G., Stokes M., Newham D.J., Muscle Nerve 2006;34:320 - ultrasound of the abdominal wall); deeper tissue
# is the transversus and what lies against it.
WALL_OUTER_MM = 10.0
MEDIAN_PX = 3  # the teacher's denoising before it looks for the muscle ring (sarco_core.segment.teacher)


class Region(StrEnum):
    ABDOMINAL_WALL = "abdominal_wall"
    BACK = "back"
    PSOAS_CRUS = "psoas_crus"
    INNER_LAYER = "inner_layer"
    OTHER = "other"

    @property
    def code(self) -> int:
        return REGION_ORDER.index(self) + 1


REGION_ORDER: tuple[Region, ...] = (
    Region.ABDOMINAL_WALL,
    Region.BACK,
    Region.PSOAS_CRUS,
    Region.INNER_LAYER,
    Region.OTHER,
)


@dataclass(frozen=True)
class SliceRegions:
    """Region codes per pixel (``Region.code``; every pixel has exactly one) and how they were found."""

    codes: np.ndarray  # uint8 (rows, cols)
    vertebra_centre_rc: tuple[float, float] | None  # pixels; None = no vertebra found (all pixels OTHER)
    vertebra_half_width_mm: float | None
    vertebra_back_row: float | None = None  # row of the vertebral body's posterior edge
    borrowed: bool = False  # the vertebra was taken from a neighbouring slice (this one cuts a disc)

    @property
    def found(self) -> bool:
        return self.vertebra_centre_rc is not None

    def mask(self, region: Region) -> npt.NDArray[np.bool_]:
        inside: npt.NDArray[np.bool_] = self.codes == region.code
        return inside


def slice_regions(
    hu: np.ndarray, *, row_mm: float, col_mm: float, neighbour: SliceRegions | None = None
) -> SliceRegions:
    """Partition one canonical axial slice into :class:`Region` s (see the module docstring). Where the slice
    shows no vertebral body (it cuts a disc, or bone is too faint) the vertebra of ``neighbour`` (an adjacent
    slice of the same series) is used, and the result says so (``borrowed``)."""
    hu = np.asarray(hu, np.float32)
    px_mm = float(np.sqrt(row_mm * col_mm))  # the teacher's morphology works in one pixel size
    codes = np.full(hu.shape, Region.OTHER.code, np.uint8)
    trunk = find_body(hu, px_mm).trunk
    if not trunk.any():
        return SliceRegions(codes, None, None)
    hs = ndi.median_filter(hu, size=MEDIAN_PX)
    vert = find_vertebra(bone_mask(hs, trunk, px_mm), trunk, px_mm, hs)
    borrowed = False
    if vert is not None:
        cy, cx = vert.centre_rc
        half_mm = vert.half_width_px * col_mm
        back_row = float(np.nonzero(vert.body.any(axis=1))[0][-1])  # posterior edge of the vertebral body
    elif neighbour is not None and neighbour.vertebra_centre_rc is not None and neighbour.vertebra_back_row is not None:
        (cy, cx), half_mm, back_row = (
            neighbour.vertebra_centre_rc,
            neighbour.vertebra_half_width_mm or 0.0,
            neighbour.vertebra_back_row,
        )
        borrowed = True
    else:
        return SliceRegions(codes, None, None)
    rr, cc = np.indices(hu.shape, dtype=np.float32)
    dy_mm = (rr - cy) * row_mm  # + = posterior
    dx_mm = (cc - cx) * col_mm
    back = trunk & (rr > back_row)
    psoas = trunk & ~back & (np.hypot(dy_mm, dx_mm) <= PSOAS_ZONE_HALF_WIDTHS * half_mm)
    ring = fascia_interior(hs, trunk, px_mm).mask
    if not ring.any():
        ring = trunk
    depth_mm = ndi.distance_transform_edt(ring, sampling=(row_mm, col_mm))
    wall_sector = trunk & ~back & ~psoas
    inner = wall_sector & (depth_mm > WALL_OUTER_MM)
    codes[wall_sector & ~inner] = Region.ABDOMINAL_WALL.code
    codes[inner] = Region.INNER_LAYER.code
    codes[psoas] = Region.PSOAS_CRUS.code
    codes[back] = Region.BACK.code
    return SliceRegions(codes, (float(cy), float(cx)), float(half_mm), back_row, borrowed)


NEIGHBOUR_MAX_MM = 10.0  # a lumbar disc is ~ 10 mm high: a slice that cuts one borrows a vertebra this close


def stack_regions(
    hu: np.ndarray, z_mm: np.ndarray, *, row_mm: float, col_mm: float, indices: list[int]
) -> dict[int, SliceRegions]:
    """:func:`slice_regions` of the given slices of a stack; a slice without a vertebral body borrows the one of
    the nearest slice (in z, within ``NEIGHBOUR_MAX_MM``) that has one."""
    out = {k: slice_regions(hu[k], row_mm=row_mm, col_mm=col_mm) for k in indices}
    for k in [k for k, r in out.items() if not r.found]:
        cands = [
            j
            for j, r in out.items()
            if r.found and not r.borrowed and abs(float(z_mm[j]) - float(z_mm[k])) <= NEIGHBOUR_MAX_MM
        ]
        if cands:
            j = min(cands, key=lambda j: abs(float(z_mm[j]) - float(z_mm[k])))
            out[k] = slice_regions(hu[k], row_mm=row_mm, col_mm=col_mm, neighbour=out[j])
    return out
