"""Case selection shared by all pages (sidebar picker) and the sidebar footer."""

from __future__ import annotations

import streamlit as st

from sarco_core.errors import SarcoError
from ui import auth, backend, state

PICKER = "case_picker"


def _picked() -> None:
    state.set_case(state.as_case_id(st.session_state.get(PICKER)))


def sidebar() -> None:
    """Sidebar: who is signed in, which case is open (also ``?case=N`` in the URL), model status, database."""
    state.init()
    with st.sidebar:
        auth.sidebar_block()
        try:
            summaries = [c for c in backend.store().list_cases() if not c.deleted]
        except SarcoError as exc:
            st.error(str(exc))
            summaries = []
        if summaries:
            summaries = sorted(summaries, key=lambda c: -c.id)
            ids = [c.id for c in summaries]
            labels = {c.id: f"#{c.id} · {c.label}" + (" · edited" if c.edited else "") for c in summaries}
            cur = state.case_id()
            if cur not in ids:
                if cur is not None:
                    st.warning(f"Case #{cur} does not exist or was deleted; showing the newest case instead.")
                cur = ids[0]
                state.set_case(cur)
            state.sync_url()
            st.session_state[PICKER] = cur  # follow the case chosen elsewhere (upload, review queue)
            st.selectbox(
                "Open case",
                ids,
                key=PICKER,
                on_change=_picked,
                format_func=lambda i: labels.get(state.as_case_id(i) or -1, f"#{i}"),
                help="Every page works on this case.",
            )
        else:
            st.caption("No cases yet — upload a scan.")
        st.divider()
        if backend.model_ready():
            st.caption(backend.model_status())
        else:
            _model_status_live()
        st.caption(f"Case database: `{backend.db_url_display()}`")
        st.caption("For research use only — not a medical device.")


@st.fragment(run_every=1.0)
def _model_status_live() -> None:
    """The model status line, refreshed every second while the model loads (only this line reruns)."""
    st.caption(backend.model_status())


def require_case(page: str) -> int | None:
    cid = state.case_id()
    if cid is None:
        st.info("No case is open. Upload a scan on **Upload & analyse**, or choose a case in the sidebar.")
        st.page_link("views/upload.py", label="Go to Upload & analyse", icon=":material/upload_file:")
        return None
    return cid
