"""The result card of a case: overlay thumbnail, numbers, cited classification, confidence, QC flags,
method/model — always for the case's latest mask version (automatic or edited, and it says which)."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from sarco_core import cutoffs
from sarco_core.flags import acquisition_notes, l3_choice_words
from ui import backend, exports
from ui.render import AxialView, axial_image
from ui.text import fmt, method_words, warnings_of


def classify_version(case: Any, version: Any, rule: str | None) -> cutoffs.Classification:
    """Classification of one mask version with the case's patient data (recomputed after edits)."""
    return cutoffs.assess_stored(case, version, rule).classification


def _criterion_block(title: str, c: cutoffs.Criterion) -> None:
    badge = {True: ":red-badge[Low]", False: ":green-badge[Not low]", None: ":gray-badge[Undetermined]"}[c.value]
    thr = f" (threshold {c.threshold:g})" if c.threshold is not None else ""
    st.markdown(f"**{title}:** {badge}{thr}  \n{c.note}")


def l3_words(analysis: Any) -> str:
    l3 = (analysis.result or {}).get("l3") or {}
    return l3_choice_words(
        overridden=bool(analysis.l3_overridden),
        auto_index=analysis.l3_auto_index,
        method=l3.get("method"),
        confidence=l3.get("confidence"),
    )


def render(case_id: int, *, thumbnail_px: int = 420, show_exports: bool = True, version_id: int | None = None) -> None:
    """The card of the case's latest version (or of ``version_id``)."""
    store = backend.store()
    case = store.get_case(case_id)
    version = store.get_version(version_id) if version_id is not None else case.latest_version
    analysis = (
        store.get_analysis(version.analysis_id)
        if version is not None and version.analysis_id is not None
        else case.latest_analysis
    )
    if version is None or analysis is None:
        st.info("This case has no analysis yet.")
        return
    res: dict[str, Any] = analysis.result or {}
    vol = backend.case_volume(case_id)
    k = int(version.slice_index)
    mask = store.get_mask(version.id)
    sp = vol.spacing_mm
    edited = version.source != "auto"
    rule_key = analysis.rule or cutoffs.DEFAULT_RULE
    try:
        _, rule = cutoffs.get_rule(rule_key)
    except Exception:
        rule = cutoffs.RULES[cutoffs.DEFAULT_RULE]
    cls = classify_version(case, version, rule_key)
    smi = cutoffs.smi_cm2_m2(version.sma_cm2, case.height_m)

    st.subheader(f"Result — case #{case.id}: {case.label}")
    left, right = st.columns([2, 3], gap="large")
    with left:
        img = axial_image(
            np.asarray(vol.hu[k]), mask, row_mm=sp.row, col_mm=sp.col, view=AxialView(display_px=thumbnail_px)
        )
        st.image(img, caption=f"Slice {k} (z = {fmt(version.z_mm, 1, 'mm')}) — red muscle, yellow SAT, cyan VAT")
    with right:
        a, b, c = st.columns(3)
        a.metric("SMA (cm²)", fmt(version.sma_cm2, 1), help="Skeletal muscle area: muscle label within −29..150 HU.")
        b.metric("SMI (cm²/m²)", fmt(smi, 1), help="SMA / height². Needs height.")
        c.metric("Muscle attenuation (HU)", fmt(version.muscle_hu_mean, 1), help="Mean attenuation of the SMA pixels.")
        a, b, c = st.columns(3)
        a.metric("IMAT (cm²)", fmt(version.imat_cm2, 1), help="Intermuscular fat: muscle label within −190..−30 HU.")
        b.metric("SAT (cm²)", fmt(version.sat_cm2, 1), help="Subcutaneous fat within −190..−30 HU.")
        c.metric("VAT (cm²)", fmt(version.vat_cm2, 1), help="Visceral fat within −150..−50 HU.")
        st.markdown(f"**Classification — {rule.name}**")
        _criterion_block("Low SMI (CT-defined)", cls.low_smi)
        _criterion_block("Low muscle attenuation (CT-defined)", cls.low_muscle_hu)
        st.caption(f"{rule.citation} Population: {rule.population}.")

    seg = res.get("segmentation") or {}
    conf = analysis.confidence if analysis.confidence is not None else res.get("confidence")
    mask_how = (
        f"version {version.number}, {'hand-edited' if version.source == 'edit' else version.source} by {version.author}"
        if edited
        else f"version {version.number}, automatic"
    )
    made_by = method_words(seg.get("method") or analysis.method, seg.get("model"))
    st.markdown(
        f"**Mask:** {mask_how} · **made by:** {made_by}  \n"
        f"**L3 slice:** {k}, {l3_words(analysis)}"
        f" · **overall confidence:** {fmt(conf * 100, 0, '%') if conf is not None else '—'}"
        f" · **patient data:** height {fmt(case.height_m, 2, 'm')}, weight {fmt(case.weight_kg, 1, 'kg')},"
        f" sex {case.sex or '—'}"
    )
    notes = warnings_of(analysis, version)
    if notes:
        st.warning("**Please check:**\n" + "\n".join(f"- {x}" for x in notes))
    else:
        st.success("No quality-control flags.")
    acquisition = acquisition_notes(analysis.qc_flags or ())
    if acquisition:  # caveats on the acquisition: beside the number, not a problem of the mask
        st.info("**Notes on the acquisition:**\n" + "\n".join(f"- {x}" for x in acquisition))
    st.caption("For research use only — not a medical device, not for clinical diagnosis.")
    if show_exports:
        exports.buttons(case_id, version.id)
