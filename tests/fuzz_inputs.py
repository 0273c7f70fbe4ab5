"""The seeded mutation fuzz of ``io.load`` (issue 17): valid seed inputs (a DICOM series, one slice, NIfTI,
.nii.gz, a zip) mutated byte-wise and tag-wise, deterministic for a seed. Used by ``tests/test_io_hostile.py``
(1000 inputs) and ``benchmarks/fuzz_io.py`` (10 000)."""

from __future__ import annotations

import gzip
import io
import random
import zipfile
from collections.abc import Iterator

from tests.hostile_inputs import ct_nifti, nifti_bytes, series_bytes, zip_bytes


def seeds() -> list[tuple[str, object]]:
    """Valid inputs the fuzz mutates: a DICOM series (in-memory upload), one slice, NIfTI, .nii.gz, a zip."""
    files = series_bytes(n=3)
    return [
        ("dicom_series", files),
        ("dicom_slice", files[0][1]),
        ("nifti", nifti_bytes(ct_nifti())),
        ("nifti_gz", nifti_bytes(ct_nifti(), gz=True)),
        ("zip", zip_bytes(files)),
    ]


def _mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    op = rng.randrange(7)
    if not b:
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 64)))
    if op == 0:  # flip a few bytes
        for _ in range(rng.randrange(1, 9)):
            b[rng.randrange(len(b))] = rng.getrandbits(8)
    elif op == 1:  # truncate
        del b[rng.randrange(len(b)) :]
    elif op == 2:  # insert random bytes
        i = rng.randrange(len(b))
        b[i:i] = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 33)))
    elif op == 3:  # delete a span
        i = rng.randrange(len(b))
        del b[i : i + rng.randrange(1, 65)]
    elif op == 4:  # overwrite a 2/4/8-byte field with an extreme value (lengths, counts, sizes)
        i = rng.randrange(len(b))
        width = rng.choice((2, 4, 8))
        val = rng.choice((0, 1, 2**width * 8 - 1, 2 ** (width * 8 - 1), rng.getrandbits(width * 8)))
        b[i : i + width] = val.to_bytes(width, "little")
    elif op == 5:  # duplicate a span
        i = rng.randrange(len(b))
        b[i:i] = b[i : i + rng.randrange(1, 257)]
    else:  # zero a span
        i = rng.randrange(len(b))
        n = rng.randrange(1, 129)
        b[i : i + n] = bytes(len(b[i : i + n]))
    return bytes(b)


_TAG_VALUES: list[tuple[str, object]] = [
    ("Rows", [16, 16]),
    ("Columns", 0),
    ("SamplesPerPixel", [1, 3]),
    ("SamplesPerPixel", 3),
    ("PixelPaddingValue", [1, 2]),
    ("NumberOfFrames", 100000),
    ("NumberOfFrames", "-3"),
    ("NumberOfFrames", "x"),
    ("RescaleSlope", 0),
    ("RescaleSlope", "NaN"),
    ("RescaleSlope", "inf"),
    ("RescaleIntercept", "1e308"),
    ("PixelSpacing", [1e9, 1e9]),
    ("PixelSpacing", [0, 0]),
    ("PixelSpacing", [1]),
    ("PixelSpacing", "abc"),
    ("ImagePositionPatient", [1e300, 0, 0]),
    ("ImagePositionPatient", ["nan", 0, 0]),
    ("ImageOrientationPatient", [0, 0, 0, 0, 0, 0]),
    ("ImageOrientationPatient", [1, 0, 0, 1, 0, 0]),
    ("BitsAllocated", 8),
    ("BitsAllocated", 32),
    ("BitsStored", 40),
    ("PixelRepresentation", 7),
    ("PhotometricInterpretation", "PALETTE COLOR"),
    ("PhotometricInterpretation", "YBR_FULL"),
    ("Modality", ""),
    ("SOPClassUID", ""),
    ("SeriesInstanceUID", ""),
    ("GantryDetectorTilt", "1e400"),
    ("SliceThickness", "-5"),
    ("RescaleType", "US"),
    ("ImageType", ["DERIVED", "PERFUSION"]),
]


def _mutate_dataset(data: bytes, rng: random.Random) -> bytes:
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(data))
    for _ in range(rng.randrange(1, 3)):
        tag, value = rng.choice(_TAG_VALUES)
        try:
            setattr(ds, tag, value)
        except Exception:
            continue
    buf = io.BytesIO()
    try:
        ds.save_as(buf, enforce_file_format=True)
    except Exception:
        return _mutate_bytes(data, rng)
    return buf.getvalue()


def mutants(n: int, seed: int = 0) -> Iterator[tuple[str, object]]:
    """``n`` mutated inputs (kind, source for ``io.load``), deterministic for a seed."""
    rng = random.Random(seed)
    base = seeds()
    for i in range(n):
        kind, src = base[i % len(base)]
        if isinstance(src, list):
            files = list(src)
            j = rng.randrange(len(files))
            name, data = files[j]
            data = _mutate_dataset(data, rng) if rng.random() < 0.4 else _mutate_bytes(data, rng)
            files[j] = (name, data)
            yield kind, files
        elif kind == "dicom_slice" and rng.random() < 0.4:
            yield kind, _mutate_dataset(src, rng)  # type: ignore[arg-type]
        elif kind == "nifti_gz" and rng.random() < 0.5:
            raw = gzip.decompress(src)  # type: ignore[arg-type]
            yield kind, gzip.compress(_mutate_bytes(raw, rng), compresslevel=1, mtime=0)
        elif kind == "zip" and rng.random() < 0.5:  # mutate a member, keep the container valid
            with zipfile.ZipFile(io.BytesIO(src)) as zf:  # type: ignore[arg-type]
                entries = [(n_, zf.read(n_)) for n_ in zf.namelist()]
            j = rng.randrange(len(entries))
            entries[j] = (entries[j][0], _mutate_bytes(entries[j][1], rng))
            yield kind, zip_bytes(entries, level=1)
        else:
            yield kind, _mutate_bytes(src, rng)  # type: ignore[arg-type]
