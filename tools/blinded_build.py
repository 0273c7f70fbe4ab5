"""The blinded-reference builder of :mod:`tools.blinded_tool`: a reader's selection file (JSON; its format is in
:mod:`tools.blinded_tool`) replayed into the mask on the native grid, from the image alone - the HU-gated soft
tissue of the trunk cut into numbered components, the chosen ones grown back, polygons and small holes applied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from sarco_core.metrics import DEFAULT_GATES
from validation.reviewed import HERE, in_muscle_gate

GATE = DEFAULT_GATES.muscle  # Alberta protocol skeletal-muscle range (Mourtzakis et al. 2008; docs/convention.md)
MIN_COMPONENT_PX = 20
HOLE_MAX_CM2 = 1.0
BLINDED = HERE / "blinded"
EIGHT = np.ones((3, 3), bool)


def selection_path(name: str, pass_no: int) -> Path:
    return BLINDED / f"pass{pass_no}" / f"{name}.json"


def poly_mask(shape: tuple[int, ...], poly: list[list[float]], *, line_px: int = 0) -> np.ndarray:
    """Filled polygon (``line_px`` = 0) or a polyline ``line_px`` wide, vertices (row, col)."""
    from PIL import Image, ImageDraw

    im = Image.new("1", (shape[1], shape[0]), 0)
    pts = [(float(c), float(r)) for r, c in poly]
    if line_px:
        ImageDraw.Draw(im).line(pts, fill=1, width=line_px)
    else:
        ImageDraw.Draw(im).polygon(pts, fill=1, outline=1)
    return np.array(im, dtype=bool)


def components(hu: np.ndarray, row_mm: float, col_mm: float, sel: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(component ids per pixel (0 = none), the gated soft tissue of the trunk: the median-filtered gate the
    components were cut from, plus the pixels of the raw gate - what the SMA counts - not in bone)."""
    from sarco_core.body import find_body, opening
    from sarco_core.segment.teacher.anatomy import bone_mask, find_vertebra

    px_mm = float(np.sqrt(row_mm * col_mm))
    trunk = find_body(hu, px_mm).trunk
    hs = ndi.median_filter(hu, size=3)
    if sel.get("smooth_mm"):  # low-dose noise: components of a Gaussian-smoothed slice (bone still from hs)
        soft_hu = ndi.gaussian_filter(hu, float(sel["smooth_mm"]) / px_mm)
    else:
        soft_hu = hs
    # bone: dense cortex closed and filled, so marrow (often < 150 HU) enclosed by cortex is never a component
    bone = bone_mask(hs, trunk, px_mm)
    vert = find_vertebra(bone, trunk, px_mm, hs)  # the vertebral body (convex hull of its bone) and the canal
    soft = in_muscle_gate(soft_hu) & trunk & ~bone & ~(vert.mask if vert is not None else False)
    core = opening(soft, float(sel.get("open_mm", 1.0)) / px_mm)
    for cut in sel.get("cuts", []):
        core &= ~poly_mask(hu.shape, cut, line_px=2)
    lab, n = ndi.label(core, structure=EIGHT)
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    order = [k for k in np.argsort(-sizes[1:], kind="stable") + 1 if sizes[k] >= MIN_COMPONENT_PX]
    ids = np.zeros(n + 1, np.int32)
    ids[order] = np.arange(1, len(order) + 1)
    if sel.get("smooth_mm"):  # low-dose: raw-gate pixels are mostly noise at the edges; the compartment is smooth
        return ids[lab], soft
    return ids[lab], soft | (in_muscle_gate(hu) & trunk & ~bone & ~(vert.mask if vert is not None else False))


def build(hu: np.ndarray, row_mm: float, col_mm: float, sel: dict[str, Any]) -> np.ndarray:
    """The reference mask (bool, native grid) of a selection (see the module docstring)."""
    comp, soft = components(hu, row_mm, col_mm, sel)
    keep = np.isin(comp, np.asarray(sel.get("keep", []), np.int32)) & (comp > 0)
    # the pixels the opening and the cuts took come back to their nearest component (within the opening radius +
    # 1.5 px: thin tissue the opening removed entirely, such as skin without fat under it, stays out)
    dist, (ir, ic) = ndi.distance_transform_edt(comp == 0, return_indices=True)
    reach_px = float(sel.get("open_mm", 1.0)) / float(np.sqrt(row_mm * col_mm)) + 1.5
    mask = soft & keep[ir, ic] & (dist <= reach_px)
    if sel.get("max_depth"):
        from sarco_core.body import find_body
        from sarco_core.segment.teacher.anatomy import fascia_interior

        px_mm = float(np.sqrt(row_mm * col_mm))
        hs = ndi.median_filter(hu, size=3)
        ring = fascia_interior(hs, find_body(hu, px_mm).trunk, px_mm).mask
        depth_mm = ndi.distance_transform_edt(ring, sampling=(row_mm, col_mm))
        owner = comp[ir, ic]
        for op in sel["max_depth"]:
            inside = poly_mask(hu.shape, op["poly"]) & np.isin(owner, np.asarray(op["ids"], np.int32))
            mask &= ~(inside & (depth_mm > float(op["mm"])))
    for poly in sel.get("add", []):
        mask |= poly_mask(hu.shape, poly) & in_muscle_gate(hu)
    for poly in sel.get("remove", []):
        mask &= ~poly_mask(hu.shape, poly)
    holes = ndi.binary_fill_holes(mask) & ~mask
    lab, n = ndi.label(holes)
    if n:
        sizes = np.bincount(lab.ravel()) * row_mm * col_mm / 100.0
        bone = np.bincount(lab.ravel(), weights=(hu > GATE[1]).ravel())
        small = (sizes <= HOLE_MAX_CM2) & (bone == 0)
        small[0] = False
        mask |= small[lab]
    return np.asarray(mask, bool)


def read_selection(name: str, pass_no: int) -> dict[str, Any]:
    p = selection_path(name, pass_no)
    if not p.is_file():
        return {"name": name, "pass": pass_no, "open_mm": 1.0, "cuts": [], "keep": []}
    return dict(json.loads(p.read_text()))
