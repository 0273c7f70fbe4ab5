"""Import an expert mask (Slice-O-Matic TAG, NIfTI, DICOM-SEG, PNG) with its CT and see it overlaid.

The page checks one mask before a bulk import (`sarco import-masks`): the file's values become our labels
through the shown value map, the mask must lie on the CT's pixel grid, and the areas are measured HU-gated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from sarco_core.errors import SarcoError
from sarco_core.metrics import SliceMetrics

log = logging.getLogger("ui.import_masks")

FORMATS = {"Detect from the file": None, "Slice-O-Matic TAG": "tag", "NIfTI": "nifti", "DICOM-SEG": "seg", "PNG": "png"}
DEFAULT_MAPS = {"tag": "alberta", "png": "labels", "nifti": "", "seg": ""}


@dataclass(frozen=True, eq=False)
class ImportPreview:
    """What the page shows after an import: the case (one CT slice + mask), its areas and the overlay."""

    case: Any  # sarco_core.masks.ImportedCase
    metrics: SliceMetrics
    overlay_png: bytes


def preview(
    ct_files: list[tuple[str, bytes]],
    mask_name: str,
    mask_bytes: bytes,
    *,
    fmt: str | None,
    value_map: str,
    slice_index: int | None,
) -> ImportPreview:
    """Load the CT, import the mask onto it and measure it (raises SarcoError with the reason)."""
    from sarco_core.export import overlay_png
    from sarco_core.io import load
    from sarco_core.masks import MaskFormat, ValueMap, import_case
    from sarco_core.metrics import measure_slice

    ct = load(ct_files)
    mfmt = MaskFormat.parse(fmt) if fmt else None
    vm = ValueMap.parse(value_map) if value_map.strip() else None
    case = import_case(
        mask_bytes, ct, fmt=mfmt, slice_index=slice_index, value_map=vm, mask_name=mask_name, case_id=mask_name
    )
    hu = case.volume.hu[0]
    sp = case.volume.spacing_mm
    m = measure_slice(
        hu,
        case.mask.labels,
        row_mm=sp.row,
        col_mm=sp.col,
        kind="labels",
        index=case.mask.slice_index,
        z_mm=case.mask.z_mm,
    )
    return ImportPreview(case=case, metrics=m, overlay_png=overlay_png(hu, case.mask.labels, sp))


def _fmt_area(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f} cm²"


def _show(p: ImportPreview) -> None:
    m, mask = p.metrics, p.case.mask
    st.success(
        f"Imported {mask.format.value.upper()} mask on slice {mask.slice_index} (z = {mask.z_mm:.1f} mm) "
        f"as source `{mask.source}`."
    )
    for w in mask.warnings:
        st.warning(w)
    a, b, c, d, e = st.columns(5)
    a.metric("SMA", _fmt_area(m.sma_cm2))
    b.metric("Muscle HU", "—" if m.muscle_hu_mean is None else f"{m.muscle_hu_mean:.1f}")
    c.metric("IMAT", _fmt_area(m.imat_cm2))
    traced = {int(v) for v in np.unique(mask.labels)}
    d.metric("SAT", _fmt_area(m.sat_cm2) if 2 in traced else "not traced")
    e.metric("VAT", _fmt_area(m.vat_cm2) if 3 in traced else "not traced")
    st.image(p.overlay_png, caption="Expert mask on the CT (red muscle, yellow SAT, cyan VAT; HU-gated areas above)")
    if mask.value_map is not None:
        st.caption(f"Value map '{mask.value_map.name}': {mask.value_map.describe()}.")


def page() -> None:
    st.title("Import an expert mask")
    st.markdown(
        "Check one hand-traced mask against its CT before importing a cohort with `sarco import-masks` "
        "(see docs/site-adaptation.md). Upload the **CT** (the traced .dcm slice, a DICOM .zip or NIfTI) and the "
        "**mask**: a Slice-O-Matic **.tag**, **NIfTI**, **DICOM-SEG** or **PNG** on the same pixel grid. "
        "Nothing is resampled: a mask on another grid is refused."
    )
    c1, c2 = st.columns(2)
    ct_up = c1.file_uploader("CT (.dcm, .zip, .nii, .nii.gz)", accept_multiple_files=True, key="imp_ct")
    mask_up = c2.file_uploader("Expert mask (.tag, .nii, .nii.gz, .dcm, .png)", key="imp_mask")
    f1, f2, f3 = st.columns(3)
    fmt = FORMATS[f1.selectbox("Mask format", list(FORMATS), key="imp_fmt")]
    guess = fmt or (
        "tag"
        if mask_up is not None and mask_up.name.lower().endswith(".tag")
        else "png"
        if mask_up is not None and mask_up.name.lower().endswith(".png")
        else "nifti"
    )
    vmap = f2.text_input(
        "Value map",
        value=DEFAULT_MAPS.get(guess, ""),
        key=f"imp_map_{guess}",
        help="File value = our label (0 background, 1 muscle, 2 SAT, 3 VAT), e.g. alberta,12=0 or 0=0,255=1. "
        "alberta: TAG 1 muscle, 2 IMAT (counted in the muscle compartment), 5 VAT, 7 SAT.",
    )
    k = f3.number_input(
        "Slice (0 = most inferior; -1 = from the mask)", min_value=-1, value=-1, step=1, key="imp_slice"
    )
    go = st.button("Import and show", type="primary", disabled=not ct_up or mask_up is None, key="imp_btn")
    if go and ct_up and mask_up is not None:
        try:
            with st.spinner("Reading the CT and the mask…"):
                p = preview(
                    [(f.name, f.getvalue()) for f in ct_up],
                    mask_up.name,
                    mask_up.getvalue(),
                    fmt=fmt,
                    value_map=vmap,
                    slice_index=None if int(k) < 0 else int(k),
                )
        except SarcoError as exc:
            st.session_state.pop("imp_preview", None)
            st.error(f"**This mask cannot be imported.** {exc}")
        except Exception as exc:  # unexpected: readable message, traceback in the server log
            log.exception("mask import failed")
            st.session_state.pop("imp_preview", None)
            st.error(f"**The import failed unexpectedly** ({type(exc).__name__}: {exc}). Please report this.")
        else:
            st.session_state["imp_preview"] = p
    shown = st.session_state.get("imp_preview")
    if isinstance(shown, ImportPreview):
        _show(shown)
