"""Read a researcher's manual mask (NIfTI on the image grid, or DICOM-SEG of the same series) as canonical labels."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from sarco_core.errors import GridMismatchError, InvalidMaskError, UnreadableFileError
from sarco_core.export.dicom_seg import ExportError, source_to_canonical_2d
from sarco_core.metrics import check_same_grid, mask_kind
from sarco_core.volume import Volume

MUSCLE_CODES = {"127954009", "91727004", "71616004"}  # skeletal muscle, muscle structure, skeletal muscle tissue
SAT_CODES = {"71966008"}  # subcutaneous tissue (anatomic region of a "Fat" segment)
VAT_CODES = {"52731004", "83670000"}  # abdominal cavity, peritoneal cavity
VAT_WORDS = ("visceral", "intra-abdominal", "intraabdominal", "abdominal cavity", "peritoneal")


def _is_dicom(data: bytes) -> bool:
    return len(data) >= 132 and data[128:132] == b"DICM"


def read_manual_mask(src: str | Path | bytes, volume: Volume) -> np.ndarray:
    """A uint8 label map (0/1 muscle, 2 SAT, 3 VAT) on ``volume``'s canonical grid, from NIfTI or DICOM-SEG."""
    data = src if isinstance(src, bytes) else Path(src).read_bytes()
    if _is_dicom(data):
        return _read_seg(data, volume)
    from sarco_core.io.nifti import load_nifti

    name = "" if isinstance(src, bytes) else Path(src).name.lower()
    if not (data[:2] == b"\x1f\x8b" or name.endswith((".nii", ".nii.gz")) or data[344:348] in (b"n+1\x00", b"ni1\x00")):
        raise UnreadableFileError(
            "The manual mask is neither NIfTI (.nii/.nii.gz) nor DICOM-SEG. Export it in one of these formats."
        )
    mv = load_nifti(data, is_mask=True)
    check_same_grid(volume, mv)
    arr = np.asarray(mv.hu)
    mask_kind(arr)  # refuses values other than 0-3
    return arr.astype(np.uint8)


def _segment_label(desc: object, n_segments: int) -> int:
    """Our label (1 muscle, 2 SAT, 3 VAT) for one SEG segment, from its codes and names."""
    codes_seen: set[str] = set()
    words = str(getattr(desc, "SegmentLabel", "")).lower()
    for seq in ("SegmentedPropertyTypeCodeSequence", "AnatomicRegionSequence"):
        for item in getattr(desc, seq, []) or []:
            codes_seen.add(str(item.CodeValue))
            words += " " + str(getattr(item, "CodeMeaning", "")).lower()
    tokens = set(words.replace("(", " ").replace(")", " ").replace("_", " ").split())
    if codes_seen & MUSCLE_CODES or "muscle" in words:
        return 1
    if codes_seen & SAT_CODES or "subcutaneous" in words or "sat" in tokens:
        return 2
    if codes_seen & VAT_CODES or any(w in words for w in VAT_WORDS) or "vat" in tokens:
        return 3
    if n_segments == 1:
        return 1  # a single unnamed segment is taken as muscle (binary-mask convention)
    raise InvalidMaskError(
        f"Cannot tell which tissue DICOM-SEG segment {getattr(desc, 'SegmentNumber', '?')} "
        f"('{getattr(desc, 'SegmentLabel', '')}') is; name the segments skeletal muscle, subcutaneous fat or "
        "visceral fat."
    )


def _read_seg(data: bytes, volume: Volume) -> np.ndarray:
    import highdicom as hd

    try:
        seg = hd.seg.segread(io.BytesIO(data))
    except Exception as exc:
        raise UnreadableFileError(f"The DICOM file is not a readable DICOM-SEG ({exc}).") from None
    if volume.meta.frame_of_reference_uid and seg.FrameOfReferenceUID != volume.meta.frame_of_reference_uid:
        raise GridMismatchError(
            "The DICOM-SEG belongs to another frame of reference than this case's image; import the SEG made "
            "for this series."
        )
    seg_labels = {int(d.SegmentNumber): _segment_label(d, len(seg.SegmentSequence)) for d in seg.SegmentSequence}
    frames = np.asarray(seg.pixel_array)
    if frames.ndim == 2:
        frames = frames[None]
    if seg.SegmentationType == "FRACTIONAL":
        frames = frames >= (int(seg.MaximumFractionalValue) / 2.0)
    out = np.zeros(volume.shape, np.uint8)
    sop_index = {u: k for k, u in enumerate(volume.meta.sop_uids) if u}
    normal = np.asarray(volume.affine, float)[:3, 0] / np.linalg.norm(np.asarray(volume.affine)[:3, 0])
    normal = -normal if normal[2] < 0 else normal  # the same convention as Volume.z_mm
    shared = (getattr(seg, "SharedFunctionalGroupsSequence", None) or [Dataset()])[0]
    for f, item in enumerate(seg.PerFrameFunctionalGroupsSequence):
        ident = getattr(item, "SegmentIdentificationSequence", None) or shared.SegmentIdentificationSequence
        num = int(ident[0].ReferencedSegmentNumber)
        k = _frame_slice(item, shared, sop_index, volume, normal)
        plane = source_to_canonical_2d(volume, frames[f] != 0)
        if plane.shape != volume.shape[1:]:
            raise GridMismatchError(
                f"The DICOM-SEG frames are {plane.shape} pixels but the image slices are {volume.shape[1:]}."
            )
        out[k][plane] = seg_labels[num]
    return out


def _frame_slice(item: Dataset, shared: Dataset, sop_index: dict[str, int], volume: Volume, normal: np.ndarray) -> int:
    """Canonical slice of one SEG frame: by the referenced SOP Instance UID, else by its position."""
    derivation = getattr(item, "DerivationImageSequence", None) or getattr(shared, "DerivationImageSequence", None)
    for der in derivation or []:
        for s in getattr(der, "SourceImageSequence", []) or []:
            uid = str(s.ReferencedSOPInstanceUID)
            if uid in sop_index:
                return sop_index[uid]
    pos = getattr(item, "PlanePositionSequence", None) or getattr(shared, "PlanePositionSequence", None)
    if pos:
        z = float(np.dot(np.asarray(pos[0].ImagePositionPatient, float), normal))
        k = int(np.argmin(np.abs(volume.z_mm - z)))
        if abs(volume.z_mm[k] - z) <= 0.5 * (volume.spacing_mm.slice or 1.0):
            return k
    raise ExportError(
        "A DICOM-SEG frame references an image that is not in this case's series (neither its SOP Instance UID "
        "nor its position matches); import the SEG made for this series."
    )
