"""Admin page: list users, add one, change a role, disable an account (all audited)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from sarco_core.auth import Permission, Role
from sarco_core.errors import SarcoError
from ui import auth, backend, state


def page() -> None:
    st.title("Users")
    state.show_flashes("users")
    if not auth.require(Permission.USERS, "manage users"):
        return
    store = backend.store()
    users = store.users()
    if users:
        st.table(
            pd.DataFrame(
                [
                    {
                        "name": u.name,
                        "role": u.role.value,
                        "e-mail": u.email or "",
                        "status": "disabled" if u.disabled else "active",
                    }
                    for u in users
                ]
            )
        )
    else:
        st.info("No users yet: the app runs in local single-user mode. Add an admin first.")
    with st.form("add_user", clear_on_submit=True):
        st.markdown("**Add a user**")
        c1, c2 = st.columns(2)
        name = c1.text_input("User name")
        role = c2.selectbox("Role", [r.value for r in Role])
        pw = st.text_input("Initial password (at least 8 characters)", type="password")
        if st.form_submit_button("Add user"):
            try:
                store.add_user(name, role=role, password=pw, actor=state.author())
            except SarcoError as exc:
                st.error(str(exc))
            else:
                state.flash("success", f"Added {name.strip()} ({role}).", page="users")
                st.rerun()
    if users:
        st.markdown("**Change a role or disable an account**")
        c1, c2, c3 = st.columns(3)
        who = c1.selectbox("User", [u.name for u in users], key="users_pick")
        new_role = c2.selectbox("New role", [r.value for r in Role], key="users_role")
        if c3.button("Set role"):
            try:
                store.set_role(who, new_role, actor=state.author())
            except SarcoError as exc:
                st.error(str(exc))
            else:
                state.flash("success", f"{who} is now {new_role}.", page="users")
                st.rerun()
        u = next(x for x in users if x.name == who)
        if st.button("Enable account" if u.disabled else "Disable account", disabled=who == state.author()):
            store.set_disabled(who, not u.disabled, actor=state.author())
            st.rerun()
