"""The immutable CT ``Volume``: HU voxels in one canonical orientation plus geometry and source metadata.

Canonical layout (used by every other module):

* ``hu[k, r, c]`` with ``k`` the slice index, 0 = most inferior, increasing toward the head;
* within a slice, radiological display: row 0 = patient anterior (rows run toward posterior),
  column 0 = patient right (columns run toward patient left);
* ``affine`` maps ``(k, r, c, 1)`` to patient LPS millimetres (DICOM's frame; RAS and LPS agree on z);
* ``z_mm[k]`` is the slice centre projected on the slice normal (+ = superior), in the file's own frame.

Loaders reorient whatever the file holds into this layout without resampling (a permutation and flips);
``to_source_order`` undoes it so masks can be written back on the file's own voxel grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from sarco_core.errors import NotHUError

CANONICAL_AXCODES = ("S", "P", "L")


@dataclass(frozen=True)
class Spacing:
    """Voxel spacing in mm. ``slice`` is the distance between consecutive slice positions (None for one slice)."""

    slice: float | None
    row: float
    col: float

    @property
    def pixel_area_mm2(self) -> float:
        return self.row * self.col

    def to_dict(self) -> dict[str, float | None]:
        return {"slice": self.slice, "row": self.row, "col": self.col}


@dataclass(frozen=True)
class SourceMeta:
    """What the file said about itself. Never holds patient name, ID or birth date (only a salted ID hash)."""

    kind: str = "array"  # "dicom-series" | "dicom-slice" | "dicom-multiframe" | "nifti" | "array"
    modality: str | None = None
    manufacturer: str | None = None
    manufacturer_model: str | None = None
    study_uid: str | None = None
    series_uid: str | None = None
    frame_of_reference_uid: str | None = None
    sop_class_uid: str | None = None
    sop_uids: tuple[str, ...] = ()  # one per canonical slice where known (DICOM), else empty
    series_description: str | None = None
    image_type: tuple[str, ...] = ()
    rescale_type: str | None = None
    contrast_agent: str | None = None  # ContrastBolusAgent as written ("" / "None" become None)
    kvp: float | None = None
    slice_thickness_mm: float | None = None
    convolution_kernel: str | None = None
    patient_sex: str | None = None  # "F" | "M" | None
    patient_age_years: float | None = None
    patient_height_m: float | None = None
    patient_weight_kg: float | None = None
    patient_id_hash: str | None = None  # salted SHA-256 of PatientID, for spotting duplicates
    source_axcodes: tuple[str, str, str] | None = None  # orientation of the file's own voxel axes
    n_files: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["sop_uids"] = len(self.sop_uids)
        d["image_type"] = list(self.image_type)
        d["source_axcodes"] = "".join(self.source_axcodes) if self.source_axcodes else None
        return d


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class Volume:
    """Immutable CT volume in canonical layout (see module docstring). Build it with a classmethod."""

    hu: np.ndarray
    spacing_mm: Spacing
    z_mm: np.ndarray
    affine: np.ndarray
    meta: SourceMeta = field(default_factory=SourceMeta)
    warnings: tuple[str, ...] = ()
    is_hu: bool = True
    # canonical = np.flip(np.transpose(source, source_axes), axes=[i for i, f in enumerate(source_flips) if f])
    source_axes: tuple[int, int, int] = (0, 1, 2)
    source_flips: tuple[bool, bool, bool] = (False, False, False)
    source_affine: np.ndarray | None = None  # the file's own affine (NIfTI RAS convention), when it had one

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_canonical(
        cls,
        *,
        hu: np.ndarray,
        affine: np.ndarray,
        meta: SourceMeta | None = None,
        warnings: tuple[str, ...] | list[str] = (),
        is_hu: bool = True,
        source_axes: tuple[int, int, int] = (0, 1, 2),
        source_flips: tuple[bool, bool, bool] = (False, False, False),
        source_affine: np.ndarray | None = None,
        single_slice_thickness_mm: float | None = None,
    ) -> Volume:
        """Build from an array already in canonical layout and its (k, r, c) -> LPS affine."""
        hu = np.asarray(hu)
        if hu.ndim == 2:
            hu = hu[None]
        if hu.ndim != 3:
            raise ValueError(f"hu must be 2-D or 3-D, got shape {hu.shape}")
        affine = np.asarray(affine, dtype=np.float64)
        cols = np.linalg.norm(affine[:3, :3], axis=0)
        normal = affine[:3, 0] / cols[0] if cols[0] > 0 else np.array([0.0, 0.0, 1.0])
        if normal[2] < 0:
            normal = -normal
        centres = affine[:3, 3][None, :] + np.arange(hu.shape[0])[:, None] * affine[:3, 0][None, :]
        z = centres @ normal
        slice_sp = float(cols[0]) if hu.shape[0] > 1 else single_slice_thickness_mm
        return cls(
            hu=_readonly(hu),
            spacing_mm=Spacing(slice=slice_sp, row=float(cols[1]), col=float(cols[2])),
            z_mm=_readonly(z.astype(np.float64)),
            affine=_readonly(affine),
            meta=meta or SourceMeta(),
            warnings=tuple(warnings),
            is_hu=is_hu,
            source_axes=source_axes,
            source_flips=source_flips,
            source_affine=None if source_affine is None else _readonly(np.asarray(source_affine, float)),
        )

    @classmethod
    def from_array(
        cls,
        *,
        hu: np.ndarray,
        spacing_mm: tuple[float, float, float] | Spacing,
        z0_mm: float = 0.0,
        meta: SourceMeta | None = None,
        warnings: tuple[str, ...] | list[str] = (),
        is_hu: bool = True,
    ) -> Volume:
        """Build an axial volume from a canonical array and (slice, row, col) spacing (phantoms, tests)."""
        if isinstance(spacing_mm, Spacing):
            s = (spacing_mm.slice or 1.0, spacing_mm.row, spacing_mm.col)
            single = spacing_mm.slice
        else:
            s = tuple(float(v) for v in spacing_mm)  # type: ignore[assignment]
            single = s[0]
        aff = np.zeros((4, 4))
        aff[3, 3] = 1.0
        aff[2, 0] = s[0]  # k -> +z (superior)
        aff[1, 1] = s[1]  # r -> +y (posterior in LPS)
        aff[0, 2] = s[2]  # c -> +x (patient left in LPS)
        aff[2, 3] = z0_mm
        return cls.from_canonical(
            hu=hu, affine=aff, meta=meta, warnings=warnings, is_hu=is_hu, single_slice_thickness_mm=single
        )

    # ------------------------------------------------------------------ properties
    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.hu.shape)  # type: ignore[return-value]

    @property
    def n_slices(self) -> int:
        return int(self.hu.shape[0])

    @property
    def pixel_area_mm2(self) -> float:
        return self.spacing_mm.pixel_area_mm2

    # ------------------------------------------------------------------ helpers
    def require_hu(self, what: str = "This measurement") -> None:
        """Raise :class:`NotHUError` when the voxels are not Hounsfield units."""
        if not self.is_hu:
            raise NotHUError(
                f"{what} needs Hounsfield units, but this image's values are not HU "
                f"({self.meta.rescale_type or 'derived/parametric image'}). "
                "Load the original CT series (ImageType ORIGINAL, RescaleType HU) instead."
            )

    def index_of_z(self, z_mm: float) -> int:
        """Canonical index of the slice whose centre is nearest to ``z_mm``."""
        return int(np.argmin(np.abs(self.z_mm - z_mm)))

    def select(self, indices: slice | np.ndarray | list[int]) -> Volume:
        """A new volume of the given canonical slices (contiguous ranges keep a regular geometry)."""
        idx = np.arange(self.n_slices)[indices]
        if idx.size == 0:
            raise ValueError("select() needs at least one slice")
        aff = np.array(self.affine, copy=True)
        aff[:3, 3] = self.affine[:3, 3] + idx[0] * self.affine[:3, 0]
        if idx.size > 1:
            steps = np.diff(idx)
            if np.all(steps == steps[0]):
                aff[:3, 0] = self.affine[:3, 0] * steps[0]
        sops = tuple(self.meta.sop_uids[i] for i in idx) if len(self.meta.sop_uids) == self.n_slices else ()
        out = Volume.from_canonical(
            hu=np.ascontiguousarray(self.hu[idx]),
            affine=aff,
            meta=replace(self.meta, sop_uids=sops),
            warnings=self.warnings,
            is_hu=self.is_hu,
            single_slice_thickness_mm=self.meta.slice_thickness_mm or self.spacing_mm.slice,
        )
        return out

    def to_source_order(self, arr: np.ndarray) -> np.ndarray:
        """Map a canonical-layout array (e.g. a mask) back to the file's own voxel order."""
        flip_axes = [i for i, f in enumerate(self.source_flips) if f]
        a = np.flip(arr, axis=tuple(flip_axes)) if flip_axes else arr
        inv = np.argsort(self.source_axes)
        return np.transpose(a, inv)

    def info_dict(self) -> dict[str, Any]:
        """The ``sarco info --json`` object."""
        k, r, c = self.shape
        return {
            "modality": self.meta.modality,
            "shape": {"slices": k, "rows": r, "cols": c},
            "spacing_mm": self.spacing_mm.to_dict(),
            "z_mm": [float(self.z_mm[0]), float(self.z_mm[-1])],
            "is_hu": self.is_hu,
            "series": self.meta.to_dict(),
            "warnings": list(self.warnings),
        }
