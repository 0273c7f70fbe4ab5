"""DICOM-SEG export of a measured-slice mask (highdicom), referencing the original CT series.

The original files are not kept, so minimal source datasets are rebuilt from the stored metadata (UIDs, the
file's own pixel order and geometry); the SEG frame uses the source image's pixel grid and references its SOP
Instance UID. Patient name, ID and birth date are never stored, so the SEG carries them empty: match it to
the study by Study/Series Instance UID.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import CTImageStorage, generate_uid

from sarco_core import __version__
from sarco_core.errors import SarcoError
from sarco_core.export.files import deliver
from sarco_core.volume import Volume


class ExportError(SarcoError):
    """An export is not possible for this case (e.g. DICOM-SEG of a non-DICOM input)."""


@dataclass(frozen=True)
class SegmentSpec:
    label: int
    name: str
    category: Code
    type: Code
    region: Code | None
    rgb: tuple[int, int, int]


SEGMENTS = (
    SegmentSpec(1, "Skeletal muscle", codes.SCT.Tissue, codes.SCT.SkeletalMuscle, None, (220, 40, 40)),
    SegmentSpec(
        2,
        "Subcutaneous adipose tissue (SAT)",
        codes.SCT.Tissue,
        codes.SCT.Fat,
        codes.SCT.SubcutaneousTissue,
        (240, 220, 40),
    ),
    SegmentSpec(
        3,
        "Visceral adipose tissue (VAT)",
        codes.SCT.Tissue,
        codes.SCT.Fat,
        codes.SCT.AbdominalCavityStructure,
        (40, 220, 230),
    ),
)


def source_affine(volume: Volume) -> np.ndarray:
    """(i, j, l) of the file's own voxel order -> LPS mm (inverse of the loader's reorientation)."""
    ac = np.asarray(volume.affine, dtype=float)
    a_s = np.zeros((4, 4))
    a_s[3, 3] = 1.0
    a_s[:3, 3] = ac[:3, 3]
    shape = volume.shape
    for j in range(3):
        col = ac[:3, j]
        if volume.source_flips[j]:
            a_s[:3, 3] += col * (shape[j] - 1)
            col = -col
        a_s[:3, volume.source_axes[j]] = col
    return a_s


def _check_dicom(volume: Volume) -> None:
    m = volume.meta
    if not m.kind.startswith("dicom"):
        raise ExportError(
            f"DICOM-SEG needs a DICOM input to reference; this case came from {m.kind}. Export the mask as NIfTI."
        )
    if m.kind == "dicom-multiframe":
        raise ExportError(
            "DICOM-SEG export supports single-frame CT series; this case is an enhanced multi-frame image. "
            "Export the mask as NIfTI."
        )
    missing = [
        n
        for n, v in (("Study", m.study_uid), ("Series", m.series_uid), ("Frame of Reference", m.frame_of_reference_uid))
        if not v
    ]
    if len(m.sop_uids) != volume.n_slices or not all(m.sop_uids):
        missing.append("SOP Instance")
    if missing or volume.source_axes[0] != 0:
        raise ExportError(
            f"The source series lacks {', '.join(missing) or 'an axial slice order'} UIDs, so a DICOM-SEG "
            "cannot reference it. Export the mask as NIfTI instead."
        )


def source_datasets(volume: Volume, indices: list[int]) -> list[Dataset]:
    """Minimal CT image datasets (no pixel data) for the given canonical slices, in the file's pixel order."""
    _check_dicom(volume)
    m = volume.meta
    a_s = source_affine(volume)
    row_sp, col_sp = float(np.linalg.norm(a_s[:3, 1])), float(np.linalg.norm(a_s[:3, 2]))
    iop = [*(a_s[:3, 2] / col_sp), *(a_s[:3, 1] / row_sp)]
    n = volume.n_slices
    src_shape = tuple(volume.shape[volume.source_axes.index(i)] for i in range(3))
    out = []
    for k in indices:
        i = n - 1 - k if volume.source_flips[0] else k
        ds = Dataset()
        ds.SOPClassUID = m.sop_class_uid or CTImageStorage
        ds.SOPInstanceUID = m.sop_uids[k]
        ds.StudyInstanceUID = m.study_uid
        ds.SeriesInstanceUID = m.series_uid
        ds.FrameOfReferenceUID = m.frame_of_reference_uid
        ds.Modality = "CT"
        ds.PatientName = ""
        ds.PatientID = ""
        ds.PatientBirthDate = ""
        ds.PatientSex = m.patient_sex or ""
        ds.StudyDate = ds.StudyTime = ds.StudyID = ds.AccessionNumber = ds.ReferringPhysicianName = ""
        ds.Rows, ds.Columns = int(src_shape[1]), int(src_shape[2])
        ds.ImagePositionPatient = [float(v) for v in a_s[:3, 3] + i * a_s[:3, 0]]
        ds.ImageOrientationPatient = [float(v) for v in iop]
        ds.PixelSpacing = [row_sp, col_sp]
        ds.SliceThickness = float(m.slice_thickness_mm or volume.spacing_mm.slice or 1.0)
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        out.append(ds)
    return out


def canonical_to_source_2d(volume: Volume, arr2d: np.ndarray) -> np.ndarray:
    """A canonical-layout slice in the source image's pixel order."""
    a = np.asarray(arr2d)
    if volume.source_flips[1]:
        a = a[::-1, :]
    if volume.source_flips[2]:
        a = a[:, ::-1]
    if volume.source_axes[1] == 2:  # rows and columns were swapped by the reorientation
        a = a.T
    return np.ascontiguousarray(a)


def source_to_canonical_2d(volume: Volume, arr2d: np.ndarray) -> np.ndarray:
    a = np.asarray(arr2d)
    if volume.source_axes[1] == 2:
        a = a.T
    if volume.source_flips[2]:
        a = a[:, ::-1]
    if volume.source_flips[1]:
        a = a[::-1, :]
    return np.ascontiguousarray(a)


def mask_to_dicom_seg(
    volume: Volume,
    labels2d: np.ndarray,
    slice_index: int,
    path: str | Path | None = None,
    *,
    series_description: str = "Sarco L3 body composition",
    series_number: int = 901,
    author: str = "",
    algorithm: str = "sarco",
) -> bytes:
    """Write a binary DICOM-SEG (one segment per label present) of one slice; returns the file bytes."""
    import highdicom as hd

    _check_dicom(volume)
    lab = np.asarray(labels2d)
    if lab.shape != volume.shape[1:]:
        raise ExportError(f"The mask's shape {lab.shape} differs from the image slice's {volume.shape[1:]}.")
    if not 0 <= slice_index < volume.n_slices:
        raise ExportError(f"Slice {slice_index} is outside 0..{volume.n_slices - 1}.")
    present = [s for s in SEGMENTS if np.any(lab == s.label)]
    if not present:
        raise ExportError("The mask is empty; there is nothing to export as DICOM-SEG.")
    src = source_datasets(volume, [slice_index])
    src_lab = canonical_to_source_2d(volume, lab)
    pixels = np.zeros((1, *src_lab.shape, len(present)), dtype=bool)
    algo = hd.AlgorithmIdentificationSequence(
        name=algorithm, version=__version__, family=codes.cid7162.ArtificialIntelligence
    )
    descs = []
    for n, s in enumerate(present, start=1):
        pixels[0, :, :, n - 1] = src_lab == s.label
        descs.append(
            hd.seg.SegmentDescription(
                segment_number=n,
                segment_label=s.name,
                segmented_property_category=s.category,
                segmented_property_type=s.type,
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
                algorithm_identification=algo,
                anatomic_regions=[s.region] if s.region is not None else None,
            )
        )
    seg = hd.seg.Segmentation(
        source_images=src,
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descs,
        series_instance_uid=generate_uid(),
        series_number=series_number,
        sop_instance_uid=generate_uid(),
        instance_number=1,
        manufacturer="sarco",
        manufacturer_model_name="sarco",
        software_versions=__version__,
        device_serial_number="0",
        series_description=series_description,
        content_creator_name=(author if "^" in author else author + "^") if author else None,
        omit_empty_frames=False,
    )
    buf = io.BytesIO()
    seg.save_as(buf)
    return deliver(buf.getvalue(), path)
