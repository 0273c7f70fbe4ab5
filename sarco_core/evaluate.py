"""Agreement of a segmentation method with a reference muscle mask, slice by slice.

Every slice where the reference has muscle is segmented and compared. ``dice`` and the SMA figures use
HU-gated masks (−29..150 HU, the foundation's convention); ``dice_raw`` compares the masks as drawn.
Per-slice ``error_pct`` is signed ((pred − true) / true × 100); the summary ``sma_error_pct`` is over the
ABSOLUTE per-slice errors. The threshold and teacher baselines are computed beside the chosen method.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sarco_core.errors import InvalidMaskError
from sarco_core.metrics import (
    DEFAULT_GATES,
    MUSCLE,
    HUGates,
    area_error_pct,
    check_same_grid,
    dice,
    gated,
    mask_kind,
)
from sarco_core.segment.base import ModelInfo, SegmentationResult, SliceSegmenter
from sarco_core.segment.registry import get_segmenter
from sarco_core.volume import Volume

BASELINE_METHODS = ("teacher", "threshold")


@dataclass(frozen=True)
class DiceSummary:
    median: float | None
    mean: float | None
    min: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> DiceSummary:
        if not values:
            return cls(None, None, None)
        a = np.asarray(values, float)
        return cls(float(np.median(a)), float(a.mean()), float(a.min()))

    def to_dict(self) -> dict[str, float | None]:
        return {"median": self.median, "mean": self.mean, "min": self.min}


@dataclass(frozen=True)
class ErrorSummary:
    """Summary of ABSOLUTE percentage SMA errors."""

    median: float | None
    mean: float | None
    max: float | None

    @classmethod
    def of(cls, signed: Sequence[float | None]) -> ErrorSummary:
        vals = [abs(v) for v in signed if v is not None]
        if not vals:
            return cls(None, None, None)
        a = np.asarray(vals, float)
        return cls(float(np.median(a)), float(a.mean()), float(a.max()))

    def to_dict(self) -> dict[str, float | None]:
        return {"median": self.median, "mean": self.mean, "max": self.max}


@dataclass(frozen=True)
class SliceEvaluation:
    index: int
    z_mm: float
    dice: float  # HU-gated
    dice_raw: float
    sma_true_cm2: float
    sma_pred_cm2: float
    error_pct: float | None  # signed
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "z_mm": self.z_mm,
            "dice": self.dice,
            "sma_true_cm2": self.sma_true_cm2,
            "sma_pred_cm2": self.sma_pred_cm2,
            "error_pct": self.error_pct,
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class MethodEvaluation:
    """One method's per-slice agreement and its summaries."""

    method: str
    model: ModelInfo | None
    slices: tuple[SliceEvaluation, ...]
    dice: DiceSummary
    dice_raw: DiceSummary
    sma_error_pct: ErrorSummary

    @classmethod
    def of(cls, method: str, model: ModelInfo | None, slices: Sequence[SliceEvaluation]) -> MethodEvaluation:
        return cls(
            method=method,
            model=model,
            slices=tuple(slices),
            dice=DiceSummary.of([s.dice for s in slices]),
            dice_raw=DiceSummary.of([s.dice_raw for s in slices]),
            sma_error_pct=ErrorSummary.of([s.error_pct for s in slices]),
        )


@dataclass(frozen=True)
class EvaluationReport:
    main: MethodEvaluation
    baselines: dict[str, MethodEvaluation] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        m = self.main
        return {
            "method": m.method,
            "model": None if m.model is None else {"name": m.model.name, "version": m.model.version},
            "n_slices": len(m.slices),
            "dice": m.dice.to_dict(),
            "dice_raw": m.dice_raw.to_dict(),
            "sma_error_pct": m.sma_error_pct.to_dict(),
            "per_slice": [s.to_dict() for s in m.slices],
            "baselines": {
                name: {"dice": b.dice.to_dict(), "sma_error_pct": b.sma_error_pct.to_dict()}
                for name, b in self.baselines.items()
            },
        }


def truth_muscle(mask: np.ndarray) -> np.ndarray:
    """Boolean muscle mask of a reference: a binary mask as is, label 1 of a label map."""
    kind = mask_kind(mask)
    m = np.asarray(mask)
    return (m == MUSCLE) if kind == "labels" else (m != 0)


def compare_slices(
    volume: Volume,
    truth: np.ndarray,
    results: Sequence[SegmentationResult],
    gates: HUGates = DEFAULT_GATES,
) -> list[SliceEvaluation]:
    """Per-slice agreement of predicted label maps with the boolean reference ``truth`` (k, r, c)."""
    px_cm2 = volume.pixel_area_mm2 / 100.0
    out = []
    for res in results:
        k = res.index
        hu = volume.hu[k]
        t = truth[k]
        p = np.asarray(res.labels) == MUSCLE
        tg, pg = gated(hu, t, gates.muscle), gated(hu, p, gates.muscle)
        true_cm2 = float(tg.sum()) * px_cm2
        pred_cm2 = float(pg.sum()) * px_cm2
        out.append(
            SliceEvaluation(
                index=k,
                z_mm=float(volume.z_mm[k]),
                dice=dice(tg, pg),
                dice_raw=dice(t, p),
                sma_true_cm2=true_cm2,
                sma_pred_cm2=pred_cm2,
                error_pct=area_error_pct(true_cm2, pred_cm2),
                confidence=float(res.confidence),
            )
        )
    return out


def evaluate(
    volume: Volume,
    truth_mask: np.ndarray,
    *,
    method: str | None = None,
    segmenter: SliceSegmenter | None = None,
    baselines: Sequence[str] = BASELINE_METHODS,
    gates: HUGates = DEFAULT_GATES,
) -> EvaluationReport:
    """Evaluate ``method`` (default: the shipped model, else the teacher) against ``truth_mask`` on every
    slice where the reference has muscle; baselines are evaluated on the same slices."""
    volume.require_hu("Evaluating a segmentation")
    truth_mask = np.asarray(truth_mask)
    if truth_mask.shape != volume.shape:
        raise InvalidMaskError(
            f"The reference mask has shape {truth_mask.shape}; the image has {volume.shape}. "
            "Give a reference mask on the image's grid."
        )
    truth = truth_muscle(truth_mask)
    indices = [int(i) for i in np.nonzero(truth.reshape(truth.shape[0], -1).any(axis=1))[0]]
    if not indices:
        raise InvalidMaskError("The reference mask has no muscle on any slice: nothing to evaluate.")
    seg = segmenter if segmenter is not None else get_segmenter(method)
    rows = compare_slices(volume, truth, seg.segment(volume, indices), gates)
    main = MethodEvaluation.of(seg.method, seg.model, rows)
    base: dict[str, MethodEvaluation] = {}
    for name in baselines:
        if name == main.method:
            base[name] = main
            continue
        b = get_segmenter(name)
        base[name] = MethodEvaluation.of(name, None, compare_slices(volume, truth, b.segment(volume, indices), gates))
    return EvaluationReport(main=main, baselines=base)


def evaluate_paths(
    image: str | Path, truth: str | Path, *, method: str | None = None, baselines: Sequence[str] = BASELINE_METHODS
) -> EvaluationReport:
    """Load an image and a reference mask (NIfTI), check they share one grid, and :func:`evaluate`."""
    from sarco_core.io import load, load_mask

    vol = load(image)
    mask = load_mask(truth)
    check_same_grid(vol, mask)
    return evaluate(vol, np.asarray(mask.hu), method=method, baselines=baselines)
