"""Slice ordering and geometry checks for one DICOM stack: sort by ImagePositionPatient along the slice normal,
refuse gantry tilt, gaps, duplicates and irregular spacing, and build the (k, r, c) -> LPS affine."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sarco_core.errors import GantryTiltError, IrregularSeriesError, MissingGeometryError
from sarco_core.io.dicom_headers import SliceHeader, orientation_name

TILT_MAX_DEG = 0.5  # stacking direction may deviate this much from the slice normal (rounding noise)
DUPLICATE_MM = 0.01  # two slices closer than this along the normal sit at the same position


@dataclass
class StackGeometry:
    """Sorted slices of one stack and the affine of the sorted array ``[k, r, c]`` (LPS mm)."""

    headers: list[SliceHeader]  # in sorted order (increasing position along the slice normal)
    affine_lps: np.ndarray
    orientation: str
    thickness_mm: float | None  # SliceThickness of a single slice (None when empty)
    warnings: list[str]


def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".") if abs(v - round(v, 2)) < 1e-9 else f"{v:.3f}"


def _check_orientation(h: SliceHeader) -> np.ndarray:
    if h.iop is None:
        raise MissingGeometryError(
            f"{h.name} has no ImageOrientationPatient, so its orientation (which side is anterior, which is "
            "right) is unknown. Export the series again with its geometry tags (do not strip them)."
        )
    row, col = np.array(h.iop[:3]), np.array(h.iop[3:])
    if abs(np.linalg.norm(row) - 1) > 0.01 or abs(np.linalg.norm(col) - 1) > 0.01 or abs(row @ col) > 0.01:
        raise MissingGeometryError(
            f"{h.name} has an invalid ImageOrientationPatient {list(h.iop)} (cosines not unit length or not "
            "perpendicular). Re-export the series from the scanner or PACS."
        )
    n = h.normal
    assert n is not None
    return n


def _check_spacing(h: SliceHeader) -> tuple[float, float]:
    if h.pixel_spacing is None or min(h.pixel_spacing) <= 0:
        raise MissingGeometryError(
            f"{h.name} has no valid PixelSpacing, so areas in cm² cannot be computed. Export the original "
            "CT series (not a screenshot or secondary capture) with its PixelSpacing tag."
        )
    return h.pixel_spacing[0], h.pixel_spacing[1]


def build_geometry(headers: list[SliceHeader]) -> StackGeometry:
    """Sort and validate one stack; raise a specific error for anything a measurement cannot trust."""
    first = headers[0]
    normal = _check_orientation(first)
    row_sp, col_sp = _check_spacing(first)
    for h in headers[1:]:
        _check_spacing(h)
    tilted = [h for h in headers if h.gantry_tilt is not None and abs(h.gantry_tilt) > 0.01]
    if tilted:
        raise GantryTiltError(
            f"The series was acquired with a gantry tilt of {tilted[0].gantry_tilt:g} degrees "
            "(GantryDetectorTilt), so its slices are not perpendicular to the body axis and areas would be "
            "distorted. Reconstruct the series without tilt (axial reformat) on the scanner or PACS."
        )
    orientation = orientation_name(normal)
    warnings: list[str] = []
    row_cos, col_cos = np.array(first.iop[:3]), np.array(first.iop[3:])  # type: ignore[index]
    if len(headers) == 1:
        ipp = first.ipp
        if ipp is None:
            ipp = (0.0, 0.0, 0.0)
            warnings.append("The slice has no ImagePositionPatient; its position is unknown (z_mm set to 0).")
        thickness = first.slice_thickness if first.slice_thickness and first.slice_thickness > 0 else None
        step = normal * (thickness or 1.0)
        ordered = list(headers)
        origin = np.array(ipp)
    else:
        missing = [h.name for h in headers if h.ipp is None]
        files = {h.index for h in headers if h.ipp is None}
        if missing and len(files) == 1 and headers[0].frame is not None:
            n_frames = sum(1 for h in headers if h.index in files)
            raise MissingGeometryError(
                f"{headers[0].name.rsplit(' frame ', 1)[0]} is one multi-frame file (NumberOfFrames {n_frames}) "
                "without per-frame positions (no PerFrameFunctionalGroupsSequence with ImagePositionPatient), so "
                "its frames cannot be placed along the body axis. Export the series as single-frame images or as "
                "Enhanced CT."
            )
        if missing:
            raise MissingGeometryError(
                f"{len(missing)} image(s) have no ImagePositionPatient (e.g. {missing[0]}), so the slices cannot "
                "be put in order. Export the series again with its geometry tags."
            )
        pos = np.array([h.ipp for h in headers], dtype=float)
        d = pos @ normal
        order = np.argsort(d, kind="stable")
        ordered, pos, d = [headers[i] for i in order], pos[order], d[order]
        ordered, pos, d, dup_warn = _drop_duplicates(ordered, pos, d, normal, orientation)
        warnings += dup_warn
        _check_tilt(pos, d, normal)
        _check_regular(d, normal, orientation)
        if len(ordered) > 1:
            step = (pos[-1] - pos[0]) / (len(ordered) - 1)
        else:
            step = normal * (ordered[0].slice_thickness or 1.0)
        origin = pos[0]
        thickness = ordered[0].slice_thickness
    aff = np.eye(4)
    aff[:3, 0] = step
    aff[:3, 1] = col_cos * row_sp  # moving down one row follows the column cosine
    aff[:3, 2] = row_cos * col_sp  # moving right one column follows the row cosine
    aff[:3, 3] = origin
    return StackGeometry(
        headers=ordered, affine_lps=aff, orientation=orientation, thickness_mm=thickness, warnings=warnings
    )


def _pos_label(v: float, normal: np.ndarray, orientation: str) -> str:
    if orientation == "axial":
        return f"z = {_fmt(v * (1 if normal[2] >= 0 else -1))}"
    return f"position {_fmt(v)}"


def _span(a: float, b: float, normal: np.ndarray, orientation: str) -> str:
    if orientation == "axial":
        sign = 1 if normal[2] >= 0 else -1
        za, zb = sorted((a * sign, b * sign))
        return f"z = {_fmt(za)} and {_fmt(zb)} mm"
    return f"positions {_fmt(a)} and {_fmt(b)} mm along the slice normal"


def _drop_duplicates(
    ordered: list[SliceHeader], pos: np.ndarray, d: np.ndarray, normal: np.ndarray, orientation: str
) -> tuple[list[SliceHeader], np.ndarray, np.ndarray, list[str]]:
    keep = [0]
    dropped = 0
    clashes = []
    for i in range(1, len(ordered)):
        if abs(d[i] - d[keep[-1]]) < DUPLICATE_MM:
            a, b = ordered[keep[-1]], ordered[i]
            if a.sop_uid and a.sop_uid == b.sop_uid and a.frame == b.frame:
                dropped += 1  # the same image twice (e.g. copied under two names): harmless
                continue
            clashes.append(f"{_pos_label(d[i], normal, orientation)} mm ({a.name} and {b.name})")
            continue
        keep.append(i)
    if clashes:
        raise IrregularSeriesError(
            f"Two or more different images sit at the same slice position: {'; '.join(clashes[:5])}. The folder "
            "probably mixes two reconstructions or acquisitions of one series; export a single series."
        )
    warn = [f"{dropped} duplicate copies of the same image (same SOP Instance UID) were ignored."] if dropped else []
    return [ordered[i] for i in keep], pos[keep], d[keep], warn


def _check_tilt(pos: np.ndarray, d: np.ndarray, normal: np.ndarray) -> None:
    delta = pos[-1] - pos[0]
    along = float(delta @ normal)
    across = float(np.linalg.norm(delta - along * normal))
    if along <= 0:
        return
    angle = math.degrees(math.atan2(across, along))
    if angle > TILT_MAX_DEG and across > 0.05:
        raise GantryTiltError(
            f"The slice positions drift sideways by {across:.1f} mm over {along:.1f} mm of stack, i.e. the slices "
            f"are tilted by {angle:.1f} degrees against their stacking direction (gantry tilt). Areas would be "
            "distorted; reconstruct the series without tilt (axial reformat) on the scanner or PACS."
        )


def _check_regular(d: np.ndarray, normal: np.ndarray, orientation: str) -> None:
    if len(d) < 2:
        return
    diffs = np.diff(d)
    # the most common step (ties: the smaller) is the intended spacing; a median is misled by large gaps
    vals, counts = np.unique(np.round(diffs, 2), return_counts=True)
    expected = float(np.median(diffs[np.abs(diffs - vals[np.argmax(counts)]) <= 0.011]))
    tol = max(0.02, 0.01 * expected)
    problems = []
    for i, step in enumerate(diffs):
        if abs(step - expected) <= tol:
            continue
        span = _span(d[i], d[i + 1], normal, orientation)
        ratio = step / expected
        if ratio > 1.5 and abs(ratio - round(ratio)) < 0.1:
            n_missing = int(round(ratio)) - 1
            problems.append(
                f"gap between {span} where {_fmt(expected)} mm spacing expected "
                f"({n_missing} slice{'s' if n_missing > 1 else ''} missing)"
            )
        else:
            problems.append(f"spacing {_fmt(step)} mm between {span} where {_fmt(expected)} mm expected")
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise IrregularSeriesError(
            f"The slices are not evenly spaced: {'; '.join(problems[:5])}{more}. Export the complete series "
            "again (all files), or choose a series with regular spacing."
        )
