"""Hostile and corrupt inputs, generated in code (deterministic, small): the corpus of issue 17 (the mutation
fuzz is in ``tests/fuzz_inputs.py``). Used by ``tests/test_io_hostile.py`` and ``benchmarks/fuzz_io.py``.

Each :class:`Hostile` case writes one input under a folder and names the project error it must raise and a
phrase of the message. Nothing here is committed as binary data.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from sarco_core import errors as E
from sarco_core.io.dicom_write import series_datasets
from sarco_core.volume import Volume

R = C = 16
N = 4


def volume(seed: int = 0, n: int = N, rows: int = R, cols: int = C) -> Volume:
    rng = np.random.default_rng(seed)
    hu = rng.integers(-1000, 1500, size=(n, rows, cols)).astype(np.int16)
    return Volume.from_array(hu=hu, spacing_mm=(2.5, 0.8, 0.8), z0_mm=-40.0)


def ds_bytes(ds: Dataset, *, preamble: bool = True) -> bytes:
    buf = io.BytesIO()
    if preamble:
        ds.save_as(buf, enforce_file_format=True)
    else:
        del ds.file_meta
        ds.save_as(buf, implicit_vr=True, little_endian=True)
    return buf.getvalue()


def series_bytes(
    mutate: Callable[[int, Dataset], None] | None = None, n: int = N, seed: int = 0, rows: int = R, cols: int = C
) -> list[tuple[str, bytes]]:
    from pydicom.uid import generate_uid

    out = []
    tag = f"hostile-{seed}-{n}-{rows}-{cols}"
    study, series, frame = (generate_uid(entropy_srcs=[tag, x]) for x in ("study", "series", "frame"))
    for k, ds in enumerate(series_datasets(volume(seed, n, rows, cols), study_uid=study, series_uid=series)):
        ds.FrameOfReferenceUID = frame  # deterministic UIDs: the same bytes on every run
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[tag, str(k)])
        if mutate is not None:
            mutate(k, ds)
        out.append((f"im{k:03d}.dcm", ds_bytes(ds)))
    return out


def nifti_bytes(data: np.ndarray, affine: np.ndarray | None = None, *, gz: bool = False) -> bytes:
    img = nib.Nifti1Image(data, np.diag([0.8, 0.8, 2.5, 1.0]) if affine is None else affine)
    raw = img.to_bytes()
    return gzip.compress(raw, compresslevel=1, mtime=0) if gz else raw


def zip_bytes(entries: Sequence[tuple[str | zipfile.ZipInfo, bytes]], level: int = 6) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, data in entries:
            if isinstance(name, str):  # a fixed time stamp: the same bytes on every run
                name = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                name.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(name, data)
    return buf.getvalue()


def ct_nifti(dtype: str = "int16") -> np.ndarray:
    return np.transpose(volume().hu, (2, 1, 0)).astype(dtype)


# ------------------------------------------------------------------------------------------------- corpus
Maker = Callable[[Path], Path]


@dataclass(frozen=True)
class Hostile:
    """One hostile input: ``make(folder)`` writes it and returns its path."""

    name: str
    make: Maker
    error: type[E.SarcoError]
    phrase: str
    env: dict[str, str] = field(default_factory=dict)


def _file(name: str, data: bytes) -> Maker:
    def make(folder: Path) -> Path:
        p = folder / name
        p.write_bytes(data)
        return p

    return make


def _lazy_file(name: str, build: Callable[[], bytes]) -> Maker:
    def make(folder: Path) -> Path:
        p = folder / name
        p.write_bytes(build())
        return p

    return make


def _series_dir(build: Callable[[], list[tuple[str, bytes]]]) -> Maker:
    def make(folder: Path) -> Path:
        d = folder / "series"
        d.mkdir()
        for name, data in build():
            (d / name).write_bytes(data)
        return d

    return make


def _set(**tags: object) -> Callable[[int, Dataset], None]:
    def mutate(_k: int, ds: Dataset) -> None:
        for t, v in tags.items():
            setattr(ds, t, v)

    return mutate


def _one(**tags: object) -> Callable[[], bytes]:
    return lambda: series_bytes(_set(**tags), n=1)[0][1]


def _lying_bomb() -> bytes:
    payload = b"\x00" * 3_000_000
    raw = zip_bytes([("a.dcm", payload)])
    return raw.replace(len(payload).to_bytes(4, "little"), (900_000).to_bytes(4, "little"))


def _corrupt_deflate() -> bytes:
    rng = np.random.default_rng(1)
    payload = rng.integers(0, 40, 200_000, dtype=np.uint8).tobytes()
    raw = bytearray(zip_bytes([("a.dcm", payload)]))
    for i in range(200, 260):
        raw[i] ^= 0x5A
    return bytes(raw)


def _symlink_zip() -> bytes:
    info = zipfile.ZipInfo("link.dcm")
    info.create_system = 3
    info.external_attr = 0o120777 << 16
    return zip_bytes([(info, b"/etc/passwd")])


def _encrypted_zip() -> bytes:
    raw = bytearray(zip_bytes([("a.dcm", b"x" * 100)]))
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        i = raw.find(sig)
        off = 6 if sig == b"PK\x03\x04" else 8
        raw[i + off] |= 0x1
    return bytes(raw)


def _mixed_matrix() -> list[tuple[str, bytes]]:
    files = series_bytes(n=5)
    odd = series_bytes(n=5, rows=20, cols=20)
    files[2] = ("im002.dcm", odd[2][1])
    return files


def _mixed_orientation() -> list[tuple[str, bytes]]:
    def tilt(k: int, ds: Dataset) -> None:
        if k == 2:
            ds.ImageOrientationPatient = [0.9848, 0.1736, 0, -0.1736, 0.9848, 0]

    return series_bytes(tilt, n=5)


def _gap() -> list[tuple[str, bytes]]:
    files = series_bytes(n=6)
    del files[3]
    return files


def _dup_position() -> list[tuple[str, bytes]]:
    from pydicom.uid import generate_uid

    def same(k: int, ds: Dataset) -> None:
        if k == 1:
            ds.ImagePositionPatient = list(series_datasets(volume())[0].ImagePositionPatient)
            ds.SOPInstanceUID = generate_uid(entropy_srcs=["dup"])

    return series_bytes(same)


def _legacy_multiframe(n_frames: int = 3) -> bytes:
    vol = volume(n=3)
    dss = series_datasets(vol)
    ds = dss[0]
    ds.NumberOfFrames = n_frames
    ds.PixelData = b"".join(d.PixelData for d in dss)
    return ds_bytes(ds)


def _truncated_header() -> bytes:
    data = series_bytes(n=1)[0][1]
    i = data.find(b"\x28\x00\x10\x00")  # (0028,0010) Rows
    return data[:i]


def _pixels_cut() -> bytes:
    data = series_bytes(n=1)[0][1]
    return data[: len(data) - 100]


def _compressed(uid_name: str, corrupt: bool) -> Callable[[], bytes]:
    def build() -> bytes:
        import pydicom.uid

        ds = series_datasets(volume(n=1, rows=64, cols=64))[0]
        ds.compress(getattr(pydicom.uid, uid_name), generate_instance_uid=False)
        if corrupt:
            from pydicom.encaps import encapsulate, generate_fragments

            frag = bytearray(b"".join(generate_fragments(ds.PixelData)))
            mid = len(frag) // 2
            frag[mid : mid + 64] = bytes(64)
            del frag[len(frag) * 3 // 4 :]
            ds.PixelData = encapsulate([bytes(frag)])
        return ds_bytes(ds)

    return build


def _mpeg() -> bytes:
    from pydicom.encaps import encapsulate
    from pydicom.uid import MPEG2MPML

    ds = series_datasets(volume(n=1))[0]
    ds.file_meta.TransferSyntaxUID = MPEG2MPML
    ds.PixelData = encapsulate([b"\x00\x00\x01\xb3" + b"\x00" * 60])
    ds["PixelData"].VR = "OB"
    return ds_bytes(ds)


def _bad_ts() -> bytes:
    ds = series_datasets(volume(n=1))[0]
    ds.file_meta.TransferSyntaxUID = UID("1.2.3.4.5.6")
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=False, implicit_vr=False, little_endian=True)
    return buf.getvalue()


def _nifti_header_only_huge() -> bytes:
    img = nib.Nifti1Image(np.zeros((2, 2, 2), np.int16), np.diag([0.8, 0.8, 2.5, 1.0]))
    img.header.set_data_shape((4000, 4000, 4000))
    return bytes(img.header.binaryblock) + b"\x00" * 4 + b"\x00" * 1000


def _nifti_affine(aff: np.ndarray) -> Callable[[], bytes]:
    def build() -> bytes:
        img = nib.Nifti1Image(ct_nifti(), None)
        img.header.set_qform(None, code=0)
        img.header["sform_code"] = 1
        img.header["srow_x"], img.header["srow_y"], img.header["srow_z"] = aff[0], aff[1], aff[2]
        return img.to_bytes()

    return build


def _nifti_values(values: float, dtype: str = "float32") -> Callable[[], bytes]:
    def build() -> bytes:
        a = ct_nifti(dtype)
        a.flat[5] = values
        return nifti_bytes(a)

    return build


def _gzip_bomb() -> bytes:
    hdr = nifti_bytes(np.zeros((512, 512, 40), np.int16))  # 20 MB of zeros
    return gzip.compress(hdr, compresslevel=6, mtime=0)


def _corrupt_gzip() -> bytes:
    raw = bytearray(nifti_bytes(ct_nifti(), gz=True))
    for i in range(40, len(raw) - 20, 7):
        raw[i] ^= 0xFF
    return bytes(raw)


def _bare_zeros_after_dicm() -> bytes:
    return b"\x00" * 128 + b"DICM" + b"\x00" * 2_000_000


def _rgb_nifti() -> bytes:
    rgb = np.zeros((16, 16, 4), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    return nib.Nifti1Image(rgb, np.diag([0.8, 0.8, 2.5, 1.0])).to_bytes()


def corpus() -> list[Hostile]:
    """The hostile-input corpus (>= 60 cases), each with its expected error type and message phrase."""
    eye = np.diag([0.8, 0.8, 2.5, 1.0])
    zero_col = eye.copy()
    zero_col[:, 1] = 0
    singular = eye.copy()
    singular[:3, 1] = singular[:3, 0]
    sheared = eye.copy()
    sheared[0, 1] = 0.3
    nan_aff = eye.copy()
    nan_aff[1, 1] = np.nan
    s = series_bytes
    cases = [
        # ---------------------------------------------------------------- archives
        Hostile(
            "zip_zeros_bomb",
            _lazy_file("z.zip", lambda: zip_bytes([("a.dcm", b"\x00" * 8_000_000)])),
            E.ArchiveError,
            "compression-ratio limit",
        ),
        Hostile(
            "zip_total_ratio",
            _lazy_file("t.zip", lambda: zip_bytes([(f"a{i}.dcm", b"\x00" * 900_000) for i in range(6)])),
            E.ArchiveError,
            "The archive expands",
        ),
        Hostile("zip_lying_sizes", _lazy_file("l.zip", _lying_bomb), E.ArchiveError, "zip bomb|could not be unpacked"),
        Hostile("zip_corrupt_deflate", _lazy_file("c.zip", _corrupt_deflate), E.ArchiveError, "could not be unpacked"),
        Hostile(
            "zip_truncated", _lazy_file("tr.zip", lambda: zip_bytes(s())[:300]), E.ArchiveError, "not a readable zip"
        ),
        Hostile("zip_garbage", _file("g.zip", b"PK\x03\x04" + b"\x13" * 500), E.ArchiveError, "not a readable zip"),
        Hostile("zip_empty", _lazy_file("e.zip", lambda: zip_bytes([])), E.ArchiveError, "not a readable zip|empty"),
        Hostile(
            "zip_only_folders",
            _lazy_file("f.zip", lambda: zip_bytes([("d/", b""), ("__MACOSX/x", b"1")])),
            E.ArchiveError,
            "empty",
        ),
        Hostile(
            "zip_traversal",
            _lazy_file("p.zip", lambda: zip_bytes([("../../etc/x.dcm", b"1")])),
            E.ArchiveError,
            "unsafe paths",
        ),
        Hostile(
            "zip_absolute",
            _lazy_file("a.zip", lambda: zip_bytes([("/abs/x.dcm", b"1")])),
            E.ArchiveError,
            "unsafe paths",
        ),
        Hostile("zip_symlink", _lazy_file("s.zip", _symlink_zip), E.ArchiveError, "symbolic links"),
        Hostile("zip_encrypted", _lazy_file("x.zip", _encrypted_zip), E.ArchiveError, "password"),
        Hostile(
            "zip_too_many",
            _lazy_file("m.zip", lambda: zip_bytes([(f"{i}.dcm", b"") for i in range(5001)], 1)),
            E.ArchiveError,
            "at most 5000",
        ),
        Hostile(
            "zip_text_only",
            _lazy_file("txt.zip", lambda: zip_bytes([("a.txt", b"hello"), ("b.txt", b"x")])),
            E.ArchiveError,
            "holds no DICOM images",
        ),
        Hostile(
            "zip_nested_only",
            _lazy_file("n.zip", lambda: zip_bytes([("in.zip", zip_bytes(s()))])),
            E.ArchiveError,
            "only other zip files",
        ),
        Hostile(
            "zip_two_niftis",
            _lazy_file(
                "2n.zip", lambda: zip_bytes([("a.nii", nifti_bytes(ct_nifti())), ("b.nii", nifti_bytes(ct_nifti()))])
            ),
            E.ArchiveError,
            "upload one image",
        ),
        Hostile(
            "zip_over_size_limit",
            _lazy_file("big.zip", lambda: zip_bytes(s())),
            E.ArchiveError,
            "SARCO_MAX_ARCHIVE_BYTES",
            env={"SARCO_MAX_ARCHIVE_BYTES": "1000"},
        ),
        Hostile(
            "zip_member_over_limit",
            _lazy_file("mem.zip", lambda: zip_bytes(s())),
            E.ArchiveError,
            "SARCO_MAX_MEMBER_BYTES",
            env={"SARCO_MAX_MEMBER_BYTES": "1000"},
        ),
        Hostile(
            "zip_bad_dicom_inside",
            _lazy_file("bd.zip", lambda: zip_bytes([("a.dcm", b"\x01" * 400)])),
            E.ArchiveError,
            "none of its 1 file",
        ),
        # ---------------------------------------------------------------- NIfTI
        Hostile("nifti_nan", _lazy_file("nan.nii", _nifti_values(np.nan)), E.ImageValueError, "NaN"),
        Hostile("nifti_inf", _lazy_file("inf.nii", _nifti_values(np.inf)), E.ImageValueError, "infinite"),
        Hostile("nifti_above_int16", _lazy_file("hi.nii", _nifti_values(40000.0)), E.ImageValueError, "beyond"),
        Hostile("nifti_below_int16", _lazy_file("lo.nii", _nifti_values(-40000.0)), E.ImageValueError, "beyond"),
        Hostile(
            "nifti_float64_huge", _lazy_file("h64.nii", _nifti_values(1e300, "float64")), E.ImageValueError, "beyond"
        ),
        Hostile(
            "nifti_complex",
            _lazy_file("c.nii", lambda: nifti_bytes(ct_nifti("complex64"))),
            E.ImageValueError,
            "complex",
        ),
        Hostile("nifti_rgb", _lazy_file("rgb.nii", _rgb_nifti), E.ImageValueError, "RGB"),
        Hostile(
            "nifti_1x1x1",
            _lazy_file("one.nii", lambda: nifti_bytes(np.zeros((1, 1, 1), np.int16))),
            E.ImageValueError,
            "only 1x1x1",
        ),
        Hostile(
            "nifti_line",
            _lazy_file("line.nii", lambda: nifti_bytes(np.zeros((1, 1, 40), np.int16))),
            E.ImageValueError,
            "voxels",
        ),
        Hostile("nifti_zero_column", _lazy_file("zc.nii", _nifti_affine(zero_col)), E.ImageValueError, "zero column"),
        Hostile(
            "nifti_all_zero_affine",
            _lazy_file("az.nii", _nifti_affine(np.zeros((4, 4)))),
            E.ImageValueError,
            "zero column",
        ),
        Hostile("nifti_nan_affine", _lazy_file("na.nii", _nifti_affine(nan_aff)), E.ImageValueError, "NaN"),
        Hostile("nifti_singular_affine", _lazy_file("sg.nii", _nifti_affine(singular)), E.ImageValueError, "singular"),
        Hostile("nifti_sheared_affine", _lazy_file("sh.nii", _nifti_affine(sheared)), E.ImageValueError, "sheared"),
        Hostile(
            "nifti_spacing_huge",
            _lazy_file("sp.nii", lambda: nifti_bytes(ct_nifti(), np.diag([1e9, 1e9, 2.5, 1]))),
            E.ImageValueError,
            "pixel spacing",
        ),
        Hostile(
            "nifti_spacing_tiny",
            _lazy_file("st.nii", lambda: nifti_bytes(ct_nifti(), np.diag([1e-3, 1e-3, 2.5, 1]))),
            E.ImageValueError,
            "pixel spacing",
        ),
        Hostile(
            "nifti_slice_50mm",
            _lazy_file("sl.nii", lambda: nifti_bytes(ct_nifti(), np.diag([0.8, 0.8, 50, 1]))),
            E.ImageValueError,
            "slice spacing",
        ),
        Hostile(
            "nifti_4d",
            _lazy_file("4d.nii", lambda: nifti_bytes(np.zeros((16, 16, 4, 3), np.int16))),
            E.UnreadableFileError,
            "dimensions",
        ),
        Hostile(
            "nifti_truncated",
            _lazy_file("tr.nii", lambda: nifti_bytes(ct_nifti())[:600]),
            E.UnreadableFileError,
            "truncated",
        ),
        Hostile(
            "nifti_header_garbage", _file("gb.nii", b"\x5c\x01" + b"\x07" * 400), E.UnreadableFileError, "as NIfTI"
        ),
        Hostile(
            "nifti_huge_shape", _lazy_file("hs.nii", _nifti_header_only_huge), E.InputLimitError, "million voxel limit"
        ),
        Hostile("nifti_gzip_bomb", _lazy_file("gb.nii.gz", _gzip_bomb), E.InputLimitError, "compression-ratio"),
        Hostile("nifti_gzip_corrupt", _lazy_file("cg.nii.gz", _corrupt_gzip), E.UnreadableFileError, "NIfTI"),
        Hostile(
            "nifti_gzip_truncated",
            _lazy_file("tg.nii.gz", lambda: nifti_bytes(ct_nifti(), gz=True)[:200]),
            E.UnreadableFileError,
            "NIfTI",
        ),
        # ---------------------------------------------------------------- DICOM values
        Hostile("dicom_slope_zero", _lazy_file("s0.dcm", _one(RescaleSlope=0)), E.ImageValueError, "RescaleSlope is 0"),
        Hostile(
            "dicom_slope_nan", _lazy_file("sn.dcm", _one(RescaleSlope="NaN")), E.ImageValueError, "RescaleSlope is"
        ),
        Hostile(
            "dicom_slope_huge", _lazy_file("sh.dcm", _one(RescaleSlope="1e12")), E.ImageValueError, "RescaleSlope is"
        ),
        Hostile(
            "dicom_intercept_huge",
            _lazy_file("ih.dcm", _one(RescaleIntercept="1e15")),
            E.ImageValueError,
            "RescaleIntercept",
        ),
        Hostile(
            "dicom_palette",
            _lazy_file("pal.dcm", _one(PhotometricInterpretation="PALETTE COLOR")),
            E.NotCTError,
            "PALETTE COLOR",
        ),
        Hostile(
            "dicom_rgb",
            _lazy_file("rgb.dcm", _one(SamplesPerPixel=3, PhotometricInterpretation="RGB")),
            E.NotCTError,
            "colour image",
        ),
        Hostile(
            "dicom_spacing_huge",
            _lazy_file("sp.dcm", _one(PixelSpacing=[1e9, 1e9])),
            E.ImageValueError,
            "pixel spacing",
        ),
        Hostile(
            "dicom_spacing_zero",
            _lazy_file("s00.dcm", _one(PixelSpacing=[0, 0])),
            E.MissingGeometryError,
            "PixelSpacing",
        ),
        Hostile(
            "dicom_spacing_negative",
            _lazy_file("sneg.dcm", _one(PixelSpacing=[-0.7, 0.7])),
            E.MissingGeometryError,
            "PixelSpacing",
        ),
        Hostile(
            "dicom_slice_100mm",
            _series_dir(lambda: s(lambda k, ds: setattr(ds, "ImagePositionPatient", [0, 0, 100.0 * k]))),
            E.ImageValueError,
            "slice spacing",
        ),
        Hostile(
            "dicom_rows_multivalued", _lazy_file("rm.dcm", _one(Rows=[16, 16])), E.UnreadableFileError, "corrupt values"
        ),
        Hostile(
            "dicom_spp_multivalued",
            _lazy_file("spp.dcm", _one(SamplesPerPixel=[1, 1])),
            E.UnreadableFileError,
            "corrupt values",
        ),
        Hostile(
            "dicom_huge_matrix",
            _lazy_file("hm.dcm", _one(Rows=65535, Columns=65535)),
            E.InputLimitError,
            "million voxel limit",
        ),
        Hostile(
            "dicom_frames_100000",
            _lazy_file("nf.dcm", lambda: _legacy_multiframe(100_000)),
            E.UnreadableFileError,
            "NumberOfFrames is 100000",
        ),
        Hostile(
            "dicom_multiframe_no_positions",
            _lazy_file("mf.dcm", _legacy_multiframe),
            E.MissingGeometryError,
            "multi-frame file",
        ),
        Hostile(
            "dicom_bad_transfer_syntax",
            _lazy_file("ts.dcm", _bad_ts),
            E.UnreadableFileError,
            "not a DICOM transfer syntax",
        ),
        Hostile(
            "dicom_truncated_header",
            _lazy_file("th.dcm", _truncated_header),
            E.UnreadableFileError,
            "header stops before the image size",
        ),
        Hostile(
            "dicom_preamble_only",
            _file("po.dcm", b"\x00" * 128 + b"DICM"),
            E.UnreadableFileError,
            "could be read as DICOM|only a DICOM preamble",
        ),
        Hostile(
            "dicom_preamble_then_zeros", _lazy_file("pz.dcm", _bare_zeros_after_dicm), E.UnreadableFileError, "DICOM"
        ),
        Hostile("dicom_zeros", _file("z.dcm", b"\x00" * 3000), E.UnreadableFileError, "could be read as DICOM"),
        Hostile("dicom_pixels_cut", _lazy_file("pc.dcm", _pixels_cut), E.UnreadableFileError, "pc.dcm"),
        Hostile("dicom_mpeg", _lazy_file("mp.dcm", _mpeg), E.UnsupportedCompressionError, "MPEG2"),
        Hostile(
            "dicom_j2k_corrupt",
            _lazy_file("j2k.dcm", _compressed("JPEG2000Lossless", corrupt=True)),
            E.UnreadableFileError,
            "j2k.dcm",
        ),
        Hostile(
            "dicom_rle_corrupt",
            _lazy_file("rle.dcm", _compressed("RLELossless", corrupt=True)),
            E.UnreadableFileError,
            "rle.dcm",
        ),
        Hostile(
            "dicom_iop_not_unit",
            _lazy_file("iop.dcm", _one(ImageOrientationPatient=[2, 0, 0, 0, 2, 0])),
            E.MissingGeometryError,
            "invalid ImageOrientationPatient",
        ),
        Hostile("dicom_mr", _lazy_file("mr.dcm", _one(Modality="MR")), E.NotCTError, "MR"),
        Hostile(
            "dicom_localizer",
            _lazy_file("loc.dcm", _one(ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"])),
            E.LocalizerError,
            "localiser",
        ),
        Hostile("dicom_tilt", _lazy_file("tilt.dcm", _one(GantryDetectorTilt=15)), E.GantryTiltError, "gantry tilt"),
        # ---------------------------------------------------------------- DICOM series
        Hostile("series_one_slice_other_matrix", _series_dir(_mixed_matrix), E.IrregularSeriesError, "matrix"),
        Hostile(
            "series_one_slice_other_orientation", _series_dir(_mixed_orientation), E.IrregularSeriesError, "orientation"
        ),
        Hostile("series_gap", _series_dir(_gap), E.IrregularSeriesError, "1 slice missing"),
        Hostile("series_duplicate_position", _series_dir(_dup_position), E.IrregularSeriesError, "same slice position"),
        Hostile("series_empty_folder", _series_dir(list), E.UnreadableFileError, "No files"),
        Hostile("missing_path", lambda folder: folder / "nope.dcm", E.InputNotFoundError, "does not exist"),
    ]
    names = [c.name for c in cases]
    assert len(names) == len(set(names))
    return cases
