"""Users of the app, their sign-in sessions and result sign-offs (roles and hashing: :mod:`sarco_core.auth`)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from sarco_core.auth import Role, UserRecord, hash_password, parse_role, verify_password
from sarco_core.errors import AuthError, StoreError
from sarco_core.store.core import StoreCore, now_utc
from sarco_core.store.schema import MaskVersion, SignInSession, User

SESSION_DAYS = 7  # a browser stays signed in this long, then asks again


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _rec(u: User) -> UserRecord:
    return UserRecord(id=u.id, name=u.name, role=parse_role(u.role), email=u.email, disabled=bool(u.disabled))


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore(StoreCore):
    """User accounts (name, role, argon2id hash) and reload-proof sign-in tokens."""

    def count_users(self) -> int:
        with self._tx() as s:
            return int(s.scalar(select(func.count()).select_from(User)) or 0)

    def users(self) -> list[UserRecord]:
        with self._tx() as s:
            return [_rec(u) for u in s.scalars(select(User).order_by(User.name))]

    def add_user(
        self, name: str, *, role: Role | str, password: str | None, email: str | None = None, actor: str = "cli"
    ) -> UserRecord:
        """Create a user; ``password=None`` makes a single-sign-on-only account (needs ``email``)."""
        clean = str(name or "").strip()
        if not clean or len(clean) > 128:
            raise AuthError("A user name is needed (1 to 128 characters).")
        r = parse_role(role) if isinstance(role, str) else role
        if password is None and not email:
            raise AuthError(f"User {clean!r} needs a password, or an e-mail address for single sign-on.")
        pw_hash = hash_password(password) if password is not None else None
        try:
            with self._tx() as s:
                row = User(
                    name=clean,
                    role=r.value,
                    password_hash=pw_hash,
                    email=email or None,
                    created_at=now_utc(),
                    disabled=False,
                )
                s.add(row)
                s.flush()
                self._audit(s, "add_user", actor, None, user=clean, role=r.value)
                return _rec(row)
        except IntegrityError:
            raise AuthError(
                f"A user named {clean!r} (or with that e-mail) exists already; pick another name."
            ) from None

    def _user(self, s: Session, name: str) -> User:
        row = s.scalars(select(User).where(User.name == str(name).strip())).first()
        if row is None:
            raise AuthError(f"There is no user named {name!r}; see `python -m sarco_core users list`.")
        return row

    def set_role(self, name: str, role: Role | str, *, actor: str) -> UserRecord:
        r = parse_role(role) if isinstance(role, str) else role
        with self._tx() as s:
            row = self._user(s, name)
            row.role = r.value
            self._audit(s, "set_role", actor, None, user=row.name, role=r.value)
            return _rec(row)

    def set_password(self, name: str, password: str, *, actor: str) -> None:
        pw_hash = hash_password(password)
        with self._tx() as s:
            row = self._user(s, name)
            row.password_hash = pw_hash
            s.execute(delete(SignInSession).where(SignInSession.user_id == row.id))
            self._audit(s, "set_password", actor, None, user=row.name)

    def set_disabled(self, name: str, disabled: bool, *, actor: str) -> UserRecord:
        with self._tx() as s:
            row = self._user(s, name)
            row.disabled = bool(disabled)
            if disabled:
                s.execute(delete(SignInSession).where(SignInSession.user_id == row.id))
            self._audit(s, "disable_user" if disabled else "enable_user", actor, None, user=row.name)
            return _rec(row)

    def authenticate(self, name: str, password: str) -> UserRecord:
        """The user when name and password match; otherwise :class:`AuthError` (same message either way)."""
        refused = AuthError("Wrong user name or password. Try again, or ask an admin to reset your password.")
        with self._tx() as s:
            row = s.scalars(select(User).where(User.name == str(name or "").strip())).first()
            if row is None or not row.password_hash or not verify_password(row.password_hash, password or ""):
                raise refused
            if row.disabled:
                raise AuthError(f"The account {row.name!r} is disabled; ask an admin to enable it.")
            self._audit(s, "sign_in", row.name, None)
            return _rec(row)

    def user_by_email(self, email: str) -> UserRecord:
        with self._tx() as s:
            row = s.scalars(select(User).where(User.email == str(email).strip())).first()
            if row is None or row.disabled:
                raise AuthError(
                    f"{email} signed in, but no active sarco user has that e-mail; ask an admin to add one "
                    "(`python -m sarco_core users add NAME --role R --email ...`)."
                )
            return _rec(row)

    # ------------------------------------------------------------------ reload-proof sign-in
    def open_session(self, user_id: int) -> str:
        """A new random token for the browser; the store keeps only its SHA-256."""
        token = secrets.token_urlsafe(32)
        with self._tx() as s:
            s.add(
                SignInSession(
                    token_sha256=_sha(token),
                    user_id=user_id,
                    created_at=now_utc(),
                    expires_at=now_utc() + timedelta(days=SESSION_DAYS),
                )
            )
        return token

    def session_user(self, token: str) -> UserRecord | None:
        if not token:
            return None
        with self._tx() as s:
            row = s.scalars(select(SignInSession).where(SignInSession.token_sha256 == _sha(token))).first()
            if row is None or _aware(row.expires_at) < now_utc():
                return None
            u = s.get(User, row.user_id)
            return None if u is None or u.disabled else _rec(u)

    def close_session(self, token: str) -> None:
        with self._tx() as s:
            s.execute(delete(SignInSession).where(SignInSession.token_sha256 == _sha(token)))

    # ------------------------------------------------------------------ sign-off of a result
    def confirm_version(self, case_id: int, version_id: int, *, actor: str, note: str = "") -> None:
        """Record (audit event ``confirm``) that ``actor`` checked this version's result and agrees with it."""
        with self._tx() as s:
            self._case(s, case_id)
            row = s.get(MaskVersion, version_id)
            if row is None or row.case_id != case_id:
                raise StoreError(f"Version id {version_id} is not a version of case {case_id}; reload the case.")
            self._audit(s, "confirm", actor, case_id, version=row.number, version_id=row.id, note=note)
