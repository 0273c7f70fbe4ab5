"""Agreement of a segmentation method with a reference muscle mask, slice by slice.

Every slice where the reference has muscle is segmented and compared. ``dice`` and the SMA figures use
HU-gated masks (−29..150 HU, the foundation's convention); ``dice_raw`` compares the masks as drawn.
Per-slice ``error_pct`` is signed ((pred − true) / true × 100); the summary ``sma_error_pct`` is over the
ABSOLUTE per-slice errors. The threshold and teacher baselines are computed beside the chosen method.

Every slice is also scored per anatomical region (:mod:`sarco_core.regions`: abdominal wall, back, psoas-crus zone,
inner layer against organs) and, given a vertebra label map, summarised per vertebral level
(:mod:`sarco_core.evaluate_regions`). Against a reference that is itself a model output (the TotalSegmentator
mask) the report is a validation-only diagnostic: it shows where the masks differ, it is not a pass/fail target.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sarco_core.errors import InvalidMaskError
from sarco_core.evaluate_regions import (
    UNKNOWN_LEVEL,
    RegionScore,
    RegionSummary,
    level_order,
    levels_from_vertebrae,
    region_scores,
    regions_dict,
    summarise_regions,
)
from sarco_core.metrics import (
    DEFAULT_GATES,
    MUSCLE,
    HUGates,
    area_error_pct,
    check_same_grid,
    dice,
    gated,
    nonempty_slices,
    reference_muscle,
)
from sarco_core.regions import SliceRegions, stack_regions
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
    level: str = UNKNOWN_LEVEL
    regions: tuple[RegionScore, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "z_mm": self.z_mm,
            "level": self.level,
            "dice": self.dice,
            "sma_true_cm2": self.sma_true_cm2,
            "sma_pred_cm2": self.sma_pred_cm2,
            "error_pct": self.error_pct,
            "confidence": self.confidence,
            "regions": {r.region.value: r.to_dict() for r in self.regions},
        }


@dataclass(frozen=True)
class LevelEvaluation:
    """The slices of one vertebral level: summaries overall and per region."""

    level: str
    n_slices: int
    dice: DiceSummary
    sma_error_pct: ErrorSummary
    regions: tuple[RegionSummary, ...]

    @classmethod
    def of(cls, level: str, slices: Sequence[SliceEvaluation]) -> LevelEvaluation:
        return cls(
            level,
            len(slices),
            DiceSummary.of([s.dice for s in slices]),
            ErrorSummary.of([s.error_pct for s in slices]),
            summarise_regions([s.regions for s in slices]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_slices": self.n_slices,
            "dice": self.dice.to_dict(),
            "sma_error_pct": self.sma_error_pct.to_dict(),
            "regions": regions_dict(self.regions),
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
    regions: tuple[RegionSummary, ...] = ()
    levels: tuple[LevelEvaluation, ...] = ()

    @classmethod
    def of(cls, method: str, model: ModelInfo | None, slices: Sequence[SliceEvaluation]) -> MethodEvaluation:
        names = sorted({s.level for s in slices}, key=level_order)
        return cls(
            method=method,
            model=model,
            slices=tuple(slices),
            dice=DiceSummary.of([s.dice for s in slices]),
            dice_raw=DiceSummary.of([s.dice_raw for s in slices]),
            sma_error_pct=ErrorSummary.of([s.error_pct for s in slices]),
            regions=summarise_regions([s.regions for s in slices]),
            levels=tuple(LevelEvaluation.of(n, [s for s in slices if s.level == n]) for n in names),
        )

    def level_dict(self) -> dict[str, Any]:
        return {lv.level: lv.to_dict() for lv in self.levels}


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
            "per_region": regions_dict(m.regions),
            "per_level": m.level_dict(),
            "per_slice": [s.to_dict() for s in m.slices],
            "baselines": {
                name: {
                    "dice": b.dice.to_dict(),
                    "sma_error_pct": b.sma_error_pct.to_dict(),
                    "per_region": regions_dict(b.regions),
                    "per_level": b.level_dict(),
                }
                for name, b in self.baselines.items()
            },
        }


def compare_slices(
    volume: Volume,
    truth: np.ndarray,
    results: Sequence[SegmentationResult],
    gates: HUGates = DEFAULT_GATES,
    regions: Mapping[int, SliceRegions] | None = None,
    levels: Mapping[int, str] | None = None,
) -> list[SliceEvaluation]:
    """Per-slice agreement of predicted label maps with the boolean reference ``truth`` (k, r, c); with
    ``regions`` (slice index -> :class:`SliceRegions`) also per region, with ``levels`` tagged by level."""
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
                level=(levels or {}).get(k, UNKNOWN_LEVEL),
                regions=() if regions is None or k not in regions else region_scores(tg, pg, regions[k], px_cm2),
            )
        )
    return out


def regions_of(volume: Volume, indices: Sequence[int]) -> dict[int, SliceRegions]:
    """The anatomical regions of the given slices (from the image alone)."""
    sp = volume.spacing_mm
    return stack_regions(volume.hu, volume.z_mm, row_mm=sp.row, col_mm=sp.col, indices=list(indices))


def evaluate(
    volume: Volume,
    truth_mask: np.ndarray,
    *,
    method: str | None = None,
    segmenter: SliceSegmenter | None = None,
    baselines: Sequence[str] = BASELINE_METHODS,
    gates: HUGates = DEFAULT_GATES,
    levels: Mapping[int, str] | None = None,
    with_regions: bool = True,
) -> EvaluationReport:
    """Evaluate ``method`` (default: the shipped model, else the teacher) against ``truth_mask`` on every
    slice where the reference has muscle; baselines are evaluated on the same slices. ``levels`` (slice index ->
    vertebra name, e.g. from :func:`levels_from_vertebrae`) groups the report per level."""
    volume.require_hu("Evaluating a segmentation")
    truth_mask = np.asarray(truth_mask)
    if truth_mask.shape != volume.shape:
        raise InvalidMaskError(
            f"The reference mask has shape {truth_mask.shape}; the image has {volume.shape}. "
            "Give a reference mask on the image's grid."
        )
    truth = reference_muscle(truth_mask)
    indices = nonempty_slices(truth)
    if not indices:
        raise InvalidMaskError("The reference mask has no muscle on any slice: nothing to evaluate.")
    seg = segmenter if segmenter is not None else get_segmenter(method)
    regs = regions_of(volume, indices) if with_regions else None
    rows = compare_slices(volume, truth, seg.segment(volume, indices), gates, regs, levels)
    main = MethodEvaluation.of(seg.method, seg.model, rows)
    base: dict[str, MethodEvaluation] = {}
    for name in baselines:
        if name == main.method:
            base[name] = main
            continue
        b = get_segmenter(name)
        base[name] = MethodEvaluation.of(
            name, None, compare_slices(volume, truth, b.segment(volume, indices), gates, regs, levels)
        )
    return EvaluationReport(main=main, baselines=base)


def evaluate_paths(
    image: str | Path,
    truth: str | Path,
    *,
    method: str | None = None,
    baselines: Sequence[str] = BASELINE_METHODS,
    vertebrae: str | Path | None = None,
) -> EvaluationReport:
    """Load an image and a reference mask (NIfTI), check they share one grid, and :func:`evaluate`; with
    ``vertebrae`` (a vertebra label map, TotalSegmentator ids, matched by world z) report per level."""
    from sarco_core.io import load, load_mask

    vol = load(image)
    mask = load_mask(truth)
    check_same_grid(vol, mask)
    levels = None if vertebrae is None else levels_from_vertebrae(vol, load_mask(vertebrae))
    return evaluate(vol, np.asarray(mask.hu), method=method, baselines=baselines, levels=levels)
