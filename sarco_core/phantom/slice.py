"""Single seeded axial slices with exact labels: :func:`phantom_slice` -> :class:`PhantomSlice`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sarco_core.metrics import SliceMetrics, measure_slice
from sarco_core.phantom.anatomy import Patient
from sarco_core.phantom.params import PhantomParams, sample_params
from sarco_core.phantom.pv import PVRenderer
from sarco_core.phantom.spine import build_layout
from sarco_core.phantom.texture import imat_streaks, synthesize_hu, tissue_hu
from sarco_core.phantom.tissues import LABEL_OF
from sarco_core.volume import Volume

HARD_SLAB_MM = 3.0  # slab averaged by contacts="hard" (the slice thickness of PhantomSlice.volume())
SLICE_LEVELS = ("T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5", "S1")


def pixel_pair(pixel_mm: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(pixel_mm, tuple | list):
        r, c = float(pixel_mm[0]), float(pixel_mm[1])
    else:
        r = c = float(pixel_mm)
    if not (0.2 <= r <= 10.0 and 0.2 <= c <= 10.0):
        raise ValueError(f"pixel_mm must lie in 0.2..10 mm, got {pixel_mm}")
    return r, c


@dataclass(frozen=True, eq=False)
class PhantomSlice:
    """One synthetic axial slice in canonical display (row 0 anterior, column 0 patient right)."""

    hu: np.ndarray  # int16 (rows, cols)
    labels: np.ndarray  # uint8: 0 background, 1 muscle compartment, 2 SAT, 3 VAT
    tissue: np.ndarray  # uint8 fine map, ids in sarco_core.phantom.TISSUES
    vertebrae: np.ndarray  # uint8 TotalSegmentator vertebra ids of bone pixels (0 elsewhere)
    spacing_mm: tuple[float, float]  # (row, col)
    level: str
    seed: int
    z_mm: float
    params: PhantomParams

    @classmethod
    def from_render(
        cls,
        *,
        hu: np.ndarray,
        tissue: np.ndarray,
        vertebrae: np.ndarray,
        spacing_mm: tuple[float, float],
        level: str,
        seed: int,
        z_mm: float,
        params: PhantomParams,
    ) -> PhantomSlice:
        """The slice of a rendered tissue map: the labels follow from the tissues (``LABEL_OF``, the convention)."""
        return cls(
            hu=hu,
            labels=LABEL_OF[tissue],
            tissue=tissue,
            vertebrae=vertebrae,
            spacing_mm=spacing_mm,
            level=level,
            seed=int(seed),
            z_mm=float(z_mm),
            params=params,
        )

    def volume(self, slice_thickness_mm: float = 3.0) -> Volume:
        """A one-slice :class:`Volume` (z = ``z_mm``)."""
        return Volume.from_array(hu=self.hu[None], spacing_mm=(slice_thickness_mm, *self.spacing_mm), z0_mm=self.z_mm)

    def metrics(self) -> SliceMetrics:
        return measure_slice(
            self.hu, self.labels, row_mm=self.spacing_mm[0], col_mm=self.spacing_mm[1], kind="labels", z_mm=self.z_mm
        )

    def areas_cm2(self) -> dict[str, float]:
        """HU-gated areas (cm²) and muscle HU, exactly as :func:`sarco_core.metrics.measure_slice` computes them,
        plus the raw (ungated) label areas."""
        m = self.metrics()
        px = self.spacing_mm[0] * self.spacing_mm[1] / 100.0
        return {
            "sma_cm2": m.sma_cm2,
            "imat_cm2": m.imat_cm2,
            "sat_cm2": float(m.sat_cm2 or 0.0),
            "vat_cm2": float(m.vat_cm2 or 0.0),
            "muscle_hu_mean": float(m.muscle_hu_mean) if m.muscle_hu_mean is not None else float("nan"),
            "muscle_label_cm2": float((self.labels == 1).sum()) * px,
            "sat_label_cm2": float((self.labels == 2).sum()) * px,
            "vat_label_cm2": float((self.labels == 3).sum()) * px,
        }


def check_slice_request(level: str, size: int) -> None:
    """Refuse a level the phantom does not draw or an image size outside 32..2048 pixels."""
    if level not in SLICE_LEVELS:
        raise ValueError(f"level must be one of {SLICE_LEVELS}, got {level!r}")
    if not 32 <= int(size) <= 2048:
        raise ValueError(f"size must be 32..2048 pixels, got {size}")


def phantom_slice(
    seed: int,
    *,
    level: str = "L3",
    pixel_mm: float | tuple[float, float] = 0.8,
    size: int = 512,
    body: str | None = None,
    contrast: bool | None = None,
    truncated: bool = False,
    arms: bool | None = None,
    table: bool = True,
    frac: float = 0.5,
    contacts: str = "default",
) -> PhantomSlice:
    """A seeded axial slice through the middle (``frac``) of vertebra ``level`` with exact labels.

    ``contacts="hard"`` adds the anatomy that touches muscle with no fat plane (bowel / colon / liver / spleen
    against the wall, crura, lymph nodes, aorta on the vertebra: :mod:`sarco_core.phantom.contacts`); the
    default ``"default"`` renders exactly as before."""
    check_slice_request(level, size)
    row_mm, col_mm = pixel_pair(pixel_mm)
    p = sample_params(seed, body=body, contrast=contrast, truncated=truncated, arms=arms, table=table)
    layout = build_layout(seed, spine_scale=p.spine_scale, top="T6")
    pat = Patient(p, layout, rows=int(size), cols=int(size), row_mm=row_mm, col_mm=col_mm, contacts=contacts)
    z = layout.z_of(level, frac)
    centre, rad = pat.body_centre_px(z)
    tables = tissue_hu(p)
    if contacts == "hard":  # partial volume over each pixel and a 3 mm slab (sarco_core.phantom.pv)
        pvr = PVRenderer(pat)
        tissue, vert, mean_img = pvr.render(z, HARD_SLAB_MM, tables[0], 0)
        rng = np.random.default_rng([int(seed), 555, 1])
        hu = synthesize_hu(tissue, p, rng, (row_mm, col_mm), tables, pat.arm_streak_px(z), centre, rad, mean_img)
    else:
        tissue, vert = pat.render(z)
        rng = np.random.default_rng([int(seed), 555])
        tissue = imat_streaks(tissue, p, rng, (row_mm, col_mm))
        hu = synthesize_hu(tissue, p, rng, (row_mm, col_mm), tables, pat.arm_streak_px(z), centre, rad)
    return PhantomSlice.from_render(
        hu=hu, tissue=tissue, vertebrae=vert, spacing_mm=(row_mm, col_mm), level=level, seed=seed, z_mm=z, params=p
    )
