"""``sarco users add NAME --role R`` (and list / set-role / passwd / disable / enable): the app's sign-in users."""

from __future__ import annotations

import argparse
import getpass
import sys

from sarco_core.auth import Role
from sarco_core.errors import AuthError

NAME = "users"
HELP = "Manage who may sign in to the app: add a user (the first one should be an admin), list, change role."


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    roles = [r.value for r in Role]
    a = sub.add_parser("add", help="add a user (asks for the password twice)")
    a.add_argument("name")
    a.add_argument("--role", required=True, choices=roles)
    a.add_argument("--email", default=None, help="e-mail for single sign-on (st.login), optional")
    a.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    a.add_argument("--sso-only", action="store_true", help="no password: sign-in only through single sign-on")
    sub.add_parser("list", help="list users and roles")
    r = sub.add_parser("set-role", help="change a user's role")
    r.add_argument("name")
    r.add_argument("role", choices=roles)
    w = sub.add_parser("passwd", help="set a new password (signs the user out everywhere)")
    w.add_argument("name")
    w.add_argument("--password-stdin", action="store_true")
    for verb in ("disable", "enable"):
        d = sub.add_parser(verb, help=f"{verb} a user's sign-in")
        d.add_argument("name")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise AuthError("The two passwords differ; nothing was changed. Run the command again.")
    return first


def run(args: argparse.Namespace) -> int:
    from sarco_core.store import Store

    store = Store.open()
    actor = "cli:" + (getpass.getuser() or "unknown")
    if args.action == "add":
        if args.sso_only and not args.email:
            raise AuthError("--sso-only needs --email (the address the identity provider reports).")
        pw = None if args.sso_only else _password(args.password_stdin)
        u = store.add_user(args.name, role=args.role, password=pw, email=args.email, actor=actor)
        print(f"added user {u.name!r} with role {u.role.value} to {store.display_url}")
    elif args.action == "list":
        users = store.users()
        if not users:
            print(
                "no users: the app runs in local single-user mode on localhost only "
                "(add one with `python -m sarco_core users add NAME --role admin`)"
            )
        for u in users:
            print(f"{u.name}\t{u.role.value}\t{u.email or '-'}\t{'disabled' if u.disabled else 'active'}")
    elif args.action == "set-role":
        u = store.set_role(args.name, args.role, actor=actor)
        print(f"{u.name}: role {u.role.value}")
    elif args.action == "passwd":
        store.set_password(args.name, _password(args.password_stdin), actor=actor)
        print(f"{args.name}: password changed")
    else:
        u = store.set_disabled(args.name, args.action == "disable", actor=actor)
        print(f"{u.name}: {'disabled' if u.disabled else 'enabled'}")
    return 0
