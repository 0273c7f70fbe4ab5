"""Body-composition measurements on a mask, exact for anisotropic pixels, and agreement metrics.

Conventions (see docs/architecture.md):

* a *binary* mask (values 0/1) is skeletal muscle; a *label map* uses 1 = skeletal muscle compartment,
  2 = subcutaneous adipose tissue (SAT), 3 = visceral adipose tissue (VAT);
* SMA = label 1 within -29..150 HU; IMAT = label 1 within -190..-30 HU; SAT = label 2 within -190..-30 HU;
  VAT = label 3 within -150..-50 HU (inclusive ranges, configurable through :class:`HUGates`);
* muscle HU mean is over the SMA pixels;
* Dice and area errors compare HU-gated masks unless a function says otherwise.

Empty-mask policy: Dice of two empty masks is 1.0, of one empty and one non-empty 0.0; the percentage area
error is undefined (None) when the reference area is zero, except 0.0 when both are zero.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from sarco_core.errors import GridMismatchError, InvalidMaskError
from sarco_core.volume import Volume

MUSCLE, SAT, VAT = 1, 2, 3
MaskKind = Literal["auto", "binary", "labels"]


@dataclass(frozen=True)
class HUGates:
    """Inclusive HU ranges (lo, hi) per measured tissue."""

    muscle: tuple[float, float] = (-29.0, 150.0)
    imat: tuple[float, float] = (-190.0, -30.0)
    sat: tuple[float, float] = (-190.0, -30.0)
    vat: tuple[float, float] = (-150.0, -50.0)

    def to_dict(self) -> dict[str, list[float]]:
        return {k: list(v) for k, v in asdict(self).items()}


DEFAULT_GATES = HUGates()


@dataclass(frozen=True)
class SliceMetrics:
    """Areas (cm²) and muscle attenuation of one axial slice. SAT/VAT are None for a binary mask."""

    index: int
    z_mm: float
    sma_cm2: float
    muscle_hu_mean: float | None
    imat_cm2: float
    sat_cm2: float | None
    vat_cm2: float | None
    muscle_pixels: int

    def to_dict(self) -> dict[str, float | int | None]:
        d = asdict(self)
        d.pop("muscle_pixels")
        return d


def _in(hu: np.ndarray, rng: tuple[float, float]) -> npt.NDArray[np.bool_]:
    inside: npt.NDArray[np.bool_] = (hu >= rng[0]) & (hu <= rng[1])  # NumPy's stubs: Any for an array of unknown dtype
    return inside


def gated(hu: np.ndarray, mask: np.ndarray, gate: tuple[float, float] = DEFAULT_GATES.muscle) -> npt.NDArray[np.bool_]:
    """``mask & (gate[0] <= hu <= gate[1])`` as bool."""
    return np.asarray(mask, dtype=bool) & _in(hu, gate)


def mask_kind(mask: np.ndarray) -> Literal["binary", "labels"]:
    """'binary' when the mask holds only 0/1 (or bool), else 'labels'; refuses anything else."""
    if mask.dtype == bool:
        return "binary"
    m = np.asarray(mask)
    if m.dtype.kind == "f":
        if not np.all(np.isfinite(m)) or not np.all(m == np.round(m)):
            raise InvalidMaskError(
                "The mask holds non-integer values; expected 0/1 (binary muscle) or labels 0-3 "
                "(1 muscle, 2 SAT, 3 VAT). Threshold or round the mask before measuring."
            )
    vals = np.unique(m)
    if np.all(np.isin(vals, (0, 1))):
        return "binary"
    if np.all(np.isin(vals, (0, 1, 2, 3))):
        return "labels"
    raise InvalidMaskError(
        f"The mask holds values {vals[:10].tolist()}; expected 0/1 (binary muscle) or labels 0-3 "
        "(1 skeletal muscle, 2 SAT, 3 VAT). Relabel the mask to this convention."
    )


def reference_muscle(mask: np.ndarray, kind: Literal["binary", "labels"] | None = None) -> npt.NDArray[np.bool_]:
    """Boolean muscle of a mask: a binary mask as is, label 1 (``MUSCLE``) of a label map (``kind`` from
    :func:`mask_kind` unless given)."""
    m = np.asarray(mask)
    k = mask_kind(m) if kind is None else kind
    muscle: npt.NDArray[np.bool_] = (m == MUSCLE) if k == "labels" else (m != 0)
    return muscle


def nonempty_slices(mask: np.ndarray) -> list[int]:
    """Slice indices (axis 0) of ``mask`` that hold any non-zero (True) value."""
    a = np.asarray(mask)
    return [int(i) for i in np.nonzero(a.reshape(a.shape[0], -1).any(axis=1))[0]]


def measure_slice(
    hu: np.ndarray,
    mask: np.ndarray,
    *,
    row_mm: float,
    col_mm: float,
    kind: MaskKind = "auto",
    gates: HUGates = DEFAULT_GATES,
    index: int = 0,
    z_mm: float = 0.0,
) -> SliceMetrics:
    """Measure one 2-D slice. ``row_mm`` × ``col_mm`` is the pixel size (anisotropic pixels are exact)."""
    if hu.shape != mask.shape:
        raise GridMismatchError(f"Mask shape {mask.shape} differs from image slice shape {hu.shape}.")
    if kind == "auto":
        kind = mask_kind(mask)
    m = np.asarray(mask)
    px_cm2 = row_mm * col_mm / 100.0
    muscle = (m == MUSCLE) if kind == "labels" else (m != 0)
    sma_px = gated(hu, muscle, gates.muscle)
    n = int(sma_px.sum())
    hu_mean = float(hu[sma_px].astype(np.float64).mean()) if n else None
    imat = int(gated(hu, muscle, gates.imat).sum())
    sat = vat = None
    if kind == "labels":
        sat = float(gated(hu, m == SAT, gates.sat).sum()) * px_cm2
        vat = float(gated(hu, m == VAT, gates.vat).sum()) * px_cm2
    return SliceMetrics(
        index=int(index),
        z_mm=float(z_mm),
        sma_cm2=n * px_cm2,
        muscle_hu_mean=hu_mean,
        imat_cm2=imat * px_cm2,
        sat_cm2=sat,
        vat_cm2=vat,
        muscle_pixels=n,
    )


def check_same_grid(volume: Volume, mask_volume: Volume, tol_mm: float = 0.01) -> None:
    """Raise :class:`GridMismatchError` unless the mask has the image's shape and affine (within ``tol_mm``)."""
    if volume.shape != mask_volume.shape:
        raise GridMismatchError(
            f"The mask's grid {mask_volume.shape} (slices, rows, cols) differs from the image's {volume.shape}. "
            "Resample the mask onto the image (same shape and affine) before measuring."
        )
    diff = float(np.max(np.abs(np.asarray(volume.affine) - np.asarray(mask_volume.affine))))
    if diff > tol_mm:
        raise GridMismatchError(
            f"The mask's affine differs from the image's by up to {diff:.3f} mm (tolerance {tol_mm} mm): "
            "it is not on the same voxel grid. Export the mask from the same image, or resample it onto the image."
        )


def measure_volume(
    volume: Volume,
    mask: np.ndarray,
    *,
    slices: list[int] | None = None,
    kind: MaskKind = "auto",
    gates: HUGates = DEFAULT_GATES,
    only_with_muscle: bool = True,
) -> list[SliceMetrics]:
    """Measure each requested canonical slice (default: every slice where the mask has muscle)."""
    volume.require_hu("Measuring muscle and fat areas")
    mask = np.asarray(mask)
    if mask.ndim == 2:
        mask = mask[None]
    if mask.shape != volume.shape:
        raise GridMismatchError(
            f"The mask's grid {mask.shape} (slices, rows, cols) differs from the image's {volume.shape}."
        )
    if kind == "auto":
        kind = mask_kind(mask)
    if slices is None:
        idx = nonempty_slices(reference_muscle(mask, kind))
        if not only_with_muscle:
            idx = list(range(volume.n_slices))
    else:
        for i in slices:
            if not 0 <= i < volume.n_slices:
                raise IndexError(f"Slice {i} is outside 0..{volume.n_slices - 1}.")
        idx = list(slices)
    sp = volume.spacing_mm
    return [
        measure_slice(
            volume.hu[i],
            mask[i],
            row_mm=sp.row,
            col_mm=sp.col,
            kind=kind,
            gates=gates,
            index=i,
            z_mm=float(volume.z_mm[i]),
        )
        for i in idx
    ]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Sørensen-Dice of two boolean masks; 1.0 when both are empty, 0.0 when only one is."""
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    sa, sb = int(a.sum()), int(b.sum())
    if sa + sb == 0:
        return 1.0
    return 2.0 * int(np.logical_and(a, b).sum()) / (sa + sb)


def area_error_pct(true_cm2: float, pred_cm2: float) -> float | None:
    """Signed error (pred - true) / true × 100; 0.0 when both are zero, None when only the reference is zero."""
    if true_cm2 == 0:
        return 0.0 if pred_cm2 == 0 else None
    return (pred_cm2 - true_cm2) / true_cm2 * 100.0


def gated_dice(hu: np.ndarray, truth: np.ndarray, pred: np.ndarray, gates: HUGates = DEFAULT_GATES) -> float:
    """Dice of the two muscle masks after the SMA HU gate (the project's headline agreement metric)."""
    return dice(gated(hu, truth, gates.muscle), gated(hu, pred, gates.muscle))


def gated_scores(
    hu: np.ndarray, truth: np.ndarray, pred: np.ndarray, px_cm2: float, gates: HUGates = DEFAULT_GATES
) -> tuple[float, float | None]:
    """(HU-gated muscle Dice, signed SMA error %) of one slice: ``px_cm2`` is its pixel area in cm²."""
    a_t = float(gated(hu, truth, gates.muscle).sum()) * px_cm2
    a_p = float(gated(hu, pred, gates.muscle).sum()) * px_cm2
    return gated_dice(hu, truth, pred, gates), area_error_pct(a_t, a_p)
