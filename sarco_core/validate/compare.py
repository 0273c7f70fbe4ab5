"""Model vs expert masks over a cohort: per-case agreement and cohort statistics.

Per case (see :class:`CaseComparison`): HU-gated and raw muscle Dice, SMA / IMAT / SAT / VAT areas (cm²) and
muscle HU by the expert mask and by the model (measured by :func:`sarco_core.metrics.measure_slice`), SMI, and
the low-SMI call of each by :func:`sarco_core.cutoffs.classify` (one rule for both). SAT and VAT are compared
only when the reference is a label map. Cohort: Dice summaries, |SMA error| summary, agreement statistics
(:mod:`sarco_core.agreement`) for SMA, SMI, muscle HU, IMAT, SAT and VAT, and the share of classified cases
whose call flips.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from sarco_core.agreement import Agreement, AgreementError
from sarco_core.cutoffs import DEFAULT_RULE, classify, get_rule, smi_cm2_m2
from sarco_core.evaluate import DiceSummary, ErrorSummary
from sarco_core.metrics import DEFAULT_GATES, MUSCLE, area_error_pct, dice, gated, measure_slice
from sarco_core.segment.base import ModelInfo, SegmentationResult, SliceSegmenter
from sarco_core.validate.cases import ReferenceCase


@dataclass(frozen=True)
class CaseComparison:
    case_id: str
    patient_id: str
    dice: float  # HU-gated muscle
    dice_raw: float
    sma_ref_cm2: float
    sma_model_cm2: float
    sma_error_pct: float | None  # signed (model − ref) / ref × 100
    imat_ref_cm2: float
    imat_model_cm2: float
    sat_ref_cm2: float | None
    sat_model_cm2: float | None
    vat_ref_cm2: float | None
    vat_model_cm2: float | None
    muscle_hu_ref: float | None
    muscle_hu_model: float | None
    smi_ref: float | None
    smi_model: float | None
    low_smi_ref: bool | None
    low_smi_model: bool | None
    confidence: float
    qc_flags: tuple[str, ...]

    @property
    def flipped(self) -> bool | None:
        """Whether the low-SMI call differs; None when either call is undetermined."""
        if self.low_smi_ref is None or self.low_smi_model is None:
            return None
        return self.low_smi_ref != self.low_smi_model

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["qc_flags"] = ";".join(self.qc_flags)
        d["flipped"] = self.flipped
        return d


def compare_case(case: ReferenceCase, result: SegmentationResult, *, rule: str = DEFAULT_RULE) -> CaseComparison:
    """Agreement of one segmentation result with the case's expert mask."""
    pred = np.asarray(result.labels)
    ref = case.reference
    ref_labels = case.reference_kind == "labels"
    ref_m = measure_slice(case.hu, ref, row_mm=case.row_mm, col_mm=case.col_mm, kind=case.reference_kind)
    mod_m = measure_slice(case.hu, pred, row_mm=case.row_mm, col_mm=case.col_mm, kind="labels")
    t, p = case.muscle, pred == MUSCLE
    g = DEFAULT_GATES.muscle
    smi_r, smi_m = smi_cm2_m2(ref_m.sma_cm2, case.height_m), smi_cm2_m2(mod_m.sma_cm2, case.height_m)

    def low(smi: float | None, hu: float | None) -> bool | None:
        c = classify(smi=smi, muscle_hu=hu, sex=case.sex, height_m=case.height_m, weight_kg=case.weight_kg, rule=rule)
        return c.low_smi.value

    return CaseComparison(
        case_id=case.case_id,
        patient_id=case.patient_id,
        dice=dice(gated(case.hu, t, g), gated(case.hu, p, g)),
        dice_raw=dice(t, p),
        sma_ref_cm2=ref_m.sma_cm2,
        sma_model_cm2=mod_m.sma_cm2,
        sma_error_pct=area_error_pct(ref_m.sma_cm2, mod_m.sma_cm2),
        imat_ref_cm2=ref_m.imat_cm2,
        imat_model_cm2=mod_m.imat_cm2,
        sat_ref_cm2=ref_m.sat_cm2 if ref_labels else None,
        sat_model_cm2=mod_m.sat_cm2 if ref_labels else None,
        vat_ref_cm2=ref_m.vat_cm2 if ref_labels else None,
        vat_model_cm2=mod_m.vat_cm2 if ref_labels else None,
        muscle_hu_ref=ref_m.muscle_hu_mean,
        muscle_hu_model=mod_m.muscle_hu_mean,
        smi_ref=smi_r,
        smi_model=smi_m,
        low_smi_ref=low(smi_r, ref_m.muscle_hu_mean),
        low_smi_model=low(smi_m, mod_m.muscle_hu_mean),
        confidence=float(result.confidence),
        qc_flags=tuple(result.qc_flags),
    )


@dataclass(frozen=True)
class FlipSummary:
    """Low-SMI calls by the expert mask vs the model (cases where both calls are determined)."""

    n_classified: int
    n_flipped: int
    share_flipped: float | None
    low_ref: int
    low_model: int

    @classmethod
    def of(cls, rows: Sequence[CaseComparison]) -> FlipSummary:
        det = [r for r in rows if r.flipped is not None]
        n = len(det)
        flips = sum(1 for r in det if r.flipped)
        return cls(
            n_classified=n,
            n_flipped=flips,
            share_flipped=flips / n if n else None,
            low_ref=sum(1 for r in det if r.low_smi_ref),
            low_model=sum(1 for r in det if r.low_smi_model),
        )


def _agreement(quantity: str, unit: str, pairs: list[tuple[float | None, float | None]]) -> Agreement | None:
    ok = [(a, b) for a, b in pairs if a is not None and b is not None]
    if len(ok) < 2:
        return None
    try:
        return Agreement.of(quantity=quantity, unit=unit, reference=[a for a, _ in ok], test=[b for _, b in ok])
    except AgreementError:
        return None


@dataclass(frozen=True)
class ValidationReport:
    method: str
    model: ModelInfo | None
    rule: str
    cases: tuple[CaseComparison, ...]
    dice: DiceSummary
    dice_raw: DiceSummary
    sma_abs_error_pct: ErrorSummary
    agreement: tuple[Agreement, ...]  # SMA, SMI (with heights), muscle HU, IMAT, SAT and VAT (label-map refs)
    flips: FlipSummary
    seconds: float

    @classmethod
    def of(
        cls, *, method: str, model: ModelInfo | None, rule: str, rows: Sequence[CaseComparison], seconds: float
    ) -> ValidationReport:
        ags = [
            _agreement("SMA", "cm2", [(r.sma_ref_cm2, r.sma_model_cm2) for r in rows]),
            _agreement("SMI", "cm2/m2", [(r.smi_ref, r.smi_model) for r in rows]),
            _agreement("muscle HU", "HU", [(r.muscle_hu_ref, r.muscle_hu_model) for r in rows]),
            _agreement("IMAT", "cm2", [(r.imat_ref_cm2, r.imat_model_cm2) for r in rows]),
            _agreement("SAT", "cm2", [(r.sat_ref_cm2, r.sat_model_cm2) for r in rows]),
            _agreement("VAT", "cm2", [(r.vat_ref_cm2, r.vat_model_cm2) for r in rows]),
        ]
        return cls(
            method=method,
            model=model,
            rule=rule,
            cases=tuple(rows),
            dice=DiceSummary.of([r.dice for r in rows]),
            dice_raw=DiceSummary.of([r.dice_raw for r in rows]),
            sma_abs_error_pct=ErrorSummary.of([r.sma_error_pct for r in rows]),
            agreement=tuple(a for a in ags if a is not None),
            flips=FlipSummary.of(rows),
            seconds=seconds,
        )

    def worst(self, n: int = 6) -> list[CaseComparison]:
        return sorted(self.cases, key=lambda r: r.dice)[:n]

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "model": None if self.model is None else self.model.to_dict(),
            "rule": self.rule,
            "rule_citation": get_rule(self.rule)[1].citation,
            "n_cases": len(self.cases),
            "n_patients": len({r.patient_id for r in self.cases}),
            "dice": self.dice.to_dict(),
            "dice_raw": self.dice_raw.to_dict(),
            "sma_abs_error_pct": self.sma_abs_error_pct.to_dict(),
            "agreement": {a.quantity: a.to_dict() for a in self.agreement},
            "classification_flips": asdict(self.flips),
            "seconds": round(self.seconds, 2),
            "worst_cases": [r.case_id for r in self.worst()],
        }


def validate_cases(
    cases: Sequence[ReferenceCase],
    segmenter: SliceSegmenter,
    *,
    rule: str | None = None,
    on_case: Callable[[ReferenceCase, SegmentationResult], None] | None = None,
) -> ValidationReport:
    """Segment every case with ``segmenter`` and compare it with its expert mask."""
    key, _ = get_rule(rule)
    t0 = time.perf_counter()
    rows = []
    for case in cases:
        res = segmenter.segment(case.volume(), [0])[0]
        rows.append(compare_case(case, res, rule=key))
        if on_case is not None:
            on_case(case, res)
    return ValidationReport.of(
        method=segmenter.method, model=segmenter.model, rule=key, rows=rows, seconds=time.perf_counter() - t0
    )
