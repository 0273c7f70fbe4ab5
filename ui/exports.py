"""Per-case export buttons for any version of a case (files are built only when clicked) and their audit records."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import streamlit as st

from sarco_core.auth import Permission
from ui import auth, backend, state

KINDS = ("report_pdf", "dicom_seg", "nifti", "overlay_png")


def _safe(label: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)
    return keep.strip("_")[:60] or "case"


def sagittal_png(case_id: int, analysis: Any, slice_index: int) -> bytes | None:
    """The mid-sagittal reformat with the detected levels and the measured slice (None for a single slice)."""
    from ui.browse import _levels
    from ui.render import reformat_image, to_png

    vol = backend.case_volume(case_id)
    if vol.n_slices < 2:
        return None
    lines: list[tuple[int, str, tuple[int, int, int]]] = [(int(slice_index), "measured slice", (255, 60, 60))]
    auto = analysis.l3_auto_index if analysis is not None else None
    if auto is not None and int(auto) != int(slice_index):
        lines.append((int(auto), "automatic L3", (255, 160, 60)))
    img = reformat_image(
        np.asarray(vol.hu),
        plane="sagittal",
        position=vol.shape[2] // 2,
        slice_mm=vol.spacing_mm.slice or 1.0,
        inplane_mm=vol.spacing_mm.row,
        width=400.0,
        level=40.0,
        z_mm=np.asarray(vol.z_mm),
        lines=lines,
        levels=list(_levels((analysis.result if analysis is not None else {}) or {})),
        display_w=360,
    )
    return to_png(img)


def build(case_id: int, kind: str, version_id: int | None = None) -> bytes:
    """Bytes of one export of a version (default: the latest): nifti | dicom_seg | tag | overlay_png | report_pdf."""
    import tempfile
    from pathlib import Path

    from sarco_core import export
    from ui.text import warnings_of

    store = backend.store()
    case = store.get_case(case_id)
    v = store.get_version(version_id) if version_id is not None else case.latest_version
    if v is None:
        raise ValueError("case has no mask version")
    if v.case_id != case_id:
        raise ValueError(f"version {version_id} belongs to another case")
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
        analysis = store.get_analysis(v.analysis_id) if v.analysis_id is not None else case.latest_analysis
        png = export.overlay_png(vol.hu[k], mask, vol.spacing_mm)
        data = export.report_pdf(
            case=case,
            analysis=analysis,
            version=v,
            overlay_png=png,
            edited=v.source != "auto",
            warnings=warnings_of(analysis, v) if analysis is not None else None,
            sagittal_png=sagittal_png(case_id, analysis, k),
        )
    else:
        raise ValueError(kind)
    store.log_export(case_id, actor=state.author(), kind=kind, version_id=v.id)
    return data


def _builder(case_id: int, kind: str, version_id: int | None) -> Callable[[], bytes]:
    return lambda: build(case_id, kind, version_id)


def buttons(case_id: int, version_id: int | None = None) -> None:
    """Download buttons of one version: PDF report, DICOM-SEG and Slice-O-Matic TAG (DICOM input only), mask
    NIfTI, overlay PNG."""
    if not auth.can(Permission.EXPORT):
        st.caption("Exports: your role cannot download files (researcher or admin can).")
        return
    store = backend.store()
    case: Any = store.get_case(case_id)
    v = store.get_version(version_id) if version_id is not None else case.latest_version
    stem = f"{_safe(case.label)}_v{v.number if v else 0}"
    st.markdown(f"**Downloads** (version {v.number if v else '—'})")
    specs: list[tuple[str, str, str, str, str | None, bool]] = [
        (
            "Report (PDF)",
            "report_pdf",
            "report.pdf",
            "application/pdf",
            "One page: image, numbers on the rule's scale, every warning, rule and citation, method/model.",
            False,
        ),
        (
            "DICOM-SEG",
            "dicom_seg",
            "seg.dcm",
            "application/dicom",
            "Segmentation object referencing the source series (DICOM input only).",
            not case.is_dicom,
        ),
        (
            "Slice-O-Matic TAG",
            "tag",
            "mask.tag",
            "application/octet-stream",
            "Alberta tags (1 muscle, 2 IMAT, 5 VAT, 7 SAT) in the DICOM's pixel order; rename it to the slice's DICOM "
            "file name + .tag (X.dcm.tag beside X.dcm) to open it in sliceOmatic (DICOM input only).",
            not case.is_dicom,
        ),
        (
            "Mask (NIfTI)",
            "nifti",
            "mask.nii.gz",
            "application/gzip",
            "Label map on the image's own voxel grid: 1 muscle, 2 SAT, 3 VAT (measured slice only).",
            False,
        ),
        ("Overlay (PNG)", "overlay_png", "overlay.png", "image/png", None, False),
    ]
    vid = v.id if v is not None else None
    for col, (label, kind, suffix, mime, help_text, disabled) in zip(st.columns(len(specs)), specs, strict=True):
        col.download_button(
            label,
            data=_builder(case_id, kind, vid),
            file_name=f"{stem}_{suffix}",
            mime=mime,
            on_click="ignore",
            width="stretch",
            disabled=disabled,
            help=help_text,
            key=f"dl_{kind}_{case_id}_{vid}",
        )
