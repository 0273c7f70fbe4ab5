"""Typed, ORM-free records the store hands out (the UI never sees SQLAlchemy objects)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from sarco_core.enums import MaskSource

MASK_SOURCES: tuple[str, ...] = tuple(m.value for m in MaskSource)
IMPORTED_PREFIX = "imported:"  # + format (tag, nifti, seg, png): an expert reference mask from `sarco import-masks`
# Sources of a person's reference mask (training / validation data for `--from-store`): a labeller's saved edit,
# a single-case manual import, and bulk imports (IMPORTED_PREFIX + format). Never 'auto' (the model's own mask)
# nor 'restore' (a copy of an older version, whose origin the row does not keep).
REFERENCE_SOURCES: tuple[str, ...] = ("edit", "import")


def is_reference_source(source: str) -> bool:
    """Whether a version with this source is a person's mask (see :data:`REFERENCE_SOURCES`)."""
    return source in REFERENCE_SOURCES or source.startswith(IMPORTED_PREFIX)


@dataclass(frozen=True)
class MaskVersionRecord:
    """One immutable mask version of a case (a 2-D label map of the measured slice) and its measurements."""

    id: int
    case_id: int
    number: int
    parent_id: int | None
    parent_number: int | None
    analysis_id: int | None
    created_at: datetime
    author: str
    comment: str
    source: str  # auto | edit | restore | import | imported:<format>
    slice_index: int
    z_mm: float | None
    sma_cm2: float
    imat_cm2: float
    sat_cm2: float | None
    vat_cm2: float | None
    muscle_hu_mean: float | None
    muscle_pixels: int
    sha256: str
    sma_change_cm2: float | None = None  # vs the parent version (None for the first one)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        return d


@dataclass(frozen=True)
class AnalysisRecord:
    """One analysis run with its provenance; ``result`` is the full analysis JSON as given."""

    id: int
    case_id: int
    created_at: datetime
    actor: str
    software_version: str
    method: str | None
    model_name: str | None
    model_version: str | None
    model_sha256: str | None
    rule: str | None
    hu_gates: dict[str, list[float]]
    input_sha256: str | None
    slice_index: int
    l3_auto_index: int | None
    l3_overridden: bool
    confidence: float | None
    qc_flags: tuple[str, ...]
    result: dict[str, Any] = field(repr=False, default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        d["qc_flags"] = list(self.qc_flags)
        return d


@dataclass(frozen=True)
class CaseSummary:
    """One line of the case list."""

    id: int
    label: str
    created_at: datetime
    input_kind: str
    deleted: bool
    n_versions: int
    latest_sma_cm2: float | None
    edited: bool
    sex: str | None
    patient_id_hash: str | None


@dataclass(frozen=True)
class CaseRecord:
    """A case with its geometry, patient data as given for the analysis, and latest analysis and version."""

    id: int
    label: str
    created_at: datetime
    input_kind: str
    input_sha256: str | None
    patient_id_hash: str | None
    study_uid: str | None
    series_uid: str | None
    frame_of_reference_uid: str | None
    sop_class_uid: str | None
    n_sop_uids: int
    shape: tuple[int, int, int]
    spacing_mm: tuple[float | None, float, float]
    image_sha256: str
    sex: str | None
    height_m: float | None
    weight_kg: float | None
    age_years: float | None
    deleted: bool
    deleted_reason: str | None
    meta: dict[str, Any]
    latest_analysis: AnalysisRecord | None
    latest_version: MaskVersionRecord | None
    n_versions: int

    @property
    def is_dicom(self) -> bool:
        return self.input_kind.startswith("dicom")


@dataclass(frozen=True)
class AuditEvent:
    """One audit-trail entry."""

    id: int
    time: datetime
    actor: str
    action: str  # create | analyse | save_version | restore | import | export | delete
    case_id: int | None
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["time"] = self.time.isoformat()
        return d


@dataclass(frozen=True)
class MaskComparison:
    """Agreement of two versions of the same case (e.g. an imported manual mask vs the automatic one)."""

    version_a: int
    version_b: int
    gated_dice: float
    sma_a_cm2: float
    sma_b_cm2: float
    sma_diff_cm2: float  # b - a
    sma_diff_pct: float | None  # (b - a) / a × 100


@dataclass(frozen=True, eq=False)
class ReferenceSlice:
    """A case's latest reference version (:func:`is_reference_source`) with the HU of its slice and the case's
    patient data: the unit of ``sarco finetune/validate --from-store``."""

    case_id: int
    label: str
    patient_id_hash: str | None  # the store's salted hash (None: no patient ID was in the input)
    version: MaskVersionRecord
    hu: np.ndarray = field(repr=False)  # (rows, cols) HU of the version's slice
    mask: np.ndarray = field(repr=False)  # (rows, cols) uint8 label map of the version
    row_mm: float
    col_mm: float
    height_m: float | None
    weight_kg: float | None
    sex: str | None
