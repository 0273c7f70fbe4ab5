"""Sign-in, roles and the local single-user mode of the app.

* **Local single-user mode**: when the server listens on a loopback address only (``.streamlit/config.toml``
  sets ``server.address = "localhost"``) and the database has no users yet, nobody signs in; the person at
  the machine works as ``$SARCO_AUTHOR`` / ``$USER`` with every permission.
* Otherwise everyone signs in (name + password, argon2id-hashed in the database; or single sign-on through
  Streamlit's ``st.login`` when ``[auth]`` is configured in ``.streamlit/secrets.toml`` and the user's e-mail
  is on an account). A server reachable beyond localhost with no users refuses to run and says how to add the
  first admin. A sign-in survives a page reload through a random token in a cookie (the store keeps its
  SHA-256; 7 days).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from sarco_core.auth import Permission, Role, allowed
from sarco_core.errors import AuthError, SarcoError
from ui import backend, state

SIGNED_IN = "signed_in"
PENDING_COOKIE = "auth_cookie_pending"
COOKIE = "sarco_session"
LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
COOKIE_MAX_AGE_S = 7 * 24 * 3600


@dataclass(frozen=True)
class SignedIn:
    name: str
    role: Role
    local: bool = False  # local single-user mode (nobody signed in)
    token: str | None = None


def bound_to_loopback() -> bool:
    return str(st.get_option("server.address") or "").strip().strip("[]") in LOOPBACK


def local_mode() -> bool:
    """True when nobody needs to sign in: served on localhost only and no users in the database."""
    return bound_to_loopback() and backend.store().count_users() == 0


def current() -> SignedIn | None:
    u = st.session_state.get(SIGNED_IN)
    return u if isinstance(u, SignedIn) else None


def can(permission: Permission) -> bool:
    u = current()
    return u is not None and allowed(u.role, permission)


def require(permission: Permission, what: str) -> bool:
    """True when the signed-in user may ``what``; otherwise a plain message (and False)."""
    if can(permission):
        return True
    u = current()
    role = u.role.value if u else "none"
    from sarco_core.auth import roles_with

    who = ", ".join(r.value for r in roles_with(permission))
    st.warning(f"Your role ({role}) cannot {what}. Roles that can: {who}. Ask an admin to change your role.")
    return False


def _sign_in(u: SignedIn) -> None:
    st.session_state[SIGNED_IN] = u
    st.session_state[state.AUTHOR] = u.name


def _sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets.toml
        return False


def _from_cookie() -> SignedIn | None:
    try:
        token = st.context.cookies.get(COOKIE)
    except Exception:
        token = None
    if not token:
        return None
    rec = backend.store().session_user(str(token))
    return SignedIn(name=rec.name, role=rec.role, token=str(token)) if rec else None


def _from_sso() -> SignedIn | None:
    if not _sso_configured():
        return None
    try:
        if not st.user.is_logged_in:
            return None
        rec = backend.store().user_by_email(str(st.user.get("email") or ""))
    except AuthError as exc:
        st.error(str(exc))
        return None
    except Exception:
        return None
    return SignedIn(name=rec.name, role=rec.role)


def _write_cookie(token: str | None) -> None:
    value = f"{COOKIE}={token}; max-age={COOKIE_MAX_AGE_S}" if token else f"{COOKIE}=; max-age=0"
    st.html(f"<script>document.cookie = '{value}; path=/; SameSite=Strict';</script>", unsafe_allow_javascript=True)


def gate() -> SignedIn:
    """The signed-in user (or the local user); shows the sign-in form and stops the run when there is none."""
    pending = st.session_state.pop(PENDING_COOKIE, None)
    if pending is not None:
        _write_cookie(pending or None)
    u = current()
    if u is not None and not u.local:
        return u
    local = False
    try:
        local = local_mode()
    except SarcoError as exc:
        st.error(str(exc))
        st.stop()
    if local:
        u = current() or SignedIn(name=state.default_author(), role=Role.ADMIN, local=True)
        _sign_in(u)
        return u
    if u is not None and u.local:  # a user was added while this session ran in local mode
        st.session_state.pop(SIGNED_IN, None)
    u = _from_cookie() or _from_sso()
    if u is not None:
        _sign_in(u)
        return u
    _sign_in_page()
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises


def _sign_in_page() -> None:
    st.title("sarco — sign in")
    if backend.store().count_users() == 0:
        st.error(
            "This app is served beyond localhost, so everyone must sign in, but the database has no users yet. "
            "Create the first admin on the server with `python -m sarco_core users add NAME --role admin`, then "
            "reload this page. (To work alone on your own machine, start it with `streamlit run app.py`, "
            "which listens on localhost only.)"
        )
        return
    with st.form("sign_in"):
        name = st.text_input("User name", key="sign_in_name")
        password = st.text_input("Password", type="password", key="sign_in_password")
        ok = st.form_submit_button("Sign in", type="primary")
    if ok:
        try:
            rec = backend.store().authenticate(name, password)
        except AuthError as exc:
            st.error(str(exc))
        else:
            token = backend.store().open_session(rec.id)
            _sign_in(SignedIn(name=rec.name, role=rec.role, token=token))
            st.session_state[PENDING_COOKIE] = token
            st.rerun()
    if _sso_configured():
        st.button("Sign in with single sign-on", on_click=st.login)
    st.caption("For research use only — not a medical device. Ask an admin for an account.")


def sign_out() -> None:
    u = current()
    if u is not None and u.token:
        try:
            backend.store().close_session(u.token)
        except SarcoError:
            pass
    for k in (SIGNED_IN, state.AUTHOR, state.CASE_ID):
        st.session_state.pop(k, None)
    st.session_state[PENDING_COOKIE] = ""


def sidebar_block() -> None:
    u = current()
    if u is None:
        return
    if u.local:
        st.caption(
            f"Local single-user mode: working as **{u.name}** (all permissions; served on localhost only). "
            "Add users to require sign-in — see the user guide."
        )
        return
    st.markdown(f"Signed in as **{u.name}** · {u.role.value}")
    if st.button("Sign out", key="sign_out", icon=":material/logout:"):
        sign_out()
        if _sso_configured() and st.user.is_logged_in:
            st.logout()
        st.rerun()
