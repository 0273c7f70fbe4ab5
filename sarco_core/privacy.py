"""Patient privacy helpers: patient identifiers are never stored, only a salted hash (to spot duplicates)."""

from __future__ import annotations

import hashlib
import os
import re
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


# ------------------------------------------------------------------------------------------- case labels
# A case label is never derived from a file or folder name (those often carry the patient's name, MRN or
# birth date): it is generated from the input's checksum, or typed by the user and checked for identifiers.
_NAME_RE = re.compile(r"[A-Za-z]{2,}\s*[\^,]\s*[A-Za-z]{2,}|[A-Z][a-z]+[ _][A-Z][a-z]+")
_ID_RE = re.compile(r"\d{5,}|\b(?:MRN|PID|ID|NHS|SSN)[\s:#_-]*\w*\d", re.IGNORECASE)
_DATE_RE = re.compile(
    r"\b(?:19|20)\d{2}[-./_]?(?:0[1-9]|1[0-2])[-./_]?(?:0[1-9]|[12]\d|3[01])\b"
    r"|\b(?:0?[1-9]|[12]\d|3[01])[-./](?:0?[1-9]|1[0-2])[-./](?:19|20)?\d{2}\b"
)


def generated_case_label(checksum: str | None) -> str:
    """``case-<8 hex>`` from the input's checksum (random when there is none): identifies the upload, not the
    patient."""
    tag = (checksum or secrets.token_hex(4))[:8]
    return f"case-{tag}"


def label_warnings(label: str) -> list[str]:
    """Why a typed case label looks like a patient identifier (a name, an ID number or a date); empty if not."""
    out = []
    if _NAME_RE.search(label):
        out.append("it looks like a person's name")
    if _ID_RE.search(label):
        out.append("it contains a long number or an ID (e.g. an MRN)")
    if _DATE_RE.search(label):
        out.append("it contains a date (e.g. a birth or scan date)")
    return out


_FILE_TOKEN_RE = re.compile(
    r"[^\s,;:()'\"]*\.(?:dcm|dicom|ima|img|nii(?:\.gz)?|gz|zip|txt|pdf|json|xml|csv|png|jpe?g)\b", re.IGNORECASE
)


def scrub_file_names(texts: tuple[str, ...] | list[str], names: list[str] | tuple[str, ...] = ()) -> tuple[str, ...]:
    """Messages (e.g. loader warnings that are stored with a case) with file and folder names replaced by
    ``[file]``: every name in ``names`` (and its stem), and any token that looks like a file name."""
    parts: set[str] = set()
    for n in names:
        for piece in re.split(r"[\\/]", str(n)):
            if len(piece) >= 3:
                parts.add(piece)
                stem = piece.split(".", 1)[0]
                if len(stem) >= 3:
                    parts.add(stem)
    out = []
    for t in texts:
        for p in sorted(parts, key=len, reverse=True):
            t = t.replace(p, "[file]")
        out.append(_FILE_TOKEN_RE.sub("[file]", t))
    return tuple(out)
