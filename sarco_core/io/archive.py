"""Zip archives (uploads of a whole DICOM folder, or one NIfTI): read safely in memory, never extracted.

Refused with :class:`~sarco_core.errors.ArchiveError`: corrupt or encrypted zips, empty archives or archives
without images, path traversal, symlinks, more than :data:`~sarco_core.io.limits.MAX_MEMBERS` members, an
uncompressed size over ``max_bytes`` or a member over ``SARCO_MAX_MEMBER_BYTES``, and members that expand more
than ``SARCO_MAX_ZIP_RATIO`` times (all checked on the declared sizes and again while streaming, since zip bombs
lie). Limits: :mod:`sarco_core.io.limits`."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from sarco_core.errors import ArchiveError, SarcoError
from sarco_core.io import limits
from sarco_core.io.limits import MAX_MEMBERS
from sarco_core.volume import Volume

_CHUNK = 1 << 20


def _is_ignored(name: str) -> bool:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return any(p == "__MACOSX" or p.startswith(".") for p in parts) or parts[-1].upper() == "DICOMDIR"


def _is_unsafe_path(name: str) -> bool:
    n = name.replace("\\", "/")
    if n.startswith("/") or (len(n) > 1 and n[1] == ":"):
        return True
    return ".." in PurePosixPath(n).parts


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(mode)


def _open(src: str | Path | bytes) -> zipfile.ZipFile:
    label = "The uploaded archive" if isinstance(src, bytes) else f"{src}"
    try:
        return zipfile.ZipFile(io.BytesIO(src) if isinstance(src, bytes) else Path(src))
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        ValueError,
        EOFError,
        struct.error,
        KeyError,
        IndexError,
        OverflowError,
        TypeError,
        NotImplementedError,
        RuntimeError,
        UnicodeDecodeError,
    ) as exc:
        raise ArchiveError(
            f"{label} is not a readable zip file ({exc}); it is probably corrupt or incomplete. "
            "Create the zip again (or upload the DICOM files directly)."
        ) from None


def _check_declared(files: list[zipfile.ZipInfo], max_bytes: int) -> None:
    member_cap = limits.max_member_bytes()
    declared = sum(i.file_size for i in files)
    if declared > max_bytes:
        raise ArchiveError(
            f"The archive would unpack to {declared / 1e9:.2f} GB, over the {max_bytes / 1e9:.2f} GB limit. "
            "Zip only the one CT series you need, or raise the limit with SARCO_MAX_ARCHIVE_BYTES."
        )
    for i in files:
        if i.file_size > member_cap:
            raise ArchiveError(
                f"'{i.filename}' in the archive would unpack to {i.file_size / 1e9:.2f} GB, over the "
                f"{member_cap / 1e9:.2f} GB per-file limit (SARCO_MAX_MEMBER_BYTES). Zip the DICOM files of one "
                "series, or raise the limit."
            )
        limits.check_ratio(f"'{i.filename}' in the archive", i.file_size, i.compress_size, ArchiveError)
    limits.check_ratio("The archive", declared, sum(i.compress_size for i in files), ArchiveError)


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: list[int], max_bytes: int) -> bytes:
    """Stream one member against the running byte budget (``budget[0]`` = bytes read so far), its declared
    size and the ratio limit: zip bombs lie about their sizes."""
    buf = io.BytesIO()
    try:
        with zf.open(info) as fh:
            while True:
                limits.check_deadline(f"unpacking '{info.filename}'")
                chunk = fh.read(_CHUNK)
                if not chunk:
                    break
                budget[0] += len(chunk)
                if budget[0] > max_bytes or buf.tell() + len(chunk) > info.file_size:
                    raise ArchiveError(
                        f"The archive unpacks to more data than it declares ('{info.filename}'), over the "
                        f"{max_bytes / 1e9:.2f} GB limit or its stated size: refused as a possible zip "
                        "bomb. Create the zip again from the original files."
                    )
                buf.write(chunk)
                limits.check_ratio(f"'{info.filename}' in the archive", buf.tell(), info.compress_size, ArchiveError)
    except SarcoError:
        raise
    except (
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        EOFError,
        ValueError,
        NotImplementedError,
        RuntimeError,
        OverflowError,
        TypeError,
        IndexError,
        KeyError,
        struct.error,
    ) as exc:
        raise ArchiveError(
            f"'{info.filename}' in the archive could not be unpacked ({type(exc).__name__}: {exc}); the zip is "
            "corrupt or uses an unsupported compression method. Create the zip again (standard deflate)."
        ) from None
    return buf.getvalue()


def read_members(src: str | Path | bytes, *, max_bytes: int) -> list[tuple[str, bytes]]:
    """The archive's image candidates as ``(name, bytes)``, after every safety check."""
    with _open(src) as zf:
        infos = zf.infolist()
        files = [i for i in infos if not i.is_dir() and not _is_ignored(i.filename)]
        if len(files) > MAX_MEMBERS:
            raise ArchiveError(
                f"The archive holds {len(files)} files; at most {MAX_MEMBERS} are accepted. Zip only the one CT "
                "series you want to analyse (or split the study into one zip per series)."
            )
        bad = [i.filename for i in infos if _is_unsafe_path(i.filename)]
        if bad:
            raise ArchiveError(
                f"The archive contains unsafe paths that point outside it (e.g. '{bad[0]}'), so it was refused. "
                "Create the zip again from the DICOM folder itself (plain relative paths)."
            )
        links = [i.filename for i in infos if _is_symlink(i)]
        if links:
            raise ArchiveError(
                f"The archive contains symbolic links (e.g. '{links[0]}'), which are refused for safety. "
                "Zip the real files (e.g. `zip -r` without --symlinks)."
            )
        if any(i.flag_bits & 0x1 for i in files):
            raise ArchiveError("The archive is password-protected. Zip the series again without a password.")
        if not files:
            raise ArchiveError(
                "The archive is empty (no files besides folders or hidden/system files). Zip the folder that "
                "holds the DICOM files (or the .nii.gz file)."
            )
        _check_declared(files, max_bytes)
        budget = [0]
        return [(info.filename, _read_member(zf, info, budget, max_bytes)) for info in files]


def _is_nifti(name: str) -> bool:
    n = name.lower()
    return n.endswith(".nii") or n.endswith(".nii.gz")


def load_zip(src: str | Path | bytes, *, require_axial: bool = True, max_bytes: int | None = None) -> Volume:
    """Load the CT inside a zip: a DICOM series (chosen as in :func:`~sarco_core.io.dicom.load_dicom`) or a
    single NIfTI file."""
    from sarco_core.io import dicom, nifti
    from sarco_core.io.limits import max_archive_bytes

    members = read_members(src, max_bytes=max_archive_bytes() if max_bytes is None else max_bytes)
    niftis = [(n, b) for n, b in members if _is_nifti(n)]
    nested = [n for n, b in members if n.lower().endswith(".zip")]
    others = [(n, b) for n, b in members if not _is_nifti(n) and not n.lower().endswith(".zip")]
    extra: list[str] = []
    if nested:
        extra.append(f"{len(nested)} zip file(s) inside the archive were ignored (e.g. {nested[0]}); unzip them first.")
    if niftis and not others:
        if len(niftis) > 1:
            raise ArchiveError(
                f"The archive holds {len(niftis)} NIfTI files ({', '.join(n for n, _ in niftis[:3])}); "
                "upload one image at a time."
            )
        vol = nifti.load_nifti(niftis[0][1])
        return _with_warnings(vol, extra)
    if niftis:
        extra.append(f"{len(niftis)} NIfTI file(s) in the archive were ignored; the DICOM images were loaded.")
    if not others:
        raise ArchiveError(
            "The archive holds no DICOM or NIfTI images"
            + (" (only other zip files)" if nested else "")
            + ". Zip the folder that holds the CT's DICOM files."
        )
    try:
        vol = dicom.load_dicom(others, require_axial=require_axial)
    except dicom.NoDicomFoundError:
        raise ArchiveError(
            f"The archive holds no DICOM images: none of its {len(others)} file(s) could be read as DICOM "
            f"(e.g. '{others[0][0]}'). "
            "Zip the folder that holds the CT's DICOM files."
        ) from None
    return _with_warnings(vol, extra)


def _with_warnings(vol: Volume, extra: list[str]) -> Volume:
    if not extra:
        return vol
    from dataclasses import replace

    return replace(vol, warnings=tuple(vol.warnings) + tuple(extra))
