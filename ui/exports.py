"""Per-case export buttons (files are built only when clicked) and their audit records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from ui import backend, state


def _safe(label: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)
    return keep.strip("_")[:60] or "case"


def build(case_id: int, kind: str) -> bytes:
    """Bytes of one export of the case's latest version: nifti | dicom_seg | tag | overlay_png | report_pdf."""
    import tempfile
    from pathlib import Path

    from sarco_core import export

    store = backend.store()
    case = store.get_case(case_id)
    v = case.latest_version
    if v is None:
        raise ValueError("case has no mask version")
    vol = backend.case_volume(case_id)
    mask = store.get_mask(v.id)
    k = int(v.slice_index)
    if kind == "nifti":
        with tempfile.TemporaryDirectory() as d:
            path = export.mask_to_nifti(vol, mask, k, Path(d) / "mask.nii.gz")
            data = Path(path).read_bytes()
    elif kind == "dicom_seg":
        data = export.mask_to_dicom_seg(vol, mask, k, author=state.author())
    elif kind == "tag":
        from sarco_core.masks import mask_to_tag

        data = mask_to_tag(vol, mask, k)
    elif kind == "overlay_png":
        data = export.overlay_png(vol.hu[k], mask, vol.spacing_mm)
    elif kind == "report_pdf":
        png = export.overlay_png(vol.hu[k], mask, vol.spacing_mm)
        data = export.report_pdf(
            case=case, analysis=case.latest_analysis, version=v, overlay_png=png, edited=v.source != "auto"
        )
    else:
        raise ValueError(kind)
    store.log_export(case_id, actor=state.author(), kind=kind, version_id=v.id)
    return data


def _builder(case_id: int, kind: str) -> Callable[[], bytes]:
    return lambda: build(case_id, kind)


def buttons(case_id: int) -> None:
    """Download buttons: mask NIfTI, DICOM-SEG and TAG (DICOM input only), overlay PNG, PDF report."""
    case: Any = backend.store().get_case(case_id)
    v = case.latest_version
    stem = f"{_safe(case.label)}_v{v.number if v else 0}"
    st.markdown("**Downloads** (latest mask version)")
    specs: list[tuple[str, str, str, str, str | None, bool]] = [
        ("Mask (NIfTI)", "nifti", "mask.nii.gz", "application/gzip",
         "Label map on the image's own voxel grid: 1 muscle, 2 SAT, 3 VAT (measured slice only).", False),
        ("DICOM-SEG", "dicom_seg", "seg.dcm", "application/dicom",
         "Segmentation object referencing the source series (DICOM input only).", not case.is_dicom),
        ("Slice-O-Matic TAG", "tag", "mask.tag", "application/octet-stream",
         "Alberta tags (1 muscle, 2 IMAT, 5 VAT, 7 SAT) in the DICOM's pixel order; rename it to the slice's DICOM "
         "file name + .tag (X.dcm.tag beside X.dcm) to open it in sliceOmatic (DICOM input only).", not case.is_dicom),
        ("Overlay (PNG)", "overlay_png", "overlay.png", "image/png", None, False),
        ("Report (PDF)", "report_pdf", "report.pdf", "application/pdf",
         "One page: image, numbers, rule and citation, method/model, edited flag.", False),
    ]
    for col, (label, kind, suffix, mime, help_text, disabled) in zip(st.columns(len(specs)), specs, strict=True):
        col.download_button(
            label,
            data=_builder(case_id, kind),
            file_name=f"{stem}_{suffix}",
            mime=mime,
            on_click="ignore",
            width="stretch",
            disabled=disabled,
            help=help_text,
        )
