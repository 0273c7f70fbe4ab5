"""Write a :class:`Volume` as a valid CT Image Storage series (phantoms, tests, benchmarks) and zip files.

Round trip: ``load_dicom(write_dicom_series(v, folder))`` reproduces ``v.hu``, ``v.spacing_mm`` and ``v.z_mm``.
Pixels are stored as ``HU + 1024`` (RescaleSlope 1, RescaleIntercept -1024), unsigned where every value is
>= -1024 HU, else signed 16-bit.
"""

from __future__ import annotations

import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, JPEG2000Lossless, generate_uid

from sarco_core.volume import Volume

TRANSFER_SYNTAXES = {"explicit-le": ExplicitVRLittleEndian, "jpeg2000-lossless": JPEG2000Lossless}


def _ds_str(v: float) -> str:
    """A DICOM decimal string (at most 16 characters) as precise as fits."""
    for prec in range(12, 0, -1):
        s = f"{v:.{prec}g}"
        if len(s) <= 16:
            return s
    return f"{v:.6g}"


def _pixels(hu: np.ndarray) -> tuple[np.ndarray, int]:
    """Stored values (HU + 1024) and PixelRepresentation."""
    arr = np.asarray(hu)
    if arr.dtype.kind == "f":
        arr = np.round(arr)
    stored = arr.astype(np.int64) + 1024
    if stored.min() >= 0 and stored.max() <= 65535:
        return stored.astype(np.uint16), 0
    if stored.min() >= -32768 and stored.max() <= 32767:
        return stored.astype(np.int16), 1
    raise ValueError(f"HU range {arr.min()}..{arr.max()} does not fit 16-bit DICOM pixels")


def series_datasets(
    volume: Volume,
    *,
    patient_height_m: float | None = None,
    patient_weight_kg: float | None = None,
    patient_sex: str | None = None,
    patient_age_years: int | None = None,
    study_uid: str | None = None,
    series_uid: str | None = None,
    series_description: str = "sarco synthetic CT",
    series_number: int = 1,
    instance_numbers: Sequence[int] | None = None,
) -> list[Dataset]:
    """One CT Image Storage dataset per canonical slice (uncompressed); tests may alter them before saving."""
    aff = np.asarray(volume.affine, dtype=float)
    row_sp = float(np.linalg.norm(aff[:3, 1]))
    col_sp = float(np.linalg.norm(aff[:3, 2]))
    row_cos = aff[:3, 2] / col_sp  # direction of increasing column index
    col_cos = aff[:3, 1] / row_sp  # direction of increasing row index
    stored, pixel_rep = _pixels(volume.hu)
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    frame_uid = generate_uid()
    now = datetime(2000, 1, 1, 12, 0, 0)
    thickness = volume.meta.slice_thickness_mm or volume.spacing_mm.slice
    out = []
    for k in range(volume.n_slices):
        ipp = aff[:3, 3] + k * aff[:3, 0]
        sop_uid = generate_uid()
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = sop_uid
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.Modality = "CT"
        ds.Manufacturer = "sarco synthetic"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
        ds.PatientName = "SYNTHETIC^PHANTOM"
        ds.PatientID = "PHANTOM"
        ds.PatientSex = patient_sex or ""
        if patient_age_years is not None:
            ds.PatientAge = f"{int(patient_age_years):03d}Y"
        if patient_height_m is not None:
            ds.PatientSize = _ds_str(patient_height_m)
        if patient_weight_kg is not None:
            ds.PatientWeight = _ds_str(patient_weight_kg)
        ds.SeriesDescription = series_description
        ds.SeriesNumber = series_number
        ds.InstanceNumber = int(instance_numbers[k]) if instance_numbers is not None else k + 1
        ds.KVP = "120"
        ds.ConvolutionKernel = "STANDARD"
        ds.ImagePositionPatient = [_ds_str(v) for v in ipp]
        ds.ImageOrientationPatient = [_ds_str(v) for v in (*row_cos, *col_cos)]
        ds.PixelSpacing = [_ds_str(row_sp), _ds_str(col_sp)]
        if thickness:
            ds.SliceThickness = _ds_str(thickness)
        ds.SliceLocation = _ds_str(float(volume.z_mm[k]))
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = int(stored.shape[1]), int(stored.shape[2])
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = pixel_rep
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU" if volume.is_hu else "US"
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
        ds.PixelData = np.ascontiguousarray(stored[k]).tobytes()
        out.append(ds)
    return out


def save_dataset(ds: Dataset, path: Path, transfer_syntax: str = "explicit-le") -> Path:
    """Save one dataset, compressing it first for ``jpeg2000-lossless``."""
    if transfer_syntax not in TRANSFER_SYNTAXES:
        raise ValueError(f"transfer_syntax must be one of {sorted(TRANSFER_SYNTAXES)}, not {transfer_syntax!r}")
    if transfer_syntax == "jpeg2000-lossless":
        if min(int(ds.Rows), int(ds.Columns)) < 32:
            raise ValueError(
                f"JPEG 2000 encoding (pylibjpeg-openjpeg, 6 wavelet levels) needs images of at least 32x32 pixels, "
                f"not {ds.Rows}x{ds.Columns}; use transfer_syntax='explicit-le' for smaller images"
            )
        ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg", generate_instance_uid=False)
    ds.save_as(path, enforce_file_format=True)
    return path


def write_dicom_series(
    volume: Volume,
    folder: Path,
    *,
    transfer_syntax: str = "explicit-le",
    shuffle_names: bool = False,
    seed: int = 0,
    patient_height_m: float | None = None,
    patient_weight_kg: float | None = None,
    patient_sex: str | None = None,
    study_uid: str | None = None,
) -> list[Path]:
    """Write ``volume`` as one file per slice in ``folder``; returns the paths in canonical slice order.

    ``shuffle_names`` gives random file names and shuffled InstanceNumbers (loaders must sort by position).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    n = volume.n_slices
    rng = np.random.default_rng(seed)
    numbers = rng.permutation(n) + 1 if shuffle_names else np.arange(n) + 1
    datasets = series_datasets(
        volume,
        patient_height_m=patient_height_m,
        patient_weight_kg=patient_weight_kg,
        patient_sex=patient_sex,
        study_uid=study_uid,
        instance_numbers=[int(x) for x in numbers],
    )
    paths = []
    for k, ds in enumerate(datasets):
        name = f"{rng.integers(0, 2**48):012x}.dcm" if shuffle_names else f"IM{k + 1:05d}.dcm"
        paths.append(save_dataset(ds, folder / name, transfer_syntax))
    return paths


def write_zip(files_or_folder: Path | Sequence[Path], zip_path: Path) -> Path:
    """Zip a folder (paths relative to it) or a list of files (by base name), deflated."""
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(files_or_folder, str | Path) and Path(files_or_folder).is_dir():
        root = Path(files_or_folder)
        entries = [(p, p.relative_to(root).as_posix()) for p in sorted(root.rglob("*")) if p.is_file()]
    else:
        entries = [(Path(p), Path(p).name) for p in files_or_folder]  # type: ignore[union-attr]
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for p, arc in entries:
            zf.write(p, arc)
    return zip_path
