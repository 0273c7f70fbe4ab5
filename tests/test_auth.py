"""Sign-in and roles: argon2id users in the store, the ``sarco users`` CLI, the sign-in gate and per-role pages."""

from __future__ import annotations

import io

import pytest

from sarco_core.auth import Permission, Role, allowed
from sarco_core.cli import main
from sarco_core.errors import AuthError
from sarco_core.store import Store, default_db_url
from tests.app_helpers import app, seed_case

PW = "correct horse"


def test_users_are_stored_hashed_and_checked() -> None:
    store = Store.open(default_db_url())
    assert store.count_users() == 0
    u = store.add_user("ann", role="labeller", password=PW)
    assert u.role is Role.LABELLER and store.count_users() == 1
    with store.engine.connect() as c:
        stored = c.exec_driver_sql("SELECT password_hash FROM users").scalar_one()
    assert stored.startswith("$argon2id$") and PW not in stored
    assert store.authenticate("ann", PW).name == "ann"
    with pytest.raises(AuthError, match="Wrong user name or password"):
        store.authenticate("ann", "wrong password")
    with pytest.raises(AuthError, match="Wrong user name or password"):  # same words: no user-name probing
        store.authenticate("nobody", PW)
    with pytest.raises(AuthError, match="exists already"):
        store.add_user("ann", role="admin", password=PW)
    with pytest.raises(AuthError, match="too short"):
        store.add_user("bob", role="admin", password="short")
    with pytest.raises(AuthError, match="Unknown role"):
        store.add_user("bob", role="boss", password=PW)
    token = store.open_session(u.id)
    assert store.session_user(token) == u and store.session_user("forged") is None
    store.set_disabled("ann", True, actor="admin")
    assert store.session_user(token) is None  # disabling signs out everywhere
    with pytest.raises(AuthError, match="disabled"):
        store.authenticate("ann", PW)
    actions = [e.action for e in store.audit()]
    assert actions[:1] == ["add_user"] and "sign_in" in actions and "disable_user" in actions


def test_no_pages_folder_so_every_page_runs_behind_the_gate() -> None:
    from tests.app_helpers import REPO

    assert not (REPO / "pages").exists(), (
        "a pages/ folder makes Streamlit run /PAGE without app.py (no sign-in) when it is the first request; "
        "keep the page files in views/"
    )


def test_roles_grant_what_the_issue_lists() -> None:
    assert allowed(Role.CLINICIAN, Permission.UPLOAD) and not allowed(Role.CLINICIAN, Permission.EDIT)
    assert allowed(Role.LABELLER, Permission.EDIT) and not allowed(Role.LABELLER, Permission.DELETE)
    assert allowed(Role.RESEARCHER, Permission.EXPORT) and not allowed(Role.RESEARCHER, Permission.EDIT)
    assert all(allowed(Role.ADMIN, p) for p in Permission)


def test_users_cli_adds_the_first_admin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(PW + "\n"))
    assert main(["users", "add", "root", "--role", "admin", "--password-stdin"]) == 0
    assert "added user 'root' with role admin" in capsys.readouterr().out
    assert main(["users", "list"]) == 0
    assert "root\tadmin" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "add", "x", "--role", "admin", "--password-stdin"]) == 2
    assert "too short" in capsys.readouterr().err
    assert Store.open(default_db_url()).authenticate("root", PW).role is Role.ADMIN


def _sign_in(at, name: str, password: str):  # type: ignore[no-untyped-def]
    at.text_input(key="sign_in_name").input(name)
    at.text_input(key="sign_in_password").input(password)
    return next(b for b in at.button if b.label == "Sign in").click().run()


def test_sign_in_gate_and_roles_on_pages() -> None:
    store = Store.open(default_db_url())
    cid = seed_case(store)
    for name, role in (("res", "researcher"), ("lab", "labeller"), ("boss", "admin")):
        store.add_user(name, role=role, password=PW)
    at = app()
    assert [t.value for t in at.title] == ["sarco — sign in"] and not at.sidebar.selectbox
    _sign_in(at, "res", "not the password")
    assert any("Wrong user name or password" in e.value for e in at.error)
    assert [t.value for t in at.title] == ["sarco — sign in"]
    _sign_in(at, "res", PW)
    assert not at.exception
    assert any("Signed in as **res** · researcher" in m.value for m in at.sidebar.markdown)
    # a researcher has no Edit page and no restore; the Case page offers the exports
    at.switch_page("views/case.py").run()
    assert not at.exception
    assert not any(b.label == "Restore as new version" for b in at.button)
    labels = [getattr(b, "label", None) for b in at.get("download_button")]
    assert labels == ["Report (PDF)", "DICOM-SEG", "Slice-O-Matic TAG", "Mask (NIfTI)", "Overlay (PNG)"]
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not in a researcher's menu
        at.switch_page("views/edit.py")
    # a labeller can edit but cannot delete, and saves under the signed-in name
    lab = app()
    _sign_in(lab, "lab", PW)
    lab.switch_page("views/case.py").run()
    assert any(b.label == "Restore as new version" for b in lab.button)
    assert not any(b.label == "Delete case" for b in lab.button)
    assert not lab.get("download_button")
    lab.switch_page("views/edit.py").run()
    assert any("Saving as **lab**" in c.value for c in lab.caption)
    boss = app()
    _sign_in(boss, "boss", PW)
    boss.switch_page("views/browse.py").run()
    assert any(b.label == "Delete case" for b in boss.button)
    assert cid in [c.id for c in store.list_cases()]


def test_admin_users_page_adds_a_user_and_changes_a_role() -> None:
    store = Store.open(default_db_url())
    store.add_user("boss", role="admin", password=PW)
    at = app()
    _sign_in(at, "boss", PW)
    at.switch_page("views/users.py").run()
    assert not at.exception
    name, pw = at.text_input[0], at.text_input[1]
    name.input("newbie")
    pw.input("short")
    next(b for b in at.button if b.label == "Add user").click().run()
    assert any("too short" in e.value for e in at.error) and store.count_users() == 1
    at.text_input[0].input("newbie")  # the form starts empty again after each try
    at.text_input[1].input(PW)
    next(b for b in at.button if b.label == "Add user").click().run()
    assert [(u.name, u.role) for u in store.users()] == [("boss", Role.ADMIN), ("newbie", Role.CLINICIAN)]
    at.selectbox(key="users_pick").set_value("newbie")
    at.selectbox(key="users_role").set_value("labeller")
    next(b for b in at.button if b.label == "Set role").click().run()
    assert store.authenticate("newbie", PW).role is Role.LABELLER
    assert [e.actor for e in store.audit() if e.action in ("add_user", "set_role")][-2:] == ["boss", "boss"]
