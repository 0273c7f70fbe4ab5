"""Dispatch any supported input to the right reader and return one canonical :class:`Volume`."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from sarco_core.errors import InputLimitError, InputNotFoundError, SarcoError, UnreadableFileError
from sarco_core.io.checks import check_volume
from sarco_core.io.limits import deadline, max_archive_bytes
from sarco_core.volume import Volume

log = logging.getLogger(__name__)

NamedBytes = tuple[str, bytes]
Source = Union[str, Path, bytes, Sequence[Union[str, Path]], Sequence[NamedBytes]]


def _is_nifti_name(name: str) -> bool:
    n = name.lower()
    return n.endswith(".nii") or n.endswith(".nii.gz")


def sniff(data: bytes) -> str:
    """'zip' | 'nifti' | 'dicom' | 'unknown' from the first bytes."""
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
        return "zip"
    if data[:2] == b"\x1f\x8b":
        return "nifti"  # gzip: we only accept .nii.gz compressed
    if len(data) >= 348 and data[344:348] in (b"n+1\x00", b"ni1\x00"):
        return "nifti"
    if len(data) >= 132 and data[128:132] == b"DICM":
        return "dicom"
    return "unknown"


class _Lazy:
    """Import reader modules on first use (DICOM readers pull in pydicom and its decoders)."""

    def __getattr__(self, name: str) -> Any:
        return importlib.import_module(f"sarco_core.io.{name}")


if TYPE_CHECKING:  # the readers, typed, for mypy; at run time they are imported on first use
    from sarco_core import io as _io
    from sarco_core.io import archive, dicom, nifti  # noqa: F401 (makes _io.archive/dicom/nifti known to mypy)
else:
    _io = _Lazy()


def load(src: Source, *, require_axial: bool = True) -> Volume:
    """Load CT from a path (folder, .zip, .nii/.nii.gz, DICOM file), raw bytes, a list of paths,
    or a list of ``(name, bytes)`` pairs (browser uploads).

    With ``require_axial`` (default) coronal/sagittal/oblique images are refused with
    :class:`~sarco_core.errors.NotAxialError`; ``sarco info`` passes False to describe any image.
    Every failure is a :class:`~sarco_core.errors.SarcoError`; the loaded values are checked
    (:func:`~sarco_core.io.checks.check_volume`) and the whole load runs under the time budget of
    :func:`~sarco_core.io.limits.load_time_limit_s`.
    """
    try:
        return load_unguarded(src, require_axial=require_axial)
    except SarcoError:
        raise
    except MemoryError:
        raise InputLimitError(
            "The input did not fit in memory while loading. Load one series at a time, or use a machine with "
            "more memory."
        ) from None
    except Exception as exc:  # last resort; the fuzz tests call load_unguarded so such escapes are found
        log.info("loader failure not translated: %s", type(exc).__name__)  # no message: it may name files
        raise UnreadableFileError(
            f"The input could not be read ({type(exc).__name__}); the file is probably corrupt or not a CT image. "
            "Export the series from the PACS again (DICOM, .zip or NIfTI)."
        ) from None


def load_unguarded(src: Source, *, require_axial: bool = True) -> Volume:
    """:func:`load` without its last-resort translation of unexpected errors (for the fuzz tests)."""
    with deadline():
        return check_volume(_dispatch(src, require_axial=require_axial))


def _dispatch(src: Source, *, require_axial: bool) -> Volume:
    if isinstance(src, bytes):
        kind = sniff(src)
        if kind == "zip":
            return _io.archive.load_zip(src, require_axial=require_axial, max_bytes=max_archive_bytes())
        if kind == "nifti":
            return _io.nifti.load_nifti(src)
        return _io.dicom.load_dicom([("upload", src)], require_axial=require_axial)
    if isinstance(src, str | Path):
        p = Path(src)
        if not p.exists():
            raise InputNotFoundError(f"{p} does not exist. Check the path (a DICOM folder, .zip, .dcm or .nii.gz).")
        if p.is_dir():
            return _io.dicom.load_dicom(_io.dicom.list_files(p), require_axial=require_axial)
        if not p.is_file():
            raise UnreadableFileError(
                f"{p} is not a regular file (a pipe, socket or device). Give a DICOM folder, .zip, .dcm or .nii.gz."
            )
        if p.suffix.lower() == ".zip":
            return _io.archive.load_zip(p, require_axial=require_axial, max_bytes=max_archive_bytes())
        if _is_nifti_name(p.name):
            return _io.nifti.load_nifti(p)
        with p.open("rb") as fh:
            head = fh.read(348)
        kind = sniff(head)
        if kind == "zip":
            return _io.archive.load_zip(p, require_axial=require_axial, max_bytes=max_archive_bytes())
        if kind == "nifti":
            return _io.nifti.load_nifti(p)
        return _io.dicom.load_dicom([p], require_axial=require_axial)
    items = list(src)
    if not items:
        raise InputNotFoundError("No files were given. Upload a DICOM series (.zip or .dcm files) or a NIfTI file.")
    if all(isinstance(i, tuple) for i in items):
        named = [(str(t[0]), bytes(t[1])) for t in items if isinstance(t, tuple)]
        if len(named) == 1:
            name, data = named[0]
            if _is_nifti_name(name) or sniff(data) == "nifti":
                return _io.nifti.load_nifti(data)
            if sniff(data) == "zip":
                return _io.archive.load_zip(data, require_axial=require_axial, max_bytes=max_archive_bytes())
        if any(_is_nifti_name(n) or sniff(b) in ("nifti", "zip") for n, b in named):
            raise UnreadableFileError(
                "Upload either one NIfTI file, one .zip, or several DICOM files of one series - not a mix."
            )
        return _io.dicom.load_dicom(named, require_axial=require_axial)
    paths = [Path(i) for i in items]  # type: ignore[arg-type]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise InputNotFoundError(f"These files do not exist: {', '.join(missing[:5])}.")
    if len(paths) == 1:
        return _dispatch(paths[0], require_axial=require_axial)
    return _io.dicom.load_dicom(paths, require_axial=require_axial)


def load_mask(src: str | Path | bytes) -> Volume:
    """Load a mask (NIfTI) in canonical layout; values are kept as labels, not HU-clipped."""
    if isinstance(src, str | Path) and not Path(src).exists():
        raise InputNotFoundError(f"Mask {src} does not exist. Check the path.")
    name = str(src) if not isinstance(src, bytes) else ""
    if isinstance(src, bytes) or _is_nifti_name(name):
        return _io.nifti.load_nifti(src, is_mask=True)
    raise UnreadableFileError(
        f"Masks are read from NIfTI (.nii/.nii.gz); {name} is not one. Export the mask as NIfTI on the image grid."
    )
