"""Agreement statistics between a method and a reference, for paired measurements (one value per case).

* Bland–Altman: bias = mean(test − reference), 95 % limits of agreement = bias ± 1.96 × SD of the differences
  (sample SD, n − 1). Bland JM, Altman DG. Lancet 1986;327(8476):307-310. doi:10.1016/S0140-6736(86)90837-8
* ICC(2,1): two-way random effects, absolute agreement, single measurement, from the two-way ANOVA mean squares,
  ICC = (BMS − EMS) / (BMS + (k − 1) EMS + k (JMS − EMS) / n).
  Shrout PE, Fleiss JL. Psychol Bull 1979;86(2):420-428. doi:10.1037/0033-2909.86.2.420
* Lin's concordance correlation coefficient, with the moment (1/n) estimators of the paper,
  CCC = 2 s_xy / (s_x² + s_y² + (x̄ − ȳ)²). Lin LI. Biometrics 1989;45(1):255-268. doi:10.2307/2532051

No library among the installed ones implements these three (pingouin is not available here); they are a few
lines of numpy each and are checked against the published worked examples in tests/test_agreement.py.
Every function refuses fewer than two pairs, non-finite values and unequal lengths with a specific
:class:`AgreementError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from sarco_core.errors import SarcoError

LOA_Z = 1.96  # 95 % limits of agreement (Bland & Altman 1986)


class AgreementError(SarcoError):
    """Paired values cannot be compared (too few, unequal lengths, or not finite)."""


def _pairs(reference: Sequence[float], test: Sequence[float], what: str) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(reference, dtype=np.float64)
    y = np.asarray(test, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise AgreementError(f"{what}: {x.shape} reference values and {y.shape} test values; give one pair per case.")
    if len(x) < 2:
        raise AgreementError(f"{what} needs at least 2 paired cases; got {len(x)}. Add more cases.")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise AgreementError(f"{what}: some values are missing or not finite; drop those cases first.")
    return x, y


@dataclass(frozen=True)
class BlandAltman:
    """Differences test − reference: bias, SD and the 95 % limits of agreement (same unit as the values)."""

    n: int
    bias: float
    sd: float
    loa_low: float
    loa_high: float

    @classmethod
    def of(cls, *, reference: Sequence[float], test: Sequence[float]) -> BlandAltman:
        x, y = _pairs(reference, test, "Bland-Altman")
        d = y - x
        bias = float(d.mean())
        sd = float(d.std(ddof=1))
        return cls(n=len(d), bias=bias, sd=sd, loa_low=bias - LOA_Z * sd, loa_high=bias + LOA_Z * sd)

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def icc_2_1(ratings: np.ndarray) -> float:
    """ICC(2,1) of an (n targets × k raters) table (Shrout & Fleiss 1979, case 2, single rater)."""
    r = np.asarray(ratings, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] < 2 or r.shape[1] < 2:
        raise AgreementError(f"ICC(2,1) needs a table of >= 2 cases x >= 2 raters; got shape {r.shape}.")
    if not np.all(np.isfinite(r)):
        raise AgreementError("ICC(2,1): some values are missing or not finite; drop those cases first.")
    n, k = r.shape
    grand = r.mean()
    ss_rows = k * float(((r.mean(axis=1) - grand) ** 2).sum())
    ss_cols = n * float(((r.mean(axis=0) - grand) ** 2).sum())
    ss_err = float(((r - grand) ** 2).sum()) - ss_rows - ss_cols
    bms = ss_rows / (n - 1)
    jms = ss_cols / (k - 1)
    ems = ss_err / ((n - 1) * (k - 1))
    den = bms + (k - 1) * ems + k * (jms - ems) / n
    if den == 0:
        return float("nan")  # every value identical: agreement is undefined, not perfect
    return float((bms - ems) / den)


def lin_ccc(reference: Sequence[float], test: Sequence[float]) -> float:
    """Lin's concordance correlation coefficient (Lin 1989; moment estimators)."""
    x, y = _pairs(reference, test, "Lin's concordance")
    sxy = float(((x - x.mean()) * (y - y.mean())).mean())
    den = float(x.var() + y.var() + (x.mean() - y.mean()) ** 2)
    if den == 0:
        return float("nan")
    return 2.0 * sxy / den


@dataclass(frozen=True)
class Agreement:
    """Agreement of one paired measurement (e.g. SMA in cm²) over a cohort."""

    quantity: str
    unit: str
    n: int
    reference_mean: float
    test_mean: float
    bland_altman: BlandAltman
    icc_2_1: float
    lin_ccc: float
    mean_abs_pct_error: float | None  # mean |test − ref| / ref × 100 over cases with ref != 0

    @classmethod
    def of(cls, *, quantity: str, unit: str, reference: Sequence[float], test: Sequence[float]) -> Agreement:
        x, y = _pairs(reference, test, quantity)
        nz = x != 0
        mape = float(np.mean(np.abs(y[nz] - x[nz]) / np.abs(x[nz])) * 100.0) if nz.any() else None
        return cls(
            quantity=quantity,
            unit=unit,
            n=len(x),
            reference_mean=float(x.mean()),
            test_mean=float(y.mean()),
            bland_altman=BlandAltman.of(reference=x.tolist(), test=y.tolist()),
            icc_2_1=icc_2_1(np.stack([x, y], axis=1)),
            lin_ccc=lin_ccc(x.tolist(), y.tolist()),
            mean_abs_pct_error=mape,
        )

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["bland_altman"] = self.bland_altman.to_dict()
        return d
