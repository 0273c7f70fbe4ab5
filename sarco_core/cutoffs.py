"""Published CT cutoffs for low skeletal muscle index (SMI) and low muscle attenuation, with citations.

SMI = SMA / height² (cm²/m²). A result names its rule and threshold and says "low SMI (CT-defined)",
never "sarcopenia" alone. When a rule needs BMI and weight is missing, the answer is
"undetermined (needs weight)"; nothing is guessed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

from sarco_core.enums import Sex
from sarco_core.errors import PatientDataError, UnknownRuleError

HEIGHT_RANGE_M = (1.0, 2.5)
WEIGHT_RANGE_KG = (25.0, 350.0)


@dataclass(frozen=True)
class Rule:
    """One published cutoff set. Thresholds are strict: low means value < threshold."""

    name: str
    citation: str
    population: str
    smi_male: float | tuple[float, float]  # a pair means (BMI < 25, BMI >= 25)
    smi_female: float | tuple[float, float]
    hu_male: float | tuple[float, float] | None = None
    hu_female: float | tuple[float, float] | None = None
    note: str = ""


RULES: dict[str, Rule] = {
    "martin2013": Rule(
        name="Martin 2013",
        citation="Martin L, et al. J Clin Oncol 2013;31(12):1539-1547. doi:10.1200/JCO.2012.45.2722",
        population="patients with cancer (lung or gastrointestinal), Alberta, Canada",
        smi_male=(43.0, 53.0),
        smi_female=41.0,
        hu_male=(41.0, 33.0),
        hu_female=(41.0, 33.0),
    ),
    "prado2008": Rule(
        name="Prado 2008",
        citation="Prado CMM, et al. Lancet Oncol 2008;9(7):629-635. doi:10.1016/S1470-2045(08)70153-0",
        population="obese (BMI >= 30) patients with solid tumours of the respiratory or gastrointestinal tract",
        smi_male=52.4,
        smi_female=38.5,
        note="derived in obese patients (BMI >= 30)",
    ),
    "derstine2018": Rule(
        name="Derstine 2018",
        citation="Derstine BA, et al. Sci Rep 2018;8:11369. doi:10.1038/s41598-018-29825-5",
        population="healthy US adults aged 18-40 (kidney donors), non-contrast L3 measurements",
        smi_male=45.4,
        smi_female=34.4,
        hu_male=38.5,
        hu_female=34.3,
        note="muscle HU cutoffs derived on non-contrast CT",
    ),
    "vanderwerf2018": Rule(
        name="van der Werf 2018",
        citation="van der Werf A, et al. Eur J Clin Nutr 2018;72(2):288-296. doi:10.1038/s41430-017-0034-5",
        population="healthy Dutch adults (living kidney donors)",
        smi_male=41.6,
        smi_female=32.0,
        hu_male=29.3,
        hu_female=22.0,
    ),
}
DEFAULT_RULE = "martin2013"


@dataclass(frozen=True)
class Criterion:
    """One classification: value True (low) / False / None (undetermined, see note)."""

    value: bool | None
    rule: str
    threshold: float | None
    citation: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Classification:
    low_smi: Criterion
    low_muscle_hu: Criterion

    def to_dict(self) -> dict[str, Any]:
        return {"low_smi": self.low_smi.to_dict(), "low_muscle_hu": self.low_muscle_hu.to_dict()}


def get_rule(name: str | None) -> tuple[str, Rule]:
    """Look a rule up by key or display name, case- and space-insensitive."""
    key = (name or DEFAULT_RULE).lower().replace(" ", "").replace("_", "").replace("-", "")
    for k, r in RULES.items():
        if key in (k, r.name.lower().replace(" ", "")):
            return k, r
    raise UnknownRuleError(f"Unknown cutoff rule {name!r}. Choose one of: {', '.join(RULES)}.")


def validate_height_m(height_m: float | None) -> float | None:
    """Return the height in metres, or raise with a hint (a value of 100-250 looks like centimetres)."""
    if height_m is None:
        return None
    h = float(height_m)
    if 100 <= h <= 250:
        raise PatientDataError(f"Height {h:g} looks like centimetres; give it in metres (e.g. {h / 100:.2f}).")
    if not HEIGHT_RANGE_M[0] <= h <= HEIGHT_RANGE_M[1]:
        raise PatientDataError(
            f"Height {h:g} m is outside the plausible range {HEIGHT_RANGE_M[0]}-{HEIGHT_RANGE_M[1]} m; "
            "check the value and unit (metres)."
        )
    return h


def validate_weight_kg(weight_kg: float | None) -> float | None:
    """Return the weight in kg, or raise when it is outside 25-350 kg."""
    if weight_kg is None:
        return None
    w = float(weight_kg)
    if not WEIGHT_RANGE_KG[0] <= w <= WEIGHT_RANGE_KG[1]:
        raise PatientDataError(
            f"Weight {w:g} kg is outside the plausible range {WEIGHT_RANGE_KG[0]:g}-{WEIGHT_RANGE_KG[1]:g} kg; "
            "check the value and unit (kilograms)."
        )
    return w


def normalise_sex(sex: str | None) -> Sex | None:
    """:class:`~sarco_core.enums.Sex` ('F'/'M') from common spellings; None for missing/other (classification then
    undetermined)."""
    if sex is None:
        return None
    s = str(sex).strip().upper()
    if s in ("F", "FEMALE", "W", "WOMAN"):
        return Sex.FEMALE
    if s in ("M", "MALE", "MAN"):
        return Sex.MALE
    if s in ("", "O", "OTHER", "U", "UNKNOWN", "NONE"):
        return None
    raise PatientDataError(f"Sex {sex!r} not understood; use F or M (or leave it empty).")


def smi_cm2_m2(sma_cm2: float | None, height_m: float | None) -> float | None:
    """SMI = SMA / height² (the only place it is computed); None when either is missing.

    Empty-mask policy (one for the CLI, the store, the report and the app): an SMA of 0 means no muscle was
    measured, so there is no SMI and the classification says "no muscle measured", never "low"."""
    if sma_cm2 is None or height_m is None or sma_cm2 <= 0:
        return None
    return sma_cm2 / (height_m * height_m)


def smi_missing_reason(sma_cm2: float | None, height_m: float | None) -> str:
    """Why :func:`smi_cm2_m2` gave None (for display)."""
    return "needs height" if height_m is None else "no muscle measured"


@dataclass(frozen=True)
class Assessment:
    """SMI and the classification of one measurement, from :func:`assess`."""

    smi_cm2_m2: float | None
    classification: Classification
    rule: str


def assess(
    *,
    sma_cm2: float | None,
    muscle_hu: float | None,
    sex: str | None,
    height_m: float | None,
    weight_kg: float | None,
    rule: str | None = None,
) -> Assessment:
    """SMI + classification of one measurement with one rule (the one function every caller uses)."""
    key, _ = get_rule(rule)
    smi = smi_cm2_m2(sma_cm2, height_m)
    hu = muscle_hu if sma_cm2 is not None and sma_cm2 > 0 else None
    cls = classify(smi=smi, muscle_hu=hu, sex=sex, height_m=height_m, weight_kg=weight_kg, rule=key)
    return Assessment(smi_cm2_m2=smi, classification=cls, rule=key)


class PatientData(Protocol):
    """What a stored case carries about the patient (a store row or record)."""

    @property
    def sex(self) -> str | None: ...
    @property
    def height_m(self) -> float | None: ...
    @property
    def weight_kg(self) -> float | None: ...


class MeasuredMask(Protocol):
    """What a stored mask version carries about its measurement (a store row or record)."""

    @property
    def sma_cm2(self) -> float | None: ...
    @property
    def muscle_hu_mean(self) -> float | None: ...


def assess_stored(case: PatientData, version: MeasuredMask, rule: str | None) -> Assessment:
    """:func:`assess` of a stored mask version with its case's patient data (card, PDF and cohort table alike)."""
    return assess(
        sma_cm2=version.sma_cm2,
        muscle_hu=version.muscle_hu_mean,
        sex=case.sex,
        height_m=case.height_m,
        weight_kg=case.weight_kg,
        rule=rule,
    )


def bmi(height_m: float | None, weight_kg: float | None) -> float | None:
    if height_m is None or weight_kg is None:
        return None
    return weight_kg / (height_m * height_m)


def _threshold(spec: float | tuple[float, float] | None, bmi_value: float | None) -> tuple[float | None, str | None]:
    """(threshold, missing-reason)."""
    if spec is None:
        return None, "rule has no cutoff for this"
    if isinstance(spec, tuple):
        if bmi_value is None:
            return None, "needs weight"
        return (spec[0] if bmi_value < 25 else spec[1]), None
    return float(spec), None


def _criterion(
    label: str,
    value: float | None,
    spec_m: Any,
    spec_f: Any,
    sex: str | None,
    bmi_value: float | None,
    rule: Rule,
    missing_value_reason: str,
) -> Criterion:
    if sex is None:
        return Criterion(None, rule.name, None, rule.citation, "undetermined (needs sex)")
    thr, why = _threshold(spec_m if sex == "M" else spec_f, bmi_value)
    if thr is None:
        no_cutoff = why == "rule has no cutoff for this"
        note = "not assessed (rule has no cutoff for this)" if no_cutoff else f"undetermined ({why})"
        return Criterion(None, rule.name, None, rule.citation, note)
    if value is None:
        return Criterion(None, rule.name, thr, rule.citation, f"undetermined ({missing_value_reason})")
    low = value < thr
    extra = []
    if isinstance(spec_m if sex == "M" else spec_f, tuple) and bmi_value is not None:
        extra.append(f"BMI {bmi_value:.1f} {'< 25' if bmi_value < 25 else '>= 25'}")
    if rule.note:
        extra.append(rule.note)
    text = f"{'low' if low else 'not low'} {label} (CT-defined): {value:.1f} {'<' if low else '>='} {thr:g}"
    if extra:
        text += "; " + "; ".join(extra)
    return Criterion(low, rule.name, thr, rule.citation, text)


def classify(
    *,
    smi: float | None,
    muscle_hu: float | None,
    sex: str | None,
    height_m: float | None,
    weight_kg: float | None,
    rule: str | None = None,
) -> Classification:
    """Apply one rule. Missing inputs give ``value=None`` with the reason in ``note``."""
    _, r = get_rule(rule)
    sex = normalise_sex(sex)
    b = bmi(height_m, weight_kg)
    smi_missing = smi_missing_reason(None, height_m)
    return Classification(
        low_smi=_criterion("SMI", smi, r.smi_male, r.smi_female, sex, b, r, smi_missing),
        low_muscle_hu=_criterion("muscle HU", muscle_hu, r.hu_male, r.hu_female, sex, b, r, "no muscle measured"),
    )
