"""Case housekeeping under the Browse and Case pages: audit trail and (soft, audited) deletion (admin only)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from sarco_core.auth import Permission
from sarco_core.errors import SarcoError
from ui import auth, backend, state


def section(case_id: int) -> None:
    store = backend.store()
    with st.expander("Audit trail of this case"):
        events = store.audit(case_id)
        rows = [
            {
                "time (UTC)": e.time.strftime("%Y-%m-%d %H:%M:%S"),
                "who": e.actor,
                "what": e.action,
                "details": ", ".join(f"{k}={v}" for k, v in e.details.items() if v not in (None, "", [])),
            }
            for e in events
        ]
        if rows:
            st.table(pd.DataFrame(rows))
        else:
            st.caption("No events.")
    if not auth.can(Permission.DELETE):
        return
    with st.expander("Delete this case"):
        st.caption(
            "Deleting hides the case from every list and from the cohort. It stays in the database and the "
            "audit trail records who deleted it and why."
        )
        reason = st.text_input("Reason (required)", key=f"delete_reason_{case_id}")
        sure = st.checkbox("Yes, delete this case", key=f"delete_sure_{case_id}")
        if st.button("Delete case", type="secondary", disabled=not (sure and reason.strip()), key=f"delete_{case_id}"):
            try:
                store.delete_case(case_id, actor=state.author(), reason=reason.strip())
            except SarcoError as exc:
                st.error(str(exc))
            else:
                state.set_case(None)
                msg = f"Case #{case_id} deleted (reason: {reason.strip()})."
                state.flash("success", msg, page="browse")
                state.flash("success", msg, page="case")
                st.rerun()
