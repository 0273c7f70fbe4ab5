"""Edit page: brush editing of the measured slice's mask with undo/redo, live SMA, versioned saves.

Each stroke is committed as soon as the canvas reports it: the strokes image is turned into a new mask
by :func:`ui.strokes.apply_strokes`, pushed on an undo stack in session state, and the canvas is cleared
(new key) with the updated overlay as its background.

The comment box (:mod:`ui.edit_comment`) keeps its text through every rerun until it is saved with a version.

Test hook: ``st.session_state["edit_inject"] = [(rgba, mode, label), ...]`` is applied exactly like canvas
output on the next run (AppTest cannot draw on the canvas component).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from sarco_core.auth import Permission
from sarco_core.errors import ConflictError, SarcoError
from sarco_core.metrics import DEFAULT_GATES, measure_slice
from ui import auth, backend, cases, state
from ui.edit_comment import clear_comment, comment_box
from ui.render import TISSUE_GATES, TISSUES, WINDOW_PRESETS, AxialView, axial_image
from ui.strokes import EditHistory, apply_strokes
from ui.text import fmt

INJECT = "edit_inject"


@dataclass
class EditSession:
    case_id: int
    parent_version_id: int
    parent_number: int
    history: EditHistory
    auto_mask: np.ndarray
    nonce: int = 0
    strokes: int = 0
    log: list[str] = field(default_factory=list)
    conflict: str | None = None  # the refusal of the last save, shown at the save button until resolved


def conflict_text(newer: Any, parent_number: int) -> str:
    return (
        f"Not saved: version {newer.number} was saved by {newer.author} at {newer.created_at:%H:%M} UTC "
        f"({newer.created_at:%Y-%m-%d}) after you started from version {parent_number}. Your strokes and your "
        "comment are kept; review and save again."
    )


def reapply_on_newest(s: EditSession, parent_mask: np.ndarray, newest: Any, newest_mask: np.ndarray) -> EditSession:
    """A new session on top of ``newest`` carrying the user's strokes: every pixel the user changed from the
    version they started from takes the user's label; all other pixels keep the newest version's label.
    The comment box is per case and keeps its text; the strokes stay undoable."""
    mine = s.history.current
    if mine.shape != newest_mask.shape:
        raise ValueError("the newest version has another grid")
    changed = mine != parent_mask
    merged = newest_mask.copy()
    merged[changed] = mine[changed]
    new = EditSession(
        case_id=s.case_id,
        parent_version_id=newest.id,
        parent_number=newest.number,
        history=EditHistory(newest_mask),
        auto_mask=s.auto_mask,
        nonce=s.nonce + 1,
        strokes=s.strokes,
    )
    if (merged != newest_mask).any():
        new.history.push(merged)
    st.session_state.setdefault(state.EDIT, {})[s.case_id] = new
    return new


def _session(case_id: int, latest: Any, auto_mask: np.ndarray, latest_mask: np.ndarray) -> EditSession:
    sessions: dict[int, EditSession] = st.session_state.setdefault(state.EDIT, {})
    s = sessions.get(case_id)
    if s is None or (s.parent_version_id != latest.id and not s.history.dirty):
        s = EditSession(
            case_id=case_id,
            parent_version_id=latest.id,
            parent_number=latest.number,
            history=EditHistory(latest_mask),
            auto_mask=auto_mask,
        )
        sessions[case_id] = s
    return s


def commit_strokes(s: EditSession, rgba: np.ndarray, mode: str, label: int, hu: np.ndarray, smart: bool) -> int:
    """Apply one canvas image to the session; returns the number of pixels that changed."""
    before = s.history.current
    gate = TISSUE_GATES[label] if smart else None
    after = apply_strokes(before, rgba, mode, label, hu=hu if smart else None, gate=gate)  # type: ignore[arg-type]
    changed = int((after != before).sum())
    if changed:
        s.history.push(after)
        s.strokes += 1
    return changed


def _measure(hu: np.ndarray, mask: np.ndarray, row_mm: float, col_mm: float) -> Any:
    return measure_slice(hu, mask, row_mm=row_mm, col_mm=col_mm, kind="labels")


def page() -> None:
    st.title("Edit the mask")
    state.init()
    state.show_flashes("edit")
    if not auth.require(Permission.EDIT, "edit masks"):
        return
    cid = cases.require_case("edit")
    if cid is None:
        return
    store = backend.store()
    try:
        rec = store.get_case(cid)
        vol = backend.case_volume(cid)
        versions = store.versions(cid)
    except SarcoError as exc:
        st.error(str(exc))
        return
    latest = versions[-1]
    k = int(latest.slice_index)
    hu = np.asarray(vol.hu[k])
    sp = vol.spacing_mm
    auto_v = next((v for v in reversed(versions) if v.source == "auto" and v.slice_index == k), versions[0])
    s = _session(cid, latest, store.get_mask(auto_v.id), store.get_mask(latest.id))
    stale = s.parent_version_id != latest.id
    if stale:
        st.warning(
            f"Version {latest.number} was saved (by {latest.author}) after you started editing from "
            f"version {s.parent_number}. Saving now will be refused: use **Reload the newest version and "
            "reapply my strokes** under the save button, or discard your edits."
        )

    st.caption(
        f"Case **{rec.label}** · slice {k} (z = {fmt(latest.z_mm, 1, 'mm')}) · editing on top of version "
        f"{s.parent_number} · areas are HU-gated (muscle {DEFAULT_GATES.muscle[0]:g}..{DEFAULT_GATES.muscle[1]:g} HU)."
    )

    # ------------------------------------------------------------ injected strokes (test hook, see module doc)
    for rgba, m, lab in st.session_state.pop(INJECT, []) or []:
        commit_strokes(s, np.asarray(rgba), m, int(lab), hu, bool(st.session_state.get("edit_smart", False)))
        s.nonce += 1

    # ------------------------------------------------------------ tools
    tools, view = st.columns([1, 3], gap="medium")
    with tools:
        tissue = st.radio(
            "Tissue",
            options=[1, 2, 3],
            format_func=lambda v: TISSUES[v][0],
            key="edit_tissue",
            help="Which label the brush paints or erases. Muscle first: SMA is what the classification uses.",
        )
        mode = st.radio(
            "Brush",
            options=["add", "erase"],
            format_func=lambda m: "Add (paint)" if m == "add" else "Erase",
            horizontal=True,
            key="edit_mode",
            help="Add paints the chosen tissue; Erase removes only the chosen tissue under the brush.",
        )
        brush = st.slider("Brush size (image pixels)", 1, 30, 6, key="edit_brush")
        smart = st.checkbox(
            "Only pixels in the tissue's HU range",
            value=False,
            key="edit_smart",
            help="A 'smart' brush: changes only pixels whose HU lies inside the tissue's gate "
            "(muscle −29..150, SAT −190..−30, VAT −150..−50).",
        )
        preset = st.selectbox("Window", list(WINDOW_PRESETS), index=1, key="edit_window")
        opacity = st.slider("Overlay opacity", 0.0, 1.0, 0.4, 0.05, key="edit_opacity")
        zoom_w = st.select_slider(
            "Canvas width (px)", options=[384, 512, 640, 768, 896, 1024], value=640, key="edit_width"
        )
        c1, c2 = st.columns(2)
        if c1.button("Undo", icon=":material/undo:", disabled=not s.history.can_undo(), width="stretch"):
            s.history.undo()
            s.nonce += 1
            st.rerun()
        if c2.button("Redo", icon=":material/redo:", disabled=not s.history.can_redo(), width="stretch"):
            s.history.redo()
            s.nonce += 1
            st.rerun()
        if st.button(
            "Reset to automatic mask",
            width="stretch",
            help="Replace the working mask with the automatic one (undoable).",
        ):
            s.history.reset(s.auto_mask)
            s.nonce += 1
            st.rerun()
        if st.button("Discard my edits", width="stretch", disabled=not s.history.dirty):
            st.session_state[state.EDIT].pop(cid, None)
            st.rerun()

    # ------------------------------------------------------------ canvas

    w_level = WINDOW_PRESETS[preset]
    disp_w = int(zoom_w)
    disp_h = int(round(hu.shape[0] * sp.row / sp.col * disp_w / hu.shape[1]))
    bg = axial_image(
        hu,
        s.history.current,
        row_mm=sp.row,
        col_mm=sp.col,
        view=AxialView(
            width=w_level[0], level=w_level[1], opacity=opacity, display_px=disp_w, markers=True, scale_bar=True
        ),
    )
    with view:
        rgba = _canvas(bg, disp_w, disp_h, mode, tissue, brush * disp_w / hu.shape[1], f"canvas_{cid}_{s.nonce}")
        if rgba is not None and (np.asarray(rgba)[..., 3] > 127).any():
            if commit_strokes(s, rgba, mode, int(tissue), hu, smart):
                s.nonce += 1
                st.rerun()
        st.caption(
            "Draw with the mouse (or a pen). Each stroke is applied when you release the button; "
            "R = patient right. Use Undo/Redo on the left, not the canvas toolbar."
        )

    # ------------------------------------------------------------ live numbers
    cur = _measure(hu, s.history.current, sp.row, sp.col)
    saved = _measure(hu, store.get_mask(latest.id), sp.row, sp.col)
    auto = _measure(hu, s.auto_mask, sp.row, sp.col)
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(
        "SMA now (cm²)",
        fmt(cur.sma_cm2, 2),
        delta=f"{cur.sma_cm2 - saved.sma_cm2:+.2f} vs v{latest.number}" if s.history.dirty else None,
    )
    m2.metric(
        "Automatic SMA (cm²)", fmt(auto.sma_cm2, 2), help=f"Version {auto_v.number}, made by the automatic method."
    )
    m3.metric("Muscle attenuation now (HU)", fmt(cur.muscle_hu_mean, 1))
    m4.metric("Strokes this session", s.strokes)
    st.caption(
        f"IMAT {fmt(cur.imat_cm2, 2, 'cm²')} · SAT {fmt(cur.sat_cm2, 2, 'cm²')} · VAT {fmt(cur.vat_cm2, 2, 'cm²')} · "
        f"pixel {sp.row:.3f} × {sp.col:.3f} mm"
    )

    # ------------------------------------------------------------ save
    with st.container(border=True):
        st.markdown("**Save as a new version**")
        st.caption(f"Saving as **{state.author()}** (the signed-in user).")
        comment = comment_box(cid)
        submitted = st.button("Save version", type="primary", icon=":material/save:", key="save_version")
    if submitted:
        if not s.history.dirty:
            st.info("Nothing to save: the mask equals the version you started from.")
        else:
            try:
                v = store.save_version(
                    cid,
                    s.history.current,
                    author=state.author(),
                    comment=comment,
                    parent_version_id=s.parent_version_id,
                )
            except ConflictError:
                newest = store.versions(cid)[-1]
                s.conflict = conflict_text(newest, s.parent_number)
            except SarcoError as exc:
                st.error(str(exc))
            else:
                st.session_state[state.EDIT].pop(cid, None)
                clear_comment(cid)
                state.flash("success", f"Saved version {v.number}: SMA {v.sma_cm2:.2f} cm².", page="edit")
                st.rerun()
    if s.conflict or (stale and s.history.dirty):
        conflict_block(cid, s, latest)

    history_section(cid, versions)


def conflict_block(cid: int, s: EditSession, latest: Any) -> None:
    """The refusal at the save button, and the one-click way forward (nothing saved or drawn is lost)."""
    st.error(s.conflict or conflict_text(latest, s.parent_number), icon=":material/sync_problem:")
    c1, c2 = st.columns(2)
    if c1.button("Reload the newest version and reapply my strokes", type="primary", key="reapply_btn"):
        store = backend.store()
        if latest.slice_index != store.get_version(s.parent_version_id).slice_index:
            st.error(
                f"Version {latest.number} is on slice {latest.slice_index}, your strokes on slice "
                f"{store.get_version(s.parent_version_id).slice_index}: they cannot be reapplied. Discard your "
                "edits, or restore your starting version first."
            )
            return
        reapply_on_newest(s, store.get_mask(s.parent_version_id), latest, store.get_mask(latest.id))
        state.flash(
            "info",
            f"Your strokes are now on top of version {latest.number} — check the mask, then save.",
            page="edit",
        )
        st.rerun()
    if c2.button("Discard my edits and open the newest version", key="discard_conflict_btn"):
        st.session_state[state.EDIT].pop(cid, None)
        st.rerun()


def history_section(cid: int, versions: list[Any], *, can_restore: bool = True) -> None:
    st.subheader("Version history")
    rows = [
        {
            "version": v.number,
            "saved (UTC)": v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "author": v.author,
            "source": v.source,
            "comment": v.comment,
            "slice": v.slice_index,
            "SMA (cm²)": f"{v.sma_cm2:.2f}",
            "SMA change (cm²)": "" if v.sma_change_cm2 is None else f"{v.sma_change_cm2:+.2f}",
            "muscle HU": "" if v.muscle_hu_mean is None else f"{v.muscle_hu_mean:.1f}",
        }
        for v in versions
    ]
    st.table(pd.DataFrame(rows).set_index("version"))
    if not can_restore:
        st.caption("Restoring a version needs the labeller or admin role.")
        return
    c1, c2 = st.columns([2, 1])
    options = [v.number for v in versions]
    pick = c1.selectbox(
        "Restore version",
        options,
        index=0,
        key="restore_pick",
        help="Restoring copies that version into a new version; nothing is overwritten.",
    )
    if c2.button("Restore as new version", width="stretch"):
        target = next(v for v in versions if v.number == pick)
        try:
            v = backend.store().restore_version(
                cid, target.id, author=state.author(), parent_version_id=versions[-1].id
            )
        except SarcoError as exc:
            st.error(str(exc))
        else:
            st.session_state[state.EDIT].pop(cid, None)
            state.flash("success", f"Restored version {pick} as version {v.number}.", page="edit")
            st.rerun()


def _canvas(bg: Any, w: int, h: int, mode: str, tissue: int, stroke_px: float, key: str) -> np.ndarray | None:
    """The drawable canvas (imported lazily: it registers a component at import time)."""
    try:
        from streamlit_drawable_canvas import st_canvas
    except Exception as exc:  # pragma: no cover - depends on the runtime
        st.warning(f"The drawing canvas is unavailable here ({exc}).")
        return None
    colour = TISSUES[int(tissue)][1]
    stroke = f"rgba({colour[0]},{colour[1]},{colour[2]},0.85)" if mode == "add" else "rgba(255,255,255,0.85)"
    res = st_canvas(
        stroke_width=max(1, int(round(stroke_px))),
        stroke_color=stroke,
        background_image=bg,
        update_streamlit=True,
        height=h,
        width=w,
        drawing_mode="freedraw",
        return_image_data=True,
        key=key,
    )
    image: np.ndarray | None = res.image_data  # streamlit-drawable-canvas is untyped
    return image
