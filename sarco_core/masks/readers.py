"""Read one expert mask (TAG, NIfTI, DICOM-SEG or PNG) onto one slice of its CT: :func:`import_mask`."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from sarco_core.errors import GridMismatchError, InvalidMaskError, UnreadableFileError
from sarco_core.export.dicom_seg import source_affine, source_to_canonical_2d
from sarco_core.masks import align
from sarco_core.masks.records import ImportedMask, MaskFormat, ValueMap
from sarco_core.masks.tag import read_tag
from sarco_core.metrics import mask_kind
from sarco_core.volume import Volume

MaskSource = str | Path | bytes


def _bytes(src: MaskSource) -> bytes:
    if isinstance(src, bytes):
        return src
    p = Path(src)
    if not p.is_file():
        raise UnreadableFileError(f"The mask file {p} does not exist. Check the path (relative to the manifest).")
    return p.read_bytes()


def _name(src: MaskSource, name: str) -> str:
    return name or ("uploaded mask" if isinstance(src, bytes) else Path(src).name)


def detect_format(src: MaskSource, name: str = "") -> MaskFormat:
    """The format from the name, else from the first bytes; refuses what it cannot tell."""
    fmt = MaskFormat.from_name(_name(src, name))
    if fmt is not None and fmt is not MaskFormat.DICOM_SEG:
        return fmt
    head = _bytes(src)[:512]
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return MaskFormat.PNG
    if len(head) >= 132 and head[128:132] == b"DICM":
        return MaskFormat.DICOM_SEG
    if head[:2] == b"\x1f\x8b" or (len(head) >= 348 and head[344:348] in (b"n+1\x00", b"ni1\x00")):
        return MaskFormat.NIFTI
    if b"\x0c" in head and b"x:" in head.lower():
        return MaskFormat.TAG
    raise UnreadableFileError(
        f"Cannot tell the format of {_name(src, name)}: it is not a Slice-O-Matic .tag, NIfTI, DICOM-SEG or PNG "
        "file. Name its format (manifest column 'format' or --format)."
    )


def source_slice_geometry(ct: Volume, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(top-left pixel centre, row direction, column direction) of canonical slice ``k`` in the file's pixel
    order (DICOM ImagePositionPatient / ImageOrientationPatient), LPS mm."""
    a_s = source_affine(ct)
    i = ct.n_slices - 1 - k if ct.source_flips[0] else k
    pos = a_s[:3, 3] + i * a_s[:3, 0]
    return pos, a_s[:3, 2] / np.linalg.norm(a_s[:3, 2]), a_s[:3, 1] / np.linalg.norm(a_s[:3, 1])


def _source_shape(ct: Volume) -> tuple[int, int]:
    return (ct.shape[2], ct.shape[1]) if ct.source_axes[1] == 2 else (ct.shape[1], ct.shape[2])


def _single_slice(ct: Volume, requested: int | None, what: str) -> int:
    if requested is not None:
        if not 0 <= requested < ct.n_slices:
            raise InvalidMaskError(f"Slice {requested} is outside the CT's slices 0..{ct.n_slices - 1}.")
        return requested
    if ct.n_slices == 1:
        return 0
    raise InvalidMaskError(
        f"{what} carries no slice position and the CT has {ct.n_slices} slices; give the traced slice "
        "(manifest column 'slice' or --slice; 0 = most inferior), or import the mask with its one DICOM file."
    )


def _read_tag(
    ct: Volume, data: bytes, what: str, slice_index: int | None, value_map: ValueMap
) -> tuple[np.ndarray, int, list[str]]:
    tag = read_tag(data, name=what)
    h = tag.header
    if not ct.meta.kind.startswith("dicom") or ct.source_axes[0] != 0:
        raise InvalidMaskError(
            f"{what} is a Slice-O-Matic TAG, which belongs to a DICOM slice; its CT here is {ct.meta.kind}. "
            "Import it with the DICOM file it was traced on."
        )
    if h.n_images != 1:
        raise InvalidMaskError(
            f"{what} holds {h.n_images} images; import one TAG per traced DICOM slice (X.dcm.tag beside X.dcm)."
        )
    k = _single_slice(ct, slice_index, what)
    src_rows, src_cols = _source_shape(ct)
    if (h.rows, h.cols) != (src_rows, src_cols):
        raise GridMismatchError(
            f"{what} is {h.rows} x {h.cols} pixels (header y x x) but its DICOM slice is {src_rows} x {src_cols} "
            "(Rows x Columns): it belongs to another image. Check that the TAG is matched to the DICOM it was "
            "traced on (X.dcm.tag beside X.dcm, or the manifest)."
        )
    a_s = source_affine(ct)
    align.check_spacing(
        ct,
        h.row_spacing_mm if ct.source_axes[1] == 1 else h.col_spacing_mm,
        h.col_spacing_mm if ct.source_axes[1] == 1 else h.row_spacing_mm,
        what=what,
    )
    warnings: list[str] = []
    if h.origin_mm is not None:
        pos, _, _ = source_slice_geometry(ct, k)
        off = float(np.linalg.norm(np.asarray(h.origin_mm) - pos))
        px = float(min(np.linalg.norm(a_s[:3, 1]), np.linalg.norm(a_s[:3, 2])))
        if off > px:
            warnings.append(
                f"The TAG header's origin ({', '.join(f'{v:.1f}' for v in h.origin_mm)}) is {off:.1f} mm from the "
                "DICOM slice's ImagePositionPatient; the TAG was matched by file name and size, so check the pair."
            )
    if h.extra:
        warnings.append(
            "TAG header keywords not in the documented set were ignored: " + ", ".join(k for k, _ in h.extra[:8])
        )
    labels = value_map.to_labels(source_to_canonical_2d(ct, tag.tags[0]), what=what)
    return labels, k, warnings


def _map_values(arr: np.ndarray, value_map: ValueMap | None, what: str) -> np.ndarray:
    a = np.asarray(arr)
    if value_map is not None:
        if a.dtype.kind == "f" and not np.all(a == np.round(a)):
            raise InvalidMaskError(f"{what} holds non-integer values; export a label map, not probabilities.")
        return value_map.to_labels(a.astype(np.int64), what=what, option="--nifti-map")
    try:
        mask_kind(a)  # refuses values other than 0-3 (0/1 is muscle)
    except InvalidMaskError as exc:
        raise InvalidMaskError(
            f"{what}: {exc} Or name what each value is, e.g. --nifti-map 0=0,1=1,4=2,5=3 (manifest imports) "
            "or the page's value map."
        ) from None
    return a.astype(np.uint8)


def _read_nifti(
    ct: Volume, data: bytes, what: str, slice_index: int | None, value_map: ValueMap | None
) -> tuple[np.ndarray, int, list[str]]:
    from sarco_core.io.nifti import load_nifti

    mv = load_nifti(data, is_mask=True)
    align.check_geometry(ct, mv, what=what)
    arr = np.asarray(mv.hu)
    filled = align.labelled(arr)
    ct_of = {m: align.ct_index_of_z(ct, float(mv.z_mm[m]), what=f"{what} (slice {m})") for m in filled}
    k = align.choose_slice(sorted(set(ct_of.values())), requested=slice_index, n_slices=ct.n_slices, what=what)
    m = next(m for m, c in ct_of.items() if c == k)
    return _map_values(arr[m], value_map, what), k, []


def _read_seg(ct: Volume, data: bytes, what: str, slice_index: int | None) -> tuple[np.ndarray, int, list[str]]:
    import pydicom

    from sarco_core.export.manual import read_manual_mask

    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    except Exception as exc:
        raise UnreadableFileError(f"{what} is not a readable DICOM file ({exc}).") from None
    if str(getattr(ds, "Modality", "")) != "SEG":
        raise InvalidMaskError(
            f"{what} is a DICOM {getattr(ds, 'Modality', '?')} object, not a segmentation (Modality SEG). Export "
            "the mask as DICOM-SEG, NIfTI or a Slice-O-Matic TAG."
        )
    row_mm: float | None
    col_mm: float | None
    try:
        pm = ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
        row_mm, col_mm = (float(v) for v in pm.PixelSpacing)
    except (AttributeError, IndexError, TypeError, ValueError):
        row_mm = col_mm = None
    if row_mm is not None and col_mm is not None and ct.source_axes[1] == 2:
        row_mm, col_mm = col_mm, row_mm
    seg_shape = (int(getattr(ds, "Rows", 0)), int(getattr(ds, "Columns", 0)))
    if seg_shape != _source_shape(ct):
        raise GridMismatchError(
            f"{what}'s frames are {seg_shape[0]} x {seg_shape[1]} pixels but the CT's images are "
            f"{_source_shape(ct)[0]} x {_source_shape(ct)[1]} (Rows x Columns). {align.RESAMPLE_FIX}"
        )
    align.check_spacing(ct, row_mm, col_mm, what=what)
    full = read_manual_mask(data, ct)
    k = align.choose_slice(align.labelled(full), requested=slice_index, n_slices=ct.n_slices, what=what)
    return full[k], k, []


def _read_png(
    ct: Volume, data: bytes, what: str, slice_index: int | None, value_map: ValueMap
) -> tuple[np.ndarray, int, list[str]]:
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise UnreadableFileError(f"{what} is not a readable PNG ({exc}).") from None
    arr = np.asarray(img)
    if arr.ndim == 3:
        if arr.shape[2] == 4 and not np.all(arr[..., 3] == arr[..., 3].flat[0]):
            raise InvalidMaskError(f"{what} has a transparency channel that varies; save a plain label PNG.")
        if not (np.all(arr[..., 0] == arr[..., 1]) and np.all(arr[..., 1] == arr[..., 2])):
            raise InvalidMaskError(
                f"{what} is a colour image; save the mask as a single-channel PNG of label values "
                "(grayscale or palette indices), not a coloured overlay."
            )
        arr = arr[..., 0]
    align.check_inplane(ct, (arr.shape[0], arr.shape[1]), what=what)
    k = _single_slice(ct, slice_index, what)
    return value_map.to_labels(arr.astype(np.int64), what=what, option="--png-map"), k, []


def import_mask(
    ct: Volume,
    src: MaskSource,
    *,
    fmt: MaskFormat | None = None,
    slice_index: int | None = None,
    value_map: ValueMap | None = None,
    case_id: str = "",
    name: str = "",
    image_path: str = "",
) -> ImportedMask:
    """Read an expert mask onto ``ct`` and return it in our labels on the canonical grid of its slice.

    * TAG: one byte per pixel of one DICOM slice, values mapped by ``value_map`` (default Alberta tags);
    * NIfTI: on the CT's grid (the whole stack, or fewer slices at the CT's slice positions);
    * DICOM-SEG: frames referencing the CT's images (by SOP Instance UID or position);
    * PNG: one slice in display orientation (anterior up, patient right on the image's left), values mapped
      by ``value_map`` (default: 0-3 as our labels, 255 as muscle).

    Refuses (a :class:`~sarco_core.errors.SarcoError`) a mask on another grid, with unknown values, or empty.
    """
    ct.require_hu("Importing a reference mask")
    what = f"The mask {_name(src, name)}"
    data = _bytes(src)
    fmt = fmt or detect_format(data, _name(src, name))
    vm: ValueMap | None
    if fmt is MaskFormat.TAG:
        vm = value_map or ValueMap.alberta_tags()
        labels, k, warns = _read_tag(ct, data, what, slice_index, vm)
    elif fmt is MaskFormat.NIFTI:
        vm = value_map
        labels, k, warns = _read_nifti(ct, data, what, slice_index, vm)
    elif fmt is MaskFormat.DICOM_SEG:
        vm = None
        labels, k, warns = _read_seg(ct, data, what, slice_index)
    else:
        vm = value_map or ValueMap.png_default()
        labels, k, warns = _read_png(ct, data, what, slice_index, vm)
    if not np.any(labels):
        raise InvalidMaskError(f"{what} has no labelled pixel on slice {k}; nothing to import.")
    return ImportedMask.build(
        case_id=case_id,
        format=fmt,
        mask_path="" if isinstance(src, bytes) else str(src),
        image_path=image_path,
        volume=ct,
        slice_index=k,
        labels=labels,
        value_map=vm,
        warnings=warns,
    )
