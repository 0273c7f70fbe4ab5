"""Session-state keys and small accessors shared by the pages."""

from __future__ import annotations

import re
import time
from typing import Any

import streamlit as st

from sarco_core import settings

CASE_ID = "case_id"  # the case every page works on
AUTHOR = "author"  # who is editing (free text, stored with each saved version)
LAST_RESULT = "last_result"  # case id whose result card the Upload page shows
EDIT = "edit_state"  # {case_id: EditSession}
FLASH = "flash"  # one-shot messages shown on the next run


def default_author() -> str:
    return settings.author()


def init() -> None:
    st.session_state.setdefault(AUTHOR, default_author())
    st.session_state.setdefault(EDIT, {})
    st.session_state.setdefault(FLASH, [])


def as_case_id(v: Any) -> int | None:
    """A case id from an int or a picker label such as '#12 · name' (None when there is none)."""
    if v is None:
        return None
    if isinstance(v, int):
        return v
    m = re.match(r"\s*#?(\d+)", str(v))
    return int(m.group(1)) if m else None


def case_id() -> int | None:
    return as_case_id(st.session_state.get(CASE_ID))


def set_case(cid: int | None) -> None:
    st.session_state[CASE_ID] = cid


def author() -> str:
    a = str(st.session_state.get(AUTHOR) or "").strip()
    return a or default_author()


FLASH_TTL_S = 10.0


def flash(kind: str, text: str, page: str | None = None) -> None:
    """Queue a message (kind = success | info | warning | error) shown for the next few seconds of reruns
    (components such as the canvas may trigger an extra rerun right after an action), on ``page`` only
    when given."""
    st.session_state.setdefault(FLASH, []).append((kind, text, time.monotonic() + FLASH_TTL_S, page))


def show_flashes(page: str | None = None) -> None:
    now = time.monotonic()
    keep = [m for m in st.session_state.get(FLASH, []) if len(m) == 4 and m[2] > now]
    for kind, text, _, where in keep:
        if where is None or where == page:
            getattr(st, kind, st.info)(text)
    st.session_state[FLASH] = keep


def get(key: str, default: Any = None) -> Any:
    return st.session_state.get(key, default)
