"""Browse page: step through the axial slices with window presets, tissue overlays, orientation markers and a
scale bar; sagittal and coronal reformats with the detected vertebral levels; "use this slice as L3"."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from sarco_core.auth import Permission
from sarco_core.errors import SarcoError
from sarco_core.flags import l3_choice_words
from ui import auth, backend, case_admin, cases, state
from ui.render import DEFAULT_PRESET, TISSUES, WINDOW_PRESETS, AxialView, Level, axial_image, reformat_image, to_png
from ui.text import fmt

K = "browse_k"
CUSTOM = "Custom"


def _step(delta: int, n: int) -> None:
    st.session_state[K] = int(min(n - 1, max(0, int(st.session_state.get(K, 0)) + delta)))


def _goto(k: int) -> None:
    st.session_state[K] = int(k)


@st.cache_data(show_spinner=False, max_entries=256)
def _axial_png(
    case_id: int, image_sha: str, k: int, mask_sha: str | None, view: AxialView, _mask: np.ndarray | None
) -> bytes:
    vol = backend.case_volume(case_id)
    sp = vol.spacing_mm
    return to_png(axial_image(np.asarray(vol.hu[k]), _mask, row_mm=sp.row, col_mm=sp.col, view=view))


@st.cache_data(show_spinner=False, max_entries=64)
def _reformat_png(
    case_id: int,
    image_sha: str,
    plane: str,
    pos: int,
    w: float,
    lv: float,
    lines: tuple[tuple[int, str, tuple[int, int, int]], ...],
    levels: tuple[Level, ...],
) -> bytes:
    vol = backend.case_volume(case_id)
    sp = vol.spacing_mm
    inplane = sp.row if plane == "sagittal" else sp.col
    return to_png(
        reformat_image(
            np.asarray(vol.hu),
            plane=plane,
            position=pos,
            slice_mm=sp.slice if sp.slice else float(np.median(np.abs(np.diff(np.asarray(vol.z_mm))))),
            inplane_mm=inplane,
            width=w,
            level=lv,
            z_mm=np.asarray(vol.z_mm),
            lines=list(lines),
            levels=list(levels),
        )
    )


def _levels(result: dict[str, Any]) -> tuple[Level, ...]:
    out = []
    for lv in (result.get("l3") or {}).get("levels") or []:
        z = lv.get("z_mm") or lv.get("z_range_mm")
        if lv.get("label") and z and len(z) == 2:
            out.append(Level(str(lv["label"]), float(z[0]), float(z[1])))
    return tuple(out)


def page() -> None:
    st.title("Browse slices")
    state.init()
    state.show_flashes("browse")
    cid = cases.require_case("browse")
    if cid is None:
        return
    store = backend.store()
    try:
        case = store.get_case(cid)
        vol = backend.case_volume(cid)
    except SarcoError as exc:
        st.error(str(exc))
        return
    version = case.latest_version
    analysis = case.latest_analysis
    result = (analysis.result if analysis is not None else {}) or {}
    n = vol.n_slices
    measured = int(version.slice_index) if version is not None else n // 2
    if st.session_state.get("browse_case") != cid or st.session_state.get(K, 0) >= n:
        st.session_state["browse_case"] = cid
        st.session_state[K] = measured
    mask = store.get_mask(version.id) if version is not None else None
    sp = vol.spacing_mm

    # ------------------------------------------------------------ controls
    with st.sidebar:
        st.markdown("**Display**")
        preset = st.selectbox(
            "Window",
            [*WINDOW_PRESETS, CUSTOM],
            index=list(WINDOW_PRESETS).index(DEFAULT_PRESET),
            key="browse_preset",
            help="Width / level in HU.",
        )
        if preset == CUSTOM:
            ww = st.number_input("Window width (HU)", 1.0, 5000.0, 400.0, 10.0, key="browse_ww")
            wl = st.number_input("Window level (HU)", -1500.0, 3000.0, 40.0, 10.0, key="browse_wl")
        else:
            ww, wl = WINDOW_PRESETS[preset]
        show = {}
        for value, (name, _) in TISSUES.items():
            show[value] = st.checkbox(f"Show {name}", value=True, key=f"browse_show_{value}")
        opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.45, 0.05, key="browse_opacity")
        size = st.select_slider("Image size (px)", [384, 512, 640, 768], value=512, key="browse_px")

    nav1, nav2, nav3, nav4 = st.columns([1.5, 1.2, 5, 2])
    nav1.button(
        "Previous",
        icon=":material/arrow_downward:",
        on_click=_step,
        args=(-1, n),
        width="stretch",
        disabled=n == 1,
        help="One slice toward the feet.",
    )
    nav2.button(
        "Next",
        icon=":material/arrow_upward:",
        on_click=_step,
        args=(1, n),
        width="stretch",
        disabled=n == 1,
        help="One slice toward the head.",
    )
    with nav3:
        if n > 1:
            st.slider(
                "Slice (0 = most inferior)", 0, n - 1, key=K, help="Drag, or click the slider and use the arrow keys."
            )
        else:
            st.caption("This case has a single slice.")
    nav4.button("Go to measured slice", on_click=_goto, args=(measured,), width="stretch")
    k = int(st.session_state.get(K, measured))

    # ------------------------------------------------------------ axial + reformats
    left, right = st.columns([3, 2], gap="medium")
    with left:
        on_measured = k == measured and mask is not None
        view = AxialView(
            width=float(ww), level=float(wl), opacity=float(opacity), show=tuple(show.items()), display_px=int(size)
        )
        png = _axial_png(
            cid,
            case.image_sha256,
            k,
            version.sha256 if on_measured and version else None,
            view,
            mask if on_measured else None,
        )
        st.image(
            png,
            caption=(
                f"Slice {k} of {n - 1} · z = {vol.z_mm[k]:.1f} mm · W{ww:g}/L{wl:g}"
                + (" · measured slice (overlay = latest mask)" if on_measured else " · no mask on this slice")
            ),
        )
    with right:
        if n > 1:
            auto_idx = analysis.l3_auto_index if analysis is not None else None
            lines: list[tuple[int, str, tuple[int, int, int]]] = [(measured, "L3 (measured)", (255, 60, 60))]
            if auto_idx is not None and auto_idx != measured:
                lines.append((int(auto_idx), "L3 auto", (255, 160, 60)))
            if k != measured:
                lines.append((k, "current", (255, 255, 0)))
            levels = _levels(result)
            plane = st.radio("Reformat", ["sagittal", "coronal"], horizontal=True, key="browse_plane")
            axis_len = vol.shape[2] if plane == "sagittal" else vol.shape[1]
            pos = st.slider(
                "Position (column)" if plane == "sagittal" else "Position (row)",
                0,
                axis_len - 1,
                axis_len // 2,
                key=f"browse_pos_{plane}",
                help="Sagittal: column through the spine (image centre by default). "
                "Coronal: row from anterior (0) to posterior.",
            )
            st.image(
                _reformat_png(cid, case.image_sha256, plane, int(pos), float(ww), float(wl), tuple(lines), levels),
                caption=f"{plane.capitalize()} reformat, head at the top, true aspect "
                f"({sp.slice or 0:.2f} mm slices). Lines: red = measured L3"
                + (", orange = automatic L3" if len(lines) > 1 and lines[1][1] == "L3 auto" else "")
                + ", yellow = current slice"
                + (f"; levels: {', '.join(lv.label for lv in levels)}" if levels else "; no vertebral levels detected"),
            )
        else:
            st.info("A single slice has no sagittal or coronal view.")

    # ------------------------------------------------------------ L3 override
    st.divider()
    l3 = result.get("l3") or {}
    how = (
        l3_choice_words(
            overridden=bool(analysis.l3_overridden),
            auto_index=analysis.l3_auto_index,
            method=l3.get("method"),
            confidence=l3.get("confidence"),
        )
        if analysis is not None
        else "no analysis"
    )
    st.markdown(
        f"**Measured slice:** {measured} (z = {fmt(float(vol.z_mm[measured]), 1, 'mm')}) · **L3:** {how}"
        + (
            f" · **automatic L3:** {analysis.l3_auto_index}"
            if analysis is not None and analysis.l3_auto_index is not None and not analysis.l3_overridden
            else ""
        )
    )
    cands = l3.get("candidates") or []
    if cands:
        st.caption(
            "Other candidates: "
            + ", ".join(f"slice {c.get('index')} (score {fmt(c.get('score'), 2)})" for c in cands[:5])
        )
    may_edit = auth.can(Permission.EDIT)
    if st.button(
        f"Use slice {k} as L3",
        disabled=k == measured or n == 1 or not may_edit,
        type="primary",
        help="Re-segments and re-measures on this slice and records the override (a new analysis and "
        "a new automatic mask version; nothing is lost)." + ("" if may_edit else " Needs the labeller or admin role."),
    ):
        with st.spinner(f"Segmenting and measuring slice {k}…"):
            try:
                v = backend.reanalyse_at(
                    cid, k, actor=state.author(), parent_version_id=version.id if version is not None else None
                )
            except SarcoError as exc:
                st.error(str(exc))
            else:
                state.flash(
                    "success", f"L3 set to slice {k}: new version {v.number}, SMA {v.sma_cm2:.1f} cm².", page="browse"
                )
                st.rerun()

    st.divider()
    case_admin.section(cid)
