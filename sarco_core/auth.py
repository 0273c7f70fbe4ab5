"""Users, roles and permissions of the app (who may do what), and password hashing (argon2id, argon2-cffi).

Roles (fixed set, :class:`Role`): ``clinician`` uploads, views and confirms results; ``labeller`` edits masks
and the L3 level; ``researcher`` uses the dashboard, exports and imports; ``admin`` may do everything,
including managing users and deleting cases. The store keeps users (``sarco_core.store.users``); the app
checks :func:`allowed` before every action.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sarco_core.errors import AuthError

MIN_PASSWORD_CHARS = 8


class Role(StrEnum):
    CLINICIAN = "clinician"
    LABELLER = "labeller"
    RESEARCHER = "researcher"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW = "view"  # open cases, read numbers and history
    UPLOAD = "upload"  # analyse a new scan
    CONFIRM = "confirm"  # confirm a result as reviewed
    EDIT = "edit"  # edit masks, restore versions, set the L3 slice
    DASHBOARD = "dashboard"  # cohort dashboard
    EXPORT = "export"  # per-case and cohort exports
    IMPORT = "import"  # import manual masks
    DELETE = "delete"  # delete cases
    USERS = "users"  # manage users
    MODELS = "models"  # promote / roll back the model the app uses (model registry)


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CLINICIAN: frozenset({Permission.VIEW, Permission.UPLOAD, Permission.CONFIRM}),
    Role.LABELLER: frozenset({Permission.VIEW, Permission.EDIT}),
    Role.RESEARCHER: frozenset({Permission.VIEW, Permission.DASHBOARD, Permission.EXPORT, Permission.IMPORT}),
    Role.ADMIN: frozenset(Permission),
}


def parse_role(text: str) -> Role:
    try:
        return Role(str(text).strip().lower())
    except ValueError:
        raise AuthError(f"Unknown role {text!r}; use one of: {', '.join(r.value for r in Role)}.") from None


def allowed(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def roles_with(permission: Permission) -> list[Role]:
    return [r for r in Role if allowed(r, permission)]


@dataclass(frozen=True)
class UserRecord:
    """A user of the app as stored (never carries the password hash)."""

    id: int
    name: str
    role: Role
    email: str | None
    disabled: bool


def _hasher():  # type: ignore[no-untyped-def]
    from argon2 import PasswordHasher

    return PasswordHasher()  # argon2id with the library's current recommended parameters (RFC 9106 low-memory)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise AuthError(f"The password is too short: use at least {MIN_PASSWORD_CHARS} characters.")


def hash_password(password: str) -> str:
    check_password_rules(password)
    return str(_hasher().hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return bool(_hasher().verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False
