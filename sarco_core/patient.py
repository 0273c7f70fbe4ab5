"""Patient values of one analysis: height, weight and sex, each with its source (argument, DICOM header or missing).
The one owner of patient resolution (arguments beat the header; header values validated once)."""

from __future__ import annotations

from dataclasses import dataclass

from sarco_core import cutoffs
from sarco_core.enums import ValueSource
from sarco_core.volume import Volume


@dataclass(frozen=True)
class Patient:
    """Height, weight and sex used for one analysis, each with its source (argument, dicom or missing).

    The one owner of patient resolution: :meth:`resolve` (arguments win over the header; implausible header
    values are ignored with a note) or :meth:`known` (values resolved before, e.g. a stored case, with the
    sources recorded then)."""

    height_m: float | None
    weight_kg: float | None
    sex: str | None
    sources: dict[str, str]
    notes: tuple[str, ...] = ()

    @classmethod
    def resolve(
        cls, volume: Volume, *, height_m: float | None = None, weight_kg: float | None = None, sex: str | None = None
    ) -> Patient:
        h, w, s, src, notes = _patient(volume, height_m, weight_kg, sex)
        return cls(height_m=h, weight_kg=w, sex=s, sources=src, notes=tuple(notes))

    @classmethod
    def known(
        cls, *, height_m: float | None, weight_kg: float | None, sex: str | None, sources: dict[str, str] | None
    ) -> Patient:
        """Values already resolved; ``sources`` as recorded then (a value without a recorded source: argument)."""
        src = dict(sources or {})
        h, w, s = cutoffs.validate_height_m(height_m), cutoffs.validate_weight_kg(weight_kg), cutoffs.normalise_sex(sex)
        out = {
            k: (ValueSource.MISSING.value if v is None else str(src.get(k) or ValueSource.ARGUMENT.value))
            for k, v in (("height", h), ("weight", w), ("sex", s))
        }
        return cls(height_m=h, weight_kg=w, sex=s, sources=out)


def _patient(
    volume: Volume, height_m: float | None, weight_kg: float | None, sex: str | None
) -> tuple[float | None, float | None, str | None, dict[str, str], list[str]]:
    """Arguments win; else the DICOM header; implausible header values are ignored with a note."""
    notes: list[str] = []
    src = {"height": "missing", "weight": "missing", "sex": "missing"}
    h = cutoffs.validate_height_m(height_m)
    if h is not None:
        src["height"] = ValueSource.ARGUMENT.value
    elif volume.meta.patient_height_m:
        try:
            h = cutoffs.validate_height_m(volume.meta.patient_height_m)
            src["height"] = "dicom"
        except Exception as exc:
            notes.append(f"DICOM PatientSize ignored: {exc}")
    w = cutoffs.validate_weight_kg(weight_kg)
    if w is not None:
        src["weight"] = "argument"
    elif volume.meta.patient_weight_kg:
        try:
            w = cutoffs.validate_weight_kg(volume.meta.patient_weight_kg)
            src["weight"] = "dicom"
        except Exception as exc:
            notes.append(f"DICOM PatientWeight ignored: {exc}")
    s = cutoffs.normalise_sex(sex)
    if s is not None:
        src["sex"] = "argument"
    elif volume.meta.patient_sex:
        s = cutoffs.normalise_sex(volume.meta.patient_sex)
        if s is not None:
            src["sex"] = "dicom"
    return h, w, s, src, notes
