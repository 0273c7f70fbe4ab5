"""The fixed value sets of sarco as ``StrEnum`` (members compare equal to, and serialise as, their strings, so the
JSON records and the database keep the same text)."""

from __future__ import annotations

from enum import StrEnum


class Method(StrEnum):
    """Segmentation methods (``sarco analyze --method``)."""

    MODEL = "model"
    TEACHER = "teacher"
    THRESHOLD = "threshold"


class Backend(StrEnum):
    """Inference backends of the trained model (``SARCO_BACKEND``)."""

    AUTO = "auto"
    ONNX = "onnx"
    TORCH = "torch"


class Sex(StrEnum):
    FEMALE = "F"
    MALE = "M"


class MaskSource(StrEnum):
    """Where a stored mask version came from."""

    AUTO = "auto"
    EDIT = "edit"
    RESTORE = "restore"
    IMPORT = "import"


class ValueSource(StrEnum):
    """Where a patient value (height, weight, sex) came from."""

    ARGUMENT = "argument"
    DICOM = "dicom"
    MISSING = "missing"


class QCFlag(StrEnum):
    """Every QC flag an analysis can carry (docs/user-guide.md explains each)."""

    # segmentation (model and teacher)
    LOW_CONFIDENCE = "low_confidence"
    NO_SAT_PLANE = "no_sat_plane"  # anatomy rules: little or no fat under the skin
    ISLANDS_REMOVED = "islands_removed"  # anatomy rules: > 2 cm² of pieces inside the abdomen removed
    IMPLAUSIBLE_AREA = "implausible_area"
    MASK_TOUCHES_FOV_EDGE = "mask_touches_fov_edge"
    BODY_TRUNCATED = "body_truncated"
    ARMS_IN_FIELD = "arms_in_field"
    HIGH_NOISE = "high_noise"
    # L3
    L3_LOW_CONFIDENCE = "l3_low_confidence"
    L3_USER_SELECTED_NOT_LUMBAR = "l3_user_selected_not_lumbar"
    L3_LEVEL_NOT_CHECKED = "l3_level_not_checked"
    L3_LEVELS_DISAGREE = "l3_levels_disagree"
    # image / acquisition
    KVP_NOT_120 = "kvp_not_120"
    CONTRAST_PHASE_UNKNOWN = "contrast_phase_unknown"
    THICK_SLICE_OVER_5MM = "thick_slice_over_5mm"
    COARSE_PIXELS_OVER_2MM = "coarse_pixels_over_2mm"
    FOV_TRUNCATED = "fov_truncated"
