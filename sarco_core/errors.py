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


class GridMismatchError(SarcoError):
    """A mask is not on the image's voxel grid."""


class InvalidMaskError(SarcoError):
    """A mask has unexpected values or dimensions."""


class PatientDataError(SarcoError):
    """Height, weight or sex is missing, implausible or in the wrong unit."""


class UnknownRuleError(SarcoError):
    """The requested cutoff rule does not exist."""


class ModelError(SarcoError):
    """Model weights or config are missing, corrupt, or do not match."""


class L3NotFoundError(SarcoError):
    """The series does not reach L3 or no spine could be found."""


class StoreError(SarcoError):
    """The case database refused an operation."""


class ConflictError(StoreError):
    """Someone else saved a newer version of the same case first."""


class AuthError(SarcoError):
    """Sign-in refused, an unknown user or role, or an action the user's role does not allow."""
