"""Safety limits of the loaders, in one place: what an input may cost (bytes, ratio, members, time) and which
values are plausible for CT. Each limit has an environment setting; ``docs/reliability.md`` lists them and
what a user sees when one is hit.

The limits bound *work*, not just bytes: a zip member may not expand more than :data:`MAX_ZIP_RATIO` times,
reads stream against a running byte budget, a file without the DICOM preamble is handed to pydicom's
``force=True`` parser only when its first element looks like DICOM, and one input has a wall-clock budget
(:func:`deadline`) checked between files, frames and archive chunks.
"""

from __future__ import annotations

import contextvars
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sarco_core import settings
from sarco_core.errors import InputLimitError, SarcoError

# ------------------------------------------------------------------------------------------- archives / bytes
DEFAULT_MAX_ARCHIVE_BYTES = 4 * 1024**3  # a 2000-slice 512² series is ~1 GB of DICOM
MAX_MEMBERS = 5000  # a CT series is rarely over 2000 files
# DICOM CT pixel data deflates 2-4:1 and text-like members ~10:1; 100:1 only arises from padding or a bomb
DEFAULT_MAX_ZIP_RATIO = 100.0
RATIO_FLOOR_BYTES = 1 << 20  # members (and archives) below 1 MiB uncompressed are never refused for ratio
DEFAULT_MAX_MEMBER_BYTES = 2 * 1024**3
DEFAULT_LOAD_TIME_LIMIT_S = 120.0  # one input (headers + pixels); a 1000-slice series loads in ~10 s
DEFAULT_MAX_VOXELS = 1024 * 1024 * 1024  # 2 GB as int16; a 512²x2000 series is 0.5 G voxels
MAX_FRAMES = 10_000  # NumberOfFrames of one multi-frame file
MAX_BARE_DICOM_BYTES = 256 * 1024**2  # files without the DICM preamble handed to pydicom's force parser

# --------------------------------------------------------------------------------------------- plausibility
# Voxel spacing outside these ranges is not a clinical CT reconstruction (in-plane 0.2-1.0 mm and slices
# 0.5-10 mm are typical; Mourtzakis 2008 measured on 5-10 mm slices); such values are corrupt tags.
IN_PLANE_SPACING_MM = (0.1, 10.0)
SLICE_SPACING_MM = (0.1, 20.0)
MIN_MATRIX_PX = 2  # a 1-pixel-wide slice (e.g. a 1x1x1 image) has no in-plane structure at all
# HU that CT can hold: -1024 (air after rescale) up to 32767 (int16, Siemens/GE extended CT scale reaches
# 30710). Values outside int16 are not attenuation data; they are refused, never wrapped or clipped.
HU_RANGE = (-32768.0, 32767.0)
# Rescale: CT slopes are 1 (sometimes 0.5 or 2) and intercepts -1024/-1000/-8192/0 (DICOM PS3.3 C.11.1.1.2);
# beyond these bounds the header is corrupt and the values would not be HU.
RESCALE_SLOPE_MAX = 1000.0
RESCALE_INTERCEPT_MAX = 65536.0


def _env_float(name: str, default: float) -> float:
    raw = settings.by_env(name).raw()
    if raw is None or raw.strip() == "":
        return default
    try:
        v = float(raw)
    except ValueError:
        raise InputLimitError(f"The setting {name}={raw!r} is not a number. Set it to a positive number.") from None
    if not math.isfinite(v) or v <= 0:
        raise InputLimitError(f"The setting {name}={raw!r} must be a positive number.")
    return v


def max_archive_bytes() -> int:
    """Uncompressed-size limit of one archive: ``SARCO_MAX_ARCHIVE_BYTES`` or 4 GiB."""
    return int(_env_float("SARCO_MAX_ARCHIVE_BYTES", DEFAULT_MAX_ARCHIVE_BYTES))


def max_member_bytes() -> int:
    """Uncompressed-size limit of one archive member (or one gzip stream): ``SARCO_MAX_MEMBER_BYTES`` or 2 GiB."""
    return int(_env_float("SARCO_MAX_MEMBER_BYTES", DEFAULT_MAX_MEMBER_BYTES))


def max_zip_ratio() -> float:
    """Largest accepted compression ratio (uncompressed / compressed): ``SARCO_MAX_ZIP_RATIO`` or 100."""
    return _env_float("SARCO_MAX_ZIP_RATIO", DEFAULT_MAX_ZIP_RATIO)


def max_voxels() -> int:
    """Largest image (voxels) a loader allocates: ``SARCO_MAX_VOXELS`` or 2^30."""
    return int(_env_float("SARCO_MAX_VOXELS", DEFAULT_MAX_VOXELS))


def load_time_limit_s() -> float:
    """Wall-clock budget of one input: ``SARCO_LOAD_TIME_LIMIT_S`` or 120 s."""
    return _env_float("SARCO_LOAD_TIME_LIMIT_S", DEFAULT_LOAD_TIME_LIMIT_S)


def check_ratio(what: str, uncompressed: int, compressed: int, error: type[SarcoError] = InputLimitError) -> None:
    """Refuse ``what`` when it expands more than :func:`max_zip_ratio` times (above :data:`RATIO_FLOOR_BYTES`)."""
    limit = max_zip_ratio()
    if uncompressed > RATIO_FLOOR_BYTES and uncompressed > limit * max(compressed, 1):
        raise error(
            f"{what} expands {uncompressed / max(compressed, 1):.0f} times ({uncompressed / 1e6:.0f} MB from "
            f"{compressed / 1e6:.2f} MB), over the {limit:g}:1 compression-ratio limit: refused as a possible zip "
            "bomb. CT images do not compress that much; if this is a genuine scan, raise SARCO_MAX_ZIP_RATIO."
        )


def check_voxels(shape: tuple[int, ...], what: str = "The image") -> None:
    n = 1
    for s in shape:
        n *= max(int(s), 0)
    limit = max_voxels()
    if n > limit:
        raise InputLimitError(
            f"{what} would hold {n / 1e6:.0f} million voxels {tuple(int(s) for s in shape)}, over the "
            f"{limit / 1e6:.0f} million voxel limit. Load one series (or a cropped volume), or raise "
            "SARCO_MAX_VOXELS."
        )


# ------------------------------------------------------------------------------------------------ deadline
@dataclass(frozen=True)
class Deadline:
    """The end of one input's time budget (``time.monotonic`` seconds) and the budget itself."""

    end_s: float
    budget_s: float
    setting: str

    def check(self, what: str) -> None:
        if time.monotonic() > self.end_s:
            raise InputLimitError(
                f"Loading stopped while {what}: the input took longer than its {self.budget_s:g} s time limit "
                f"({self.setting}). It is probably damaged or far larger than one CT series; check the file, or "
                "raise the limit."
            )


_DEADLINE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar("sarco_io_deadline", default=None)


@contextmanager
def deadline(budget_s: float | None = None, setting: str = "SARCO_LOAD_TIME_LIMIT_S") -> Iterator[Deadline]:
    """Run a load under a time budget; nested calls keep the earlier (outer) deadline when it ends first."""
    budget = load_time_limit_s() if budget_s is None else float(budget_s)
    new = Deadline(end_s=time.monotonic() + budget, budget_s=budget, setting=setting)
    outer = _DEADLINE.get()
    use = outer if outer is not None and outer.end_s <= new.end_s else new
    token = _DEADLINE.set(use)
    try:
        yield use
    finally:
        _DEADLINE.reset(token)


def check_deadline(what: str) -> None:
    """Raise :class:`InputLimitError` when the current input's time budget is spent (no-op outside a load)."""
    d = _DEADLINE.get()
    if d is not None:
        d.check(what)
