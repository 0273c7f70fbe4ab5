"""One DICOM source (a path or a (name, bytes) pair): opening it under the load's time budget, recognising a
DICOM file (with or without the preamble) and reading its header without pixels."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from sarco_core.errors import SarcoError
from sarco_core.io.limits import check_deadline

SourceItem = Path | tuple[str, bytes]


def source_name(src: SourceItem) -> str:
    return src[0] if isinstance(src, tuple) else str(src)


class _DeadlineReader(io.RawIOBase):
    """A read-only file for pydicom that checks the load's time budget every few hundred reads: pydicom parses
    a garbage data set a few bytes per read, so one bad file could otherwise hold a worker for minutes."""

    def __init__(self, fh: Any) -> None:
        super().__init__()
        self._fh = fh
        self._n = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        self._n += 1
        if self._n % 256 == 0:
            check_deadline("parsing a DICOM file")
        return bytes(self._fh.read(-1 if size is None else size))

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._fh.seek(offset, whence))

    def tell(self) -> int:
        return int(self._fh.tell())

    def close(self) -> None:
        self._fh.close()
        super().close()


def open_source(src: SourceItem) -> Any:
    """An in-memory file object for pydicom (paths are read into memory), with the time budget checked."""
    return _DeadlineReader(io.BytesIO(src[1]) if isinstance(src, tuple) else open(src, "rb"))


_EXPECTED_TAGS = ("SOPClassUID", "Modality", "Rows", "ImagePositionPatient", "PixelSpacing", "StudyInstanceUID")
# A DICOM data set without the 128-byte preamble starts with a group 0002 (file meta) or 0008 element
_BARE_FIRST_GROUPS = (0x0002, 0x0008)


def _head(src: SourceItem, n: int = 132) -> bytes:
    if isinstance(src, tuple):
        return src[1][:n]
    with open(src, "rb") as fh:
        return fh.read(n)


def _size(src: SourceItem) -> int:
    return len(src[1]) if isinstance(src, tuple) else Path(src).stat().st_size


def has_preamble(src: SourceItem) -> bool:
    head = _head(src)
    return len(head) >= 132 and head[128:132] == b"DICM"


def looks_like_bare_dicom(src: SourceItem) -> bool:
    """True when a file without preamble starts like a DICOM data set (so pydicom's ``force`` may parse it)."""
    head = _head(src, 8)
    if len(head) < 8:
        return False
    return int.from_bytes(head[:2], "little") in _BARE_FIRST_GROUPS or int.from_bytes(head[:2], "big") in (
        _BARE_FIRST_GROUPS
    )


def read_header(src: SourceItem) -> Dataset | None:
    """Header only (no pixels); None when the file is not DICOM or is unreadable.

    ``force=True`` (parsing without the DICM preamble) is used only for files that start like a DICOM data set
    and are at most :data:`~sarco_core.io.limits.MAX_BARE_DICOM_BYTES`: pydicom's forced parser reads garbage
    a few bytes at a time, which turns a large non-DICOM file into minutes of work."""
    from sarco_core.io.limits import MAX_BARE_DICOM_BYTES

    try:
        if has_preamble(src):
            if int.from_bytes(_head(src, 134)[132:134], "little") != 0x0002:
                return None  # the file meta group must follow DICM; zeros or garbage would parse for minutes
            with open_source(src) as fh:
                ds = pydicom.dcmread(fh, stop_before_pixels=True)
            if len(ds) == 0:
                return ds  # a preamble and file meta only: reported as such by the caller
        else:
            if not looks_like_bare_dicom(src) or _size(src) > MAX_BARE_DICOM_BYTES:
                return None
            with open_source(src) as fh:
                ds = pydicom.dcmread(fh, stop_before_pixels=True, force=True)
    except SarcoError:
        raise
    except (InvalidDicomError, Exception):
        return None
    if not any(t in ds for t in _EXPECTED_TAGS):
        return None
    return ds
