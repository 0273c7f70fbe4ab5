"""The reviewed-mask builder of :mod:`tools.reviewed_tool`: candidates, their 8-connected pieces and a decision
file -> the reviewed mask (deterministic; the decision format is described in :mod:`tools.reviewed_tool`)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from validation.reviewed import HERE, in_muscle_gate, read_mask

CAND = HERE / "candidates"
DECISIONS = HERE / "decisions"
EIGHT = np.ones((3, 3), bool)


def candidates(name: str, hu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g = in_muscle_gate(hu)
    t = read_mask(CAND / f"{name}_teacher.png") & g
    m = read_mask(CAND / f"{name}_model.png") & g
    return t, m


def pieces(t: np.ndarray, m: np.ndarray) -> dict[str, tuple[np.ndarray, int]]:
    """{"a": (labels, n), "t": ..., "m": ...}: 8-connected components, raster order."""
    out = {}
    for key, mask in (("a", t & m), ("t", t & ~m), ("m", m & ~t)):
        lab, n = ndi.label(mask, structure=EIGHT)
        out[key] = (lab, int(n))
    return out


def poly_mask(shape: tuple[int, int], poly: list[list[float]]) -> np.ndarray:
    """Pixels whose centre lies inside the polygon (native (row, col) vertices)."""
    from PIL import Image, ImageDraw

    im = Image.new("1", (shape[1], shape[0]), 0)
    ImageDraw.Draw(im).polygon([(float(c), float(r)) for r, c in poly], fill=1, outline=1)
    return np.array(im, dtype=bool)


def _choose(lab: np.ndarray, n: int, rule: dict[str, Any], min_px: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept large pieces, all small pieces) of one disagreement kind."""
    sizes = np.bincount(lab.ravel(), minlength=n + 1)
    keep = np.zeros(n + 1, bool)
    default = rule.get("default", "drop") == "keep"
    exc = set(int(i) for i in rule.get("except", []))
    for i in range(1, n + 1):
        if sizes[i] >= min_px:
            keep[i] = default != (i in exc)
    small = (sizes < min_px) & (np.arange(n + 1) > 0)
    return keep[lab], small[lab]


def build(name: str, hu: np.ndarray, row_mm: float, col_mm: float, dec: dict[str, Any]) -> np.ndarray:
    px_cm2 = row_mm * col_mm / 100.0
    t, m = candidates(name, hu)
    pc = pieces(t, m)
    min_px, small = int(dec.get("min_px", 20)), str(dec.get("small", "keep"))
    a_lab, _ = pc["a"]
    out = (a_lab > 0) & ~np.isin(a_lab, [int(i) for i in dec.get("a_drop", [])])
    big_t, small_t = _choose(*pc["t"], dec.get("t", {}), min_px)
    big_m, small_m = _choose(*pc["m"], dec.get("m", {}), min_px)
    out |= big_t | big_m
    if small == "keep":  # boundary slivers: kept where they touch the chosen muscle
        sl, ns = ndi.label(small_t | small_m, structure=EIGHT)
        touch = np.unique(sl[ndi.binary_dilation(out, structure=EIGHT) & (sl > 0)])
        out |= np.isin(sl, touch[touch > 0])
    g = in_muscle_gate(hu)
    for e in dec.get("edits", []):
        p = poly_mask(hu.shape, e["poly"])
        if e["op"] == "max_depth":  # a wall band of known thickness where an organ lies against it
            out &= ~(p & (sat_depth_mm(hu, row_mm, col_mm) > float(e["mm"])))
            continue
        mode = e.get("mode", "gated")
        if mode == "gated":
            p &= g
        elif mode == "smooth_above":  # organ edge: pixels whose 1-px Gaussian mean HU exceeds e["hu"]
            p &= ndi.gaussian_filter(hu, 1.0) > float(e["hu"])
        elif mode != "all":
            raise ValueError(f"unknown mode {mode!r}")
        if "max_smooth_hu" in e:  # keep cartilage / bone / enhanced organ out of an added region
            p &= ndi.gaussian_filter(hu, 1.0) <= float(e["max_smooth_hu"])
        if e["op"] == "add":
            out |= p
        elif e["op"] == "remove":
            out &= ~p
        else:
            raise ValueError(f"unknown op {e['op']!r}")
    out &= hu > -500  # never air
    return _finish(out, hu, px_cm2, dec)


def _finish(out: np.ndarray, hu: np.ndarray, px_cm2: float, dec: dict[str, Any]) -> np.ndarray:
    """Bone interiors out; small holes of out-of-gate pixels (fat, IMAT, noise; no bone) filled, so the compartment
    is solid and its gated area unchanged; tiny islands dropped."""
    if dec.get("exclude_bone_interior", True):  # rib marrow, vertebral body, spinal canal inside a closed cortex
        out &= ~bone_interior(hu, px_cm2)
    lim = float(dec.get("fill_fat_holes_cm2", 1.0)) / px_cm2
    holes, nh = ndi.label(ndi.binary_fill_holes(out) & ~out)
    if nh:
        sizes = np.bincount(holes.ravel(), minlength=nh + 1)
        idx = np.arange(1, nh + 1)
        # fat / noise only: the SMA does not change
        out_of_gate = ndi.maximum(in_muscle_gate(hu), holes, index=idx) == 0
        no_bone = ndi.sum(ndi.gaussian_filter(hu, 1.0) > 200, holes, index=idx) < 4
        fill = np.zeros(nh + 1, bool)
        fill[1:] = (sizes[1:] <= lim) & out_of_gate & no_bone
        out |= fill[holes]
    isl, ni = ndi.label(out, structure=EIGHT)
    if ni:
        sizes = np.bincount(isl.ravel(), minlength=ni + 1)
        sizes[0] = 0
        out = sizes[isl] >= int(dec.get("min_island_px", 10))
    return out


def sat_depth_mm(hu: np.ndarray, row_mm: float, col_mm: float) -> np.ndarray:
    """Distance (mm) from the subcutaneous fat: fat (Gaussian-smoothed 1.5 px HU < -40) connected to the skin
    (the outer 4 px of the body)."""
    body = ndi.binary_fill_holes(ndi.binary_opening(hu > -500, iterations=2))
    skin = body & ~ndi.binary_erosion(body, iterations=4)
    fat = body & (ndi.gaussian_filter(hu, 1.5) < -40)
    lab, n = ndi.label(fat | skin)
    keep = np.unique(lab[skin])
    sat = np.isin(lab, keep[keep > 0]) & fat
    return np.asarray(ndi.distance_transform_edt(~sat, sampling=(row_mm, col_mm)))


def bone_interior(hu: np.ndarray, px_cm2: float, max_cm2: float = 20.0) -> np.ndarray:
    """Pixels enclosed by bone (> 200 HU, closed by 1 px) in holes up to ``max_cm2``: marrow and the canal."""
    bone = ndi.binary_closing(hu > 200, structure=EIGHT)
    holes, n = ndi.label(ndi.binary_fill_holes(bone) & ~bone)
    if n == 0:
        return np.zeros(hu.shape, bool)
    sizes = np.bincount(holes.ravel(), minlength=n + 1)
    ok = sizes * px_cm2 <= max_cm2
    ok[0] = False
    return np.asarray(ok[holes] | (bone & ndi.binary_fill_holes(bone) & (hu <= 200)))


def load_decisions(name: str) -> dict[str, Any]:
    p = DECISIONS / f"{name}.json"
    return json.loads(p.read_text()) if p.is_file() else {}
