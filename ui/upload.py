"""Upload & analyse page: file upload → header read → patient data → load → L3 → segment → measure →
classify → saved as a new case (version 1 = the automatic mask) → result card.

The work is done by :func:`analyse_files`, which takes ``(name, bytes)`` pairs, so tests can call it
without a browser (AppTest can also fill the uploader with ``at.file_uploader[0].set_value``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import streamlit as st

from sarco_core import cutoffs
from sarco_core.errors import L3NotFoundError, SarcoError
from sarco_core.privacy import generated_case_label, label_warnings, scrub_file_names
from sarco_core.volume import Volume
from ui import backend, result_card, state

log = logging.getLogger("sarco.app")
UPLOAD_KEY = "upload_files"  # the uploader's key is UPLOAD_KEY, then UPLOAD_KEY_1, _2 ... after each analysis
_GEN = "upload_generation"


def uploader_key() -> str:
    n = int(st.session_state.get(_GEN, 0))
    return UPLOAD_KEY if n == 0 else f"{UPLOAD_KEY}_{n}"


_LOADED = "upload_loaded_key"


@dataclass(frozen=True)
class PatientInputs:
    """What the user entered (None = not given); ``*_source`` says where a value came from."""

    height_m: float | None
    weight_kg: float | None
    sex: str | None
    rule: str
    slice_index: int | None = None  # None: find L3 automatically
    label: str | None = None  # typed by the user; None = generated from the upload's checksum
    height_source: str = "missing"
    weight_source: str = "missing"
    sex_source: str = "missing"


def case_label(files: Sequence[tuple[str, bytes]], volume: Volume, typed: str | None = None) -> str:
    """The case label: what the user typed, else ``case-<checksum>``. Never the file or folder name (names
    often carry the patient's name, MRN or birth date; issue 17)."""
    text = " ".join((typed or "").split())[:120]
    if text:
        return text
    from sarco_core.analyze import input_sha256

    return generated_case_label(input_sha256(list(files)) if files else None)


def analyse_files(
    files: Sequence[tuple[str, bytes]],
    inputs: PatientInputs,
    progress: Callable[[str, float], None] | None = None,
    volume: Volume | None = None,
) -> int:
    """Load (unless ``volume`` is the already loaded upload), analyse and store an upload; returns the new
    case id. Raises SarcoError on bad input."""
    p = progress or (lambda _s, _f: None)
    p("Reading the scan", 0.05)
    if volume is None:
        volume = backend.load_upload(files)
    p("Finding L3", 0.15)

    def staged(stage: str, frac: float) -> None:
        p(_stage_words(stage), 0.15 + 0.75 * max(0.0, min(1.0, frac)))

    # Values prefilled from the header and left unchanged are passed as None so the analysis records
    # their source as the DICOM header.
    result = backend.run_analysis(
        volume,
        height_m=None if inputs.height_source == "dicom" else inputs.height_m,
        weight_kg=None if inputs.weight_source == "dicom" else inputs.weight_kg,
        sex=None if inputs.sex_source == "dicom" else inputs.sex,
        rule=inputs.rule,
        slice_index=inputs.slice_index,
        progress=staged,
    )
    p("Saving the case", 0.93)
    result = backend.stamp_input(result, files)
    # loader warnings are stored with the case: file names in them (which may carry identifiers) are removed
    stored = replace(volume, warnings=scrub_file_names(volume.warnings, [n for n, _ in files]))
    case_id = backend.create_case(stored, result, label=case_label(files, volume, inputs.label), actor=state.author())
    p("Done", 1.0)
    return case_id


def _duplicate_notice(volume: Volume, uploaded: Sequence[Any], key: str) -> None:
    """Warn when this scan is already a case (same upload checksum or DICOM series): open it, or add anyway."""
    cache = st.session_state.get("upload_dups")
    if not cache or cache[0] != key:
        try:
            dups = backend.duplicate_cases(volume, [(f.name, f.getvalue()) for f in uploaded])
        except SarcoError:
            dups = []
        st.session_state["upload_dups"] = cache = (key, dups)
    dups = list(cache[1])
    if not dups:
        return
    cases = ", ".join(f"#{c}" for c in dups[:5])
    st.warning(
        f"This scan is already case {cases} (same file or same DICOM series). Open it below, or press "
        "**Analyse** to add it anyway as a new case."
    )
    if st.button(f"Open case #{dups[0]}", key="open_dup"):
        state.set_case(dups[0])
        st.switch_page("pages/browse.py")


def _show(bar: Any, text: str, frac: float) -> None:
    bar.progress(min(1.0, max(0.0, frac)), text=text)


def _stage_words(stage: str) -> str:
    s = stage.lower()
    if "l3" in s or "level" in s:
        return "Finding L3"
    if "seg" in s:
        return "Segmenting muscle and fat"
    if "meas" in s or "class" in s:
        return "Measuring and classifying"
    return stage.capitalize() if stage else "Working"


def _prefill(volume: Volume, key: str) -> None:
    """Put header values into the inputs once per new upload."""
    if st.session_state.get(_LOADED) == key:
        return
    m = volume.meta
    st.session_state[_LOADED] = key
    st.session_state["in_height"] = m.patient_height_m if m.patient_height_m else None
    st.session_state["in_weight"] = m.patient_weight_kg if m.patient_weight_kg else None
    st.session_state["in_sex"] = m.patient_sex if m.patient_sex in ("F", "M") else "not given"
    st.session_state["hdr"] = {
        "height": m.patient_height_m or None,
        "weight": m.patient_weight_kg or None,
        "sex": m.patient_sex if m.patient_sex in ("F", "M") else None,
    }


def _source(name: str, value: Any) -> str:
    hdr = st.session_state.get("hdr", {}).get(name)
    if value is None:
        return "missing"
    if hdr is not None and value == hdr:
        return "dicom"
    return "argument"


def _scan_summary(volume: Volume) -> None:
    m = volume.meta
    sp = volume.spacing_mm
    kind = {
        "dicom-series": "DICOM series",
        "dicom-slice": "single DICOM slice",
        "dicom-multiframe": "enhanced multi-frame DICOM",
        "nifti": "NIfTI",
    }.get(m.kind, m.kind)
    bits = [
        kind,
        f"{volume.n_slices} slice{'s' if volume.n_slices != 1 else ''} of {volume.shape[1]}×{volume.shape[2]}",
        f"pixels {sp.row:.3f} × {sp.col:.3f} mm",
    ]
    if sp.slice and volume.n_slices > 1:
        bits.append(f"slice spacing {sp.slice:.2f} mm")
    if m.manufacturer:
        bits.append(m.manufacturer)
    if m.kvp:
        bits.append(f"{m.kvp:g} kVp")
    if m.contrast_agent:
        bits.append(f"contrast: {m.contrast_agent}")
    st.success("Scan read: " + " · ".join(bits))
    for w in volume.warnings:
        st.warning(w)


def page() -> None:
    st.title("Upload & analyse")
    state.init()
    state.show_flashes("upload")
    st.markdown(
        "Upload one CT scan: a **.zip of a DICOM series**, several **.dcm** files of one series, a **single "
        "axial slice** at L3, or a **NIfTI** volume (.nii / .nii.gz). The app finds L3, outlines skeletal "
        "muscle and fat, and measures them. Images are stored de-identified in the case database."
    )
    folder = st.toggle(
        "Upload a whole folder (a DICOM series on disk)",
        key="upload_folder",
        help="Off: pick a .zip, .dcm file(s) or a NIfTI file. On: pick the folder that holds the series.",
    )
    uploaded = st.file_uploader(
        "CT folder" if folder else "CT scan",
        accept_multiple_files="directory" if folder else True,
        key=uploader_key() + ("_dir" if folder else ""),
        help="Up to 1 GB. Patient name, ID and birth date are never stored.",
    )
    uploaded = list(uploaded or [])
    key = backend.upload_key(uploaded)
    volume: Volume | None = None
    if uploaded:
        try:
            with st.spinner("Reading the scan…"):
                volume = backend.load_upload(lambda: [(f.name, f.getvalue()) for f in uploaded], key=key)
        except SarcoError as exc:
            st.error(f"**This upload cannot be used.** {exc}")
        except Exception as exc:  # an unexpected reader failure: readable message, traceback in the server log
            log.exception("upload could not be read")
            st.error(
                f"**This upload could not be read** ({type(exc).__name__}: {exc}). Check that it is a CT series "
                "(.zip, .dcm) or NIfTI file; if it is, please report this with the server log."
            )
        else:
            _prefill(volume, key)
            _scan_summary(volume)
            _duplicate_notice(volume, uploaded, key)

    inputs, errors = patient_form(disabled=volume is None)
    typed = st.text_input(
        "Case label (optional)",
        key="in_label",
        disabled=volume is None,
        help="A study code such as 'cohort A 017'. Leave empty for a generated id. Do not type names, MRNs or "
        "dates: the label is stored and exported.",
    )
    if typed.strip():
        why = label_warnings(typed)
        if why:
            st.warning(
                f"This label may identify the patient ({'; '.join(why)}). Use a study code instead; the label is "
                "stored in the database and appears in exports and reports."
            )
        inputs = replace(inputs, label=typed.strip())
    if volume is not None and volume.n_slices > 1:
        with st.expander("L3 slice (advanced)"):
            manual = st.checkbox(
                "Choose the L3 slice myself",
                key="in_manual_l3",
                help="Use this when automatic detection fails or you already know the slice.",
            )
            if manual:
                k = st.number_input(
                    "Slice index (0 = most inferior slice)",
                    0,
                    volume.n_slices - 1,
                    volume.n_slices // 2,
                    key="in_slice",
                )
                st.caption(f"z = {volume.z_mm[int(k)]:.1f} mm. You can also change the slice later on the Browse page.")
                inputs = replace(inputs, slice_index=int(k))
    go = st.button("Analyse", type="primary", disabled=volume is None or bool(errors), key="analyse_btn")
    if go and volume is not None:
        bar = st.progress(0.0, text="Starting…")
        try:
            files = [(f.name, f.getvalue()) for f in uploaded]
            cid = analyse_files(files, inputs, progress=lambda s, f: _show(bar, s, f), volume=volume)
        except SarcoError as exc:
            bar.empty()
            st.error(f"**The analysis stopped.** {exc}")
            if isinstance(exc, L3NotFoundError) and volume.n_slices > 1:
                st.info("Open **L3 slice (advanced)** above and choose the slice yourself, then analyse again.")
        except Exception as exc:  # unexpected: readable message, traceback in the server log
            log.exception("analysis failed")
            bar.empty()
            st.error(
                f"**The analysis failed unexpectedly** ({type(exc).__name__}: {exc}). Nothing was saved. "
                "Please report this with the server log."
            )
        else:
            state.set_case(cid)
            st.session_state[state.LAST_RESULT] = cid
            st.session_state[_GEN] = int(st.session_state.get(_GEN, 0)) + 1  # empty uploader for the next scan
            st.rerun()

    last = st.session_state.get(state.LAST_RESULT)
    if last is not None and last == state.case_id():
        st.divider()
        result_card.render(int(last))


def patient_form(disabled: bool) -> tuple[PatientInputs, list[str]]:
    """Height / weight / sex / rule with inline validation; returns inputs and error messages."""
    st.subheader("Patient data (optional)")
    hdr = st.session_state.get("hdr", {})
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        h = st.number_input(
            "Height (m)",
            min_value=0.0,
            max_value=300.0,
            value=None,
            step=0.01,
            format="%.2f",
            key="in_height",
            disabled=disabled,
            help="In metres, e.g. 1.72. Needed for SMI.",
        )
    with c2:
        w = st.number_input(
            "Weight (kg)",
            min_value=0.0,
            max_value=1000.0,
            value=None,
            step=0.5,
            format="%.1f",
            key="in_weight",
            disabled=disabled,
            help="Needed by rules that depend on BMI (Martin 2013).",
        )
    with c3:
        sex_opt = st.selectbox(
            "Sex",
            ["not given", "F", "M"],
            key="in_sex",
            disabled=disabled,
            help="Cutoffs differ by sex; without it the classification is undetermined.",
        )
    with c4:
        keys = list(cutoffs.RULES)
        rule = st.selectbox(
            "Cutoff rule",
            keys,
            index=keys.index(cutoffs.DEFAULT_RULE),
            format_func=lambda k: cutoffs.RULES[k].name,
            key="in_rule",
            disabled=disabled,
        )
    errors: list[str] = []
    for fn, v in ((cutoffs.validate_height_m, h), (cutoffs.validate_weight_kg, w)):
        try:
            fn(v)
        except SarcoError as exc:
            errors.append(str(exc))
    for e in errors:
        st.error(e)
    sex = None if sex_opt == "not given" else sex_opt
    src = []
    words = {"dicom": "from the DICOM header", "argument": "entered", "missing": "not given"}
    for name, value in (("height", h), ("weight", w), ("sex", sex)):
        src.append(f"{name}: " + words[_source(name, value)])
    if hdr:
        st.caption(" · ".join(src))
    r = cutoffs.RULES[rule]
    st.caption(f"**{r.name}** — {r.population}. {r.citation}")
    return (
        PatientInputs(
            height_m=h,
            weight_kg=w,
            sex=sex,
            rule=rule,
            height_source=_source("height", h),
            weight_source=_source("weight", w),
            sex_source=_source("sex", sex),
        ),
        errors,
    )
