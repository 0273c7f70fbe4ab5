"""Agreement per anatomical region and per vertebral level: the diagnostic part of ``sarco evaluate``.

A reference such as the TotalSegmentator mask is itself a model output: agreement with it is a diagnostic that
shows *where* two masks differ (abdominal wall, back, psoas-crus zone, inner layer against organs; T12 / L1 /
L2 ...), never a pass/fail target. Regions come from :func:`sarco_core.regions.slice_regions` (the image alone),
levels from a vertebra label map matched by world z (:func:`levels_from_vertebrae`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sarco_core.metrics import dice
from sarco_core.phantom.tissues import VERTEBRA_NAMES
from sarco_core.regions import REGION_ORDER, Region, SliceRegions
from sarco_core.volume import Volume

UNKNOWN_LEVEL = "unknown"


@dataclass(frozen=True)
class RegionScore:
    """One region of one slice: gated Dice and gated areas of reference and method inside the region."""

    region: Region
    dice: float
    sma_true_cm2: float
    sma_pred_cm2: float

    @property
    def diff_cm2(self) -> float:
        return self.sma_pred_cm2 - self.sma_true_cm2

    def to_dict(self) -> dict[str, float]:
        return {
            "dice": self.dice,
            "sma_true_cm2": self.sma_true_cm2,
            "sma_pred_cm2": self.sma_pred_cm2,
            "diff_cm2": self.diff_cm2,
        }


def region_scores(
    truth_gated: np.ndarray, pred_gated: np.ndarray, regions: SliceRegions, px_cm2: float
) -> tuple[RegionScore, ...]:
    """Scores in every region (the regions partition the slice, so the areas add up to the slice's)."""
    out = []
    for r in REGION_ORDER:
        m = regions.mask(r)
        t, p = truth_gated & m, pred_gated & m
        out.append(RegionScore(r, dice(t, p), float(t.sum()) * px_cm2, float(p.sum()) * px_cm2))
    return tuple(out)


@dataclass(frozen=True)
class RegionSummary:
    """Medians over slices of one region's scores (areas in cm²; diff = method − reference, signed). The Dice
    median is over the slices where either mask has gated muscle in the region (None where neither has any)."""

    region: Region
    dice_median: float | None
    sma_true_cm2_median: float | None
    sma_pred_cm2_median: float | None
    diff_cm2_median: float | None

    @classmethod
    def of(cls, region: Region, scores: Sequence[RegionScore]) -> RegionSummary:
        if not scores:
            return cls(region, None, None, None, None)

        def med(vals: Sequence[float]) -> float:
            return float(np.median(np.asarray(vals, float)))

        dices = [s.dice for s in scores if s.sma_true_cm2 > 0 or s.sma_pred_cm2 > 0]
        return cls(
            region,
            med(dices) if dices else None,
            med([s.sma_true_cm2 for s in scores]),
            med([s.sma_pred_cm2 for s in scores]),
            med([s.diff_cm2 for s in scores]),
        )

    def to_dict(self) -> dict[str, float | None]:
        return {
            "dice_median": self.dice_median,
            "sma_true_cm2_median": self.sma_true_cm2_median,
            "sma_pred_cm2_median": self.sma_pred_cm2_median,
            "diff_cm2_median": self.diff_cm2_median,
        }


def summarise_regions(per_slice: Sequence[Sequence[RegionScore]]) -> tuple[RegionSummary, ...]:
    return tuple(
        RegionSummary.of(r, [s for scores in per_slice for s in scores if s.region is r]) for r in REGION_ORDER
    )


def levels_from_vertebrae(volume: Volume, vertebrae: Volume) -> dict[int, str]:
    """Vertebral level of every slice of ``volume``: the most frequent vertebra label (TotalSegmentator ids) on
    the slice of ``vertebrae`` nearest in world z (any in-plane grid), within half a slice spacing of it;
    slices with no label there get :data:`UNKNOWN_LEVEL`."""
    lab = np.asarray(vertebrae.hu)
    half = 0.5 * float(vertebrae.spacing_mm.slice or 1.0)
    out: dict[int, str] = {}
    for k, z in enumerate(np.asarray(volume.z_mm, float)):
        j = int(np.argmin(np.abs(np.asarray(vertebrae.z_mm, float) - z)))
        name = UNKNOWN_LEVEL
        if abs(float(vertebrae.z_mm[j]) - z) <= half + 1e-6:
            ids = lab[j][lab[j] > 0].astype(np.int64)
            if ids.size:
                name = VERTEBRA_NAMES.get(int(np.bincount(ids).argmax()), UNKNOWN_LEVEL)
        out[k] = name
    return out


def level_order(name: str) -> tuple[int, str]:
    """Head-to-foot order of level names (T… before L… before S…; unknown last)."""
    rank = {"T": 0, "L": 1, "S": 2}
    if name and name[0] in rank and name[1:].isdigit():
        return (rank[name[0]] * 100 + int(name[1:]), name)
    return (10_000, name)


def regions_dict(summaries: Sequence[RegionSummary]) -> dict[str, Any]:
    return {s.region.value: s.to_dict() for s in summaries}
