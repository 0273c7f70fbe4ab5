"""Patient privacy helpers: patient identifiers are never stored, only a salted hash (to spot duplicates)."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from sarco_core import settings


def sarco_home() -> Path:
    """``$SARCO_HOME`` or the platform's user data folder for "sarco"."""
    return settings.home()


def _salt() -> str:
    env = settings.id_salt()
    if env:
        return env
    path = sarco_home() / "id_salt"
    try:
        if path.exists():
            salt = path.read_text().strip()
            if salt:
                return salt
        path.parent.mkdir(parents=True, exist_ok=True)
        salt = secrets.token_hex(32)
        tmp = path.with_name(f"id_salt.{os.getpid()}.tmp")
        tmp.write_text(salt)
        try:
            os.chmod(tmp, 0o600)
        except OSError:
            pass
        if path.exists():  # another process won the race: use its salt
            tmp.unlink(missing_ok=True)
            return path.read_text().strip()
        tmp.replace(path)
        return salt
    except OSError:
        # read-only home: a per-process salt still hides the ID (duplicates are then only found within one run)
        global _FALLBACK_SALT
        if _FALLBACK_SALT is None:
            _FALLBACK_SALT = secrets.token_hex(32)
        return _FALLBACK_SALT


_FALLBACK_SALT: str | None = None


def salted_id_hash(patient_id: str | None) -> str | None:
    """Salted SHA-256 (hex) of a patient ID with a per-installation salt; None for an empty ID."""
    if patient_id is None:
        return None
    pid = str(patient_id).strip()
    if not pid:
        return None
    return hashlib.sha256((_salt() + "\x00" + pid).encode("utf-8")).hexdigest()
