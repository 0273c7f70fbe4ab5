"""The Edit page's comment box: nothing typed into it is lost before it is saved with a version.

The box sits outside any ``st.form``, so its value reaches the session with every rerun (a stroke from the
canvas, any other widget, the Save click) instead of waiting in the browser for a form submit; a rerun that
re-renders the page while the user is still typing then cannot drop a staged value. Its widget key is one per
case (not per parent version), so a newer version saved by someone else, a refused save and the reapplied
strokes keep the text. The page also keeps its own copy per case in ``st.session_state["edit_comments"]``,
which Streamlit never cleans up, and puts it back when Streamlit dropped the widget's state (the page was left
and opened again). The text is cleared only once it was saved with a version.
"""

from __future__ import annotations

import streamlit as st

COMMENTS = "edit_comments"  # {case_id: comment text}: the page's own copy of the comment box
PLACEHOLDER = "e.g. removed arm muscle on the left"


def comment_key(case_id: int) -> str:
    """The comment box's widget key (one per case)."""
    return f"edit_comment_{case_id}"


def comment_box(case_id: int) -> str:
    """Render the comment box of ``case_id`` and return its text ('' when empty)."""
    kept: dict[int, str] = st.session_state.setdefault(COMMENTS, {})
    key = comment_key(case_id)
    if key not in st.session_state:  # first visit, or Streamlit dropped the state of a widget not rendered
        st.session_state[key] = kept.get(case_id, "")
    text = st.text_input("Comment", placeholder=PLACEHOLDER, key=key) or ""
    kept[case_id] = text
    return text


def clear_comment(case_id: int) -> None:
    """Forget the comment once it was saved with a version (the next edit starts with an empty box)."""
    st.session_state.setdefault(COMMENTS, {}).pop(case_id, None)
    st.session_state.pop(comment_key(case_id), None)
