"""One imported case: load the CT, match a TAG to its DICOM slice by name, read the mask, keep one slice."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sarco_core.cutoffs import normalise_sex, validate_height_m, validate_weight_kg
from sarco_core.errors import InputNotFoundError, InvalidMaskError, PatientDataError
from sarco_core.io import load
from sarco_core.masks.readers import MaskSource, detect_format, import_mask
from sarco_core.masks.records import ImportedCase, MaskFormat, PatientInfo, ValueMap
from sarco_core.volume import Volume


def dicom_for_tag(tag_path: Path) -> Path | None:
    """The DICOM file a TAG belongs to by name: ``X.dcm.tag`` -> ``X.dcm``; ``X.tag`` -> ``X.dcm`` or ``X``."""
    stem = tag_path.name[: -len(".tag")] if tag_path.name.lower().endswith(".tag") else tag_path.name
    candidates = (
        [tag_path.with_name(stem)]
        if stem.lower().endswith(".dcm")
        else [tag_path.with_name(stem + ".dcm"), tag_path.with_name(stem + ".DCM"), tag_path.with_name(stem)]
    )
    return next((c for c in candidates if c.is_file()), None)


def _sop_uid(path: Path) -> str | None:
    import pydicom

    try:
        return str(pydicom.dcmread(str(path), stop_before_pixels=True, specific_tags=["SOPInstanceUID"]).SOPInstanceUID)
    except Exception:
        return None


def _slice_of_file(ct: Volume, dcm: Path, image: Path) -> int:
    uid = _sop_uid(dcm)
    if uid and uid in ct.meta.sop_uids:
        return ct.meta.sop_uids.index(uid)
    raise InvalidMaskError(
        f"The TAG's DICOM file {dcm.name} is not one of the images of the CT {image}; give that DICOM file (or "
        "its series folder) as the image."
    )


def resolve_image(mask_path: Path | None, image: str | Path | None, fmt: MaskFormat) -> tuple[Path, Path | None]:
    """(CT path to load, the TAG's own DICOM file when it is found by name inside a series folder)."""
    if image:
        img = Path(image)
        if not img.exists():
            raise InputNotFoundError(f"The CT {img} does not exist. Check the path (relative to the manifest).")
        if fmt is MaskFormat.TAG and img.is_dir() and mask_path is not None:
            dcm = dicom_for_tag(img / mask_path.name) or dicom_for_tag(mask_path)
            return img, dcm
        return img, None
    if fmt is MaskFormat.TAG and mask_path is not None:
        dcm = dicom_for_tag(mask_path)
        if dcm is None:
            raise InputNotFoundError(
                f"No DICOM file matches the TAG {mask_path.name} by name (looked for X.dcm beside X.dcm.tag or "
                "X.tag); give the image path in the manifest."
            )
        return dcm, None
    raise InputNotFoundError("The CT image is missing; give the image path (manifest column 'image').")


def patient_info(height_m: object = None, weight_kg: object = None, sex: object = None) -> PatientInfo:
    """Validated patient data (manifest strings or numbers; empty means unknown)."""

    def num(v: object) -> float | None:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        try:
            return float(v)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise PatientDataError(f"{v!r} is not a number; write height in metres and weight in kg.") from None

    return PatientInfo(
        height_m=validate_height_m(num(height_m)),
        weight_kg=validate_weight_kg(num(weight_kg)),
        sex=normalise_sex(str(sex) if sex is not None and str(sex).strip() else None),
    )


def import_case(
    mask: MaskSource,
    image: str | Path | Volume | None = None,
    *,
    case_id: str = "",
    fmt: MaskFormat | None = None,
    slice_index: int | None = None,
    value_map: ValueMap | None = None,
    patient: PatientInfo | None = None,
    mask_name: str = "",
) -> ImportedCase:
    """Import one expert mask with its CT; the returned case holds only the traced slice of the CT.

    ``image`` is a loaded :class:`Volume`, a path (DICOM file/folder/zip, NIfTI), or None for a TAG whose DICOM
    file lies beside it by name. A TAG given with a series folder is placed on its own DICOM file's slice.
    """
    mask_path = None if isinstance(mask, bytes) else Path(mask)
    if mask_path is not None and not mask_path.is_file():
        raise InputNotFoundError(f"The mask file {mask_path} does not exist. Check the path.")
    fmt = fmt or detect_format(mask, mask_name)
    if isinstance(image, Volume):
        ct, image_text = image, ""
    else:
        img, dcm = resolve_image(mask_path, image, fmt)
        ct, image_text = load(img), str(img)
        if dcm is not None and slice_index is None and ct.n_slices > 1:
            slice_index = _slice_of_file(ct, dcm, img)
    m = import_mask(
        ct,
        mask,
        fmt=fmt,
        slice_index=slice_index,
        value_map=value_map,
        case_id=case_id,
        name=mask_name,
        image_path=image_text,
    )
    one = ct.select([m.slice_index])
    if ct.source_axes[0] == 0:  # the slice is one of the file's images: keep its pixel order (TAG / SEG export)
        one = replace(one, source_axes=ct.source_axes, source_flips=ct.source_flips)
    return ImportedCase(mask=m, volume=one, patient=patient or PatientInfo())
