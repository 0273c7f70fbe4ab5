"""Zip archives: loading a series or one NIfTI from memory, and every refusal (unsafe, empty, too big)."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from sarco_core.errors import ArchiveError
from sarco_core.io import load
from sarco_core.io.archive import MAX_MEMBERS, load_zip
from sarco_core.io.dicom_write import write_dicom_series, write_zip
from sarco_core.volume import Volume


@pytest.fixture(scope="module")
def series(tmp_path_factory) -> tuple[Volume, Path]:
    rng = np.random.default_rng(1)
    vol = Volume.from_array(
        hu=rng.integers(-1024, 1200, size=(4, 16, 12)).astype(np.int16), spacing_mm=(3.0, 0.8, 0.6), z0_mm=12.0
    )
    folder = tmp_path_factory.mktemp("series")
    write_dicom_series(vol, folder)
    return vol, folder


def _zip(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def _members(folder: Path, prefix: str = "") -> list[tuple[str | zipfile.ZipInfo, bytes]]:
    return [(prefix + p.name, p.read_bytes()) for p in sorted(folder.glob("*.dcm"))]


def test_zip_path_and_bytes_load_the_series(series, tmp_path):
    vol, folder = series
    zpath = write_zip(folder, tmp_path / "s.zip")
    for src in (zpath, zpath.read_bytes()):
        out = load(src)
        np.testing.assert_array_equal(out.hu, vol.hu)
        np.testing.assert_allclose(out.z_mm, vol.z_mm)


def test_macos_and_hidden_members_ignored(series):
    vol, folder = series
    data = _zip(
        _members(folder, "study/")
        + [("__MACOSX/study/._IM00001.dcm", b"\x00\x05\x16\x07junk"), ("study/.DS_Store", b"junk"), ("study/", b"")]
    )
    out = load_zip(data, max_bytes=10**9)
    np.testing.assert_array_equal(out.hu, vol.hu)
    assert not any("not readable" in w for w in out.warnings)


def test_empty_archive_and_no_images_refused():
    with pytest.raises(ArchiveError, match="empty"):
        load(_zip([]))
    with pytest.raises(ArchiveError, match="empty"):
        load(_zip([("folder/", b""), ("__MACOSX/._x", b"x")]))
    with pytest.raises(ArchiveError, match="no DICOM"):
        load(_zip([("readme.txt", b"hello"), ("notes.pdf", b"%PDF-1.4")]))


@pytest.mark.parametrize("bad", ["../evil.dcm", "a/../../evil.dcm", "/etc/evil.dcm", "..\\evil.dcm", "C:/x.dcm"])
def test_path_traversal_refused(series, bad):
    _, folder = series
    with pytest.raises(ArchiveError, match="unsafe paths"):
        load(_zip(_members(folder) + [(bad, b"x")]))


def test_symlink_member_refused(series):
    _, folder = series
    link = zipfile.ZipInfo("link.dcm")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(ArchiveError, match="symbolic links"):
        load(_zip(_members(folder) + [(link, b"/etc/passwd")]))


def test_too_many_members_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for i in range(MAX_MEMBERS + 1):
            zf.writestr(f"f{i}", b"")
    with pytest.raises(ArchiveError, match=f"{MAX_MEMBERS + 1} files"):
        load(buf.getvalue())


def test_size_limit_from_argument_and_environment(series, tmp_path, monkeypatch):
    vol, folder = series
    data = _zip(_members(folder))
    with pytest.raises(ArchiveError, match="limit"):
        load_zip(data, max_bytes=1000)
    monkeypatch.setenv("SARCO_MAX_ARCHIVE_BYTES", "1000")
    with pytest.raises(ArchiveError, match="SARCO_MAX_ARCHIVE_BYTES"):
        load(data)
    monkeypatch.setenv("SARCO_MAX_ARCHIVE_BYTES", str(10**8))
    assert load(data).shape == vol.shape


def test_lying_zip_bomb_refused():
    """A member that declares 1 kB but inflates to 1 MB is refused while reading."""
    payload = b"\x00" * 1_000_000
    raw = bytearray(_zip([("a.dcm", payload)]))
    real = len(payload).to_bytes(4, "little")
    fake = (1000).to_bytes(4, "little")
    assert raw.count(real) == 2  # local header and central directory
    raw = bytearray(bytes(raw).replace(real, fake))
    with pytest.raises(ArchiveError):
        load_zip(bytes(raw), max_bytes=10**9)


def test_corrupt_and_encrypted_zip_refused(series):
    _, folder = series
    with pytest.raises(ArchiveError, match="not a readable zip"):
        load(b"PK\x03\x04" + b"\x13" * 500)
    raw = bytearray(_zip([("x.dcm", b"secret")]))
    local, central = raw.find(b"PK\x03\x04"), raw.find(b"PK\x01\x02")
    raw[local + 6] |= 0x1  # "encrypted" bit of the general purpose flags
    raw[central + 8] |= 0x1
    with pytest.raises(ArchiveError, match="password"):
        load(bytes(raw))


def test_zip_with_one_nifti_loads_as_nifti(tmp_path):
    arr = np.arange(4 * 5 * 3, dtype=np.int16).reshape(4, 5, 3) - 50
    nib.save(nib.Nifti1Image(arr, np.diag([0.8, 0.8, 2.5, 1.0])), tmp_path / "ct.nii.gz")
    vol = load(_zip([("ct.nii.gz", (tmp_path / "ct.nii.gz").read_bytes())]))
    assert vol.meta.kind == "nifti" and vol.shape == (3, 5, 4)
    assert vol.spacing_mm.slice == pytest.approx(2.5)
    with pytest.raises(ArchiveError, match="2 NIfTI files"):
        load(_zip([("a.nii.gz", b"x"), ("b.nii", b"y")]))
