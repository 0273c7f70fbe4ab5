"""Case page (``?case=N``, shareable, survives a reload): the chosen version's image, numbers, L3 choice and how it
was made, QC flags, sign-off, every export of that version, the version history with restore, the analyses and
the audit trail."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from sarco_core.auth import Permission
from sarco_core.errors import SarcoError
from sarco_core.flags import flag_sentences
from ui import auth, backend, case_admin, cases, exports, result_card, state
from ui.edit import history_section
from ui.text import fmt


def page() -> None:
    state.init()
    state.show_flashes("case")
    cid = cases.require_case("case")
    if cid is None:
        return
    store = backend.store()
    try:
        case = store.get_case(cid)
        versions = store.versions(cid)
    except SarcoError as exc:
        st.error(str(exc))
        return
    st.title(f"Case #{case.id}: {case.label}")
    st.caption(f"Link to this case: `?case={case.id}` (this page's address; it survives a reload).")
    if not versions:
        st.info("This case has no mask version yet.")
        return
    numbers = [v.number for v in versions]
    pick = st.selectbox(
        "Version shown",
        numbers[::-1],
        index=0,
        key=f"case_version_{cid}",
        format_func=lambda n: f"version {n}" + (" (latest)" if n == numbers[-1] else ""),
        help="Numbers, flags and every export below are for this version.",
    )
    v = next(x for x in versions if x.number == pick)
    result_card.render(cid, version_id=v.id, show_exports=False)

    # ------------------------------------------------------------ sign-off
    confirms = [e for e in store.audit(cid) if e.action == "confirm"]
    if confirms:
        st.caption(
            "Confirmed: "
            + "; ".join(
                f"version {e.details.get('version')} by {e.actor}, {e.time:%Y-%m-%d %H:%M} UTC" for e in confirms
            )
        )
    if auth.can(Permission.CONFIRM) and st.button(
        f"Confirm this result (version {v.number})",
        icon=":material/task_alt:",
        key="confirm_btn",
        help="Records in the audit trail that you checked the level, the mask and the flags of this version.",
    ):
        try:
            store.confirm_version(cid, v.id, actor=state.author())
        except SarcoError as exc:
            st.error(str(exc))
        else:
            state.flash("success", f"Version {v.number} confirmed by {state.author()}.", page="case")
            st.rerun()

    # ------------------------------------------------------------ exports of the chosen version
    st.divider()
    exports.buttons(cid, v.id)

    # ------------------------------------------------------------ history, analyses, audit
    st.divider()
    history_section(cid, versions, can_restore=auth.can(Permission.EDIT))
    st.subheader("Analyses")
    rows = [
        {
            "analysis": a.id,
            "time (UTC)": a.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            "by": a.actor,
            "method": a.method or "",
            "model": " ".join(p for p in (a.model_name, a.model_version) if p),
            "slice": a.slice_index,
            "L3": "set by hand" if a.l3_overridden else "automatic",
            "automatic L3 slice": "" if a.l3_auto_index is None else a.l3_auto_index,
            "confidence": fmt(a.confidence * 100, 0, "%") if a.confidence is not None else "—",
            "flags": " ".join(flag_sentences(a.qc_flags)),
        }
        for a in store.analyses(cid)
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    case_admin.section(cid)
