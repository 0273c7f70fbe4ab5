"""Error types of sarco_core: one type per kind of problem, each message says what is wrong and what to do.

The CLI turns every :class:`SarcoError` into a message on stderr and exit code 2 (never a traceback);
the app shows ``str(error)``.
"""

from __future__ import annotations


class SarcoError(Exception):
    """Base class: ``str(err)`` is a complete, user-facing sentence naming the fix."""

    exit_code = 2


class InputNotFoundError(SarcoError):
    """The path does not exist or holds no readable image."""


class UnreadableFileError(SarcoError):
    """A file is truncated, corrupt, or not DICOM/NIfTI."""


class UnsupportedCompressionError(SarcoError):
    """Pixel data uses a transfer syntax no installed decoder handles."""


class NotCTError(SarcoError):
    """The image is not CT (e.g. MR, PT, an RT structure set)."""


class LocalizerError(SarcoError):
    """The input is a localiser / scout / topogram, not a cross-sectional CT image."""


class NotAxialError(SarcoError):
    """A coronal, sagittal or oblique image was given where an axial one is needed."""


class GantryTiltError(SarcoError):
    """The series was acquired with gantry tilt (slices are not perpendicular to their stacking axis)."""


class IrregularSeriesError(SarcoError):
    """Inconsistent slice spacing, missing or duplicate slices, or mixed geometry within the chosen series."""


class MissingGeometryError(SarcoError):
    """A geometry tag needed for physical measurements is missing (PixelSpacing, position, orientation)."""


class NotHUError(SarcoError):
    """The pixel values are not Hounsfield units, so no tissue measurement is possible."""


class ArchiveError(SarcoError):
    """A zip archive is empty, unsafe (path traversal, symlinks), too large or has too many members."""


class InputLimitError(SarcoError):
    """An input exceeds a safety limit (compression ratio, size, voxels, load time); the message names the
    limit and its setting."""


class ImageValueError(SarcoError):
    """The image's values or geometry are not plausible CT: NaN/inf voxels, values beyond int16, complex or
    colour data, a zero/NaN RescaleSlope, spacing outside the plausible range, or a degenerate affine."""


class OutputPathError(SarcoError):
    """An output path (e.g. ``--out-mask``) is a folder, has the wrong extension, or cannot be written."""


class CaseTimeLimitError(SarcoError):
    """A batch case ran past its per-case time limit and was stopped."""


class GridMismatchError(SarcoError):
    """A mask is not on the image's voxel grid."""


class InvalidMaskError(SarcoError):
    """A mask has unexpected values or dimensions."""


class ManifestError(SarcoError):
    """A manifest (CSV of cases) or import-set folder cannot be read: missing file, columns or files."""


class PatientDataError(SarcoError):
    """Height, weight or sex is missing, implausible or in the wrong unit."""


class UnknownRuleError(SarcoError):
    """The requested cutoff rule does not exist."""


class TrainingNotInstalledError(SarcoError):
    """Training or ONNX export asked for in the slim runtime (no torch)."""


class OptionalDependencyError(SarcoError):
    """A feature whose packages the slim runtime (requirements.txt) leaves out: Dask (cluster), PostgreSQL."""


class ModelError(SarcoError):
    """Model weights or config are missing, corrupt, or do not match."""


class L3NotFoundError(SarcoError):
    """The series does not reach L3 or no spine could be found."""


class L3NotReachedError(L3NotFoundError):
    """The series ends above L3 (e.g. a chest series): choosing a slice by hand cannot help."""


class CalibrationError(SarcoError):
    """The L3 confidence calibration file (sarco_core/l3/calibration.json) is missing or malformed."""


class StoreError(SarcoError):
    """The case database refused an operation."""


class ConflictError(StoreError):
    """Someone else saved a newer version of the same case first."""


def require_training(what: str) -> None:
    """Raise :class:`TrainingNotInstalledError` when torch is missing (the slim runtime)."""
    import importlib.util

    missing = [m for m in ("torch", "segmentation_models_pytorch") if importlib.util.find_spec(m) is None]
    if missing:
        raise TrainingNotInstalledError(
            f"{what} needs {' and '.join(missing)}, which the slim runtime (requirements.txt) does not install. "
            "Install the training set: pip install -r requirements-train.txt (or pip install -e .[train])."
        )


def require_optional(module: str, *, feature: str, install: str) -> None:
    """Raise :class:`OptionalDependencyError` naming ``install`` when ``module`` is not installed."""
    import importlib.util

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise OptionalDependencyError(
            f"{feature} needs the Python package {module!r}, which the slim runtime (requirements.txt) does not "
            f"install. Install it: {install}"
        )


class AuthError(SarcoError):
    """Sign-in refused, an unknown user or role, or an action the user's role does not allow."""
