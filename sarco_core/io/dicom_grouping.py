"""Grouping DICOM headers into series (by UID, split by geometry) and choosing the series to load (the axial CT
series with the most images), with the most specific error when none qualifies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sarco_core.errors import LocalizerError, NotAxialError, NotCTError
from sarco_core.io.dicom_headers import SliceHeader, orientation_name, tag_str


@dataclass
class SeriesGroup:
    """Images that belong together: one series (or one geometry where UIDs are empty)."""

    key: tuple[Any, ...]
    headers: list[SliceHeader]
    by_geometry: bool = False  # grouped by geometry because the SeriesInstanceUID was empty

    @property
    def first(self) -> SliceHeader:
        return self.headers[0]

    @property
    def orientation(self) -> str:
        return orientation_name(self.first.normal)

    def describe(self) -> str:
        ds = self.first.ds
        num = tag_str(ds.get("SeriesNumber"))
        desc = tag_str(ds.get("SeriesDescription"))
        label = f"series {num}" if num else "series"
        if desc:
            label += f" '{desc}'"
        kind = self.first.modality or "unknown modality"
        if self.first.is_localizer:
            kind += " localizer"
        n = len(self.headers)
        return f"{label} ({kind}, {self.orientation}, {n} image{'s' if n != 1 else ''})"


def _geometry_key(h: SliceHeader) -> tuple[Any, ...]:
    iop = tuple(round(v, 3) for v in h.iop) if h.iop else None
    ps = tuple(round(v, 4) for v in h.pixel_spacing) if h.pixel_spacing else None
    return (iop, h.rows, h.cols, ps)


def group_series(headers: Sequence[SliceHeader]) -> tuple[list[SeriesGroup], list[str]]:
    """Group by SeriesInstanceUID, split further by geometry; empty UIDs are grouped by geometry alone."""
    groups: dict[tuple[Any, ...], SeriesGroup] = {}
    uid_geoms: dict[str, set[tuple[Any, ...]]] = {}
    n_empty = 0
    for h in headers:
        geom = _geometry_key(h)
        # without a UID, series number and description still separate e.g. two phases of the same geometry
        extra = () if h.series_uid else (tag_str(h.ds.get("SeriesNumber")), tag_str(h.ds.get("SeriesDescription")))
        key = (h.series_uid, geom, extra)
        if not h.series_uid:
            n_empty += 1
        uid_geoms.setdefault(h.series_uid, set()).add(geom)
        if key not in groups:
            groups[key] = SeriesGroup(key=key, headers=[], by_geometry=not h.series_uid)
        groups[key].headers.append(h)
    warnings = []
    if n_empty:
        warnings.append(
            f"{n_empty} image(s) have an empty Series Instance UID; they were grouped into series by geometry "
            "(orientation, image size and pixel spacing)."
        )
    split = [u for u, g in uid_geoms.items() if u and len(g) > 1]
    if split:
        warnings.append(
            f"{len(split)} series mix images of different geometry (orientation, size or pixel spacing); "
            "each geometry was treated as its own stack."
        )
    return list(groups.values()), warnings


def choose_series(groups: list[SeriesGroup], *, require_axial: bool) -> tuple[SeriesGroup, list[str]]:
    """The axial CT series with the most images; raise the most specific error when none qualifies."""
    ct = [g for g in groups if g.first.is_ct]
    if not ct:
        found = sorted({g.first.modality or "unknown" for g in groups})
        raise NotCTError(
            f"No CT images found (modality {', '.join(found)}). Sarco measures CT only: load the CT series "
            "of the examination (Modality CT)."
        )
    cross = [g for g in ct if not g.first.is_localizer]
    if not cross:
        raise LocalizerError(
            "The input holds only a localiser / scout / topogram (a projection image), not cross-sectional CT. "
            "Load the axial CT series of the examination instead."
        )
    if require_axial:
        usable = [g for g in cross if g.orientation in ("axial", "unknown")]
        if not usable:
            orient = sorted({g.orientation for g in cross})
            raise NotAxialError(
                f"The CT images are {' / '.join(orient)} (ImageOrientationPatient "
                f"{[round(v, 3) for v in cross[0].first.iop or ()]}), not axial. Body composition is measured on "
                "axial slices: load the axial series (reformats can be inspected with `sarco info`)."
            )
    else:
        usable = cross
    chosen = sorted(usable, key=lambda g: (g.orientation == "axial", len(g.headers)), reverse=True)[0]
    others = [g for g in groups if g is not chosen]
    warnings = []
    if others:
        listed = "; ".join(g.describe() for g in others[:8])
        more = f" and {len(others) - 8} more" if len(others) > 8 else ""
        warnings.append(
            f"The input holds {len(groups)} series; loaded {chosen.describe()} "
            f"(the axial CT series with the most images). Not loaded: {listed}{more}."
        )
    return chosen, warnings
