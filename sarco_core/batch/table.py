"""Per-case result files (written atomically) and the cohort CSV built from them.

Each finished case is one JSON file ``<out>.parts/<case>.json`` (tmp file + ``os.replace``), so a crash
never leaves a half-written result and a re-run knows what is done. The CSV is rebuilt from these files
at the end of every run (also atomically).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sarco_core.batch.cases import safe_name
from sarco_core.jsonsafe import json_safe

LEAD_COLUMNS = ("case_id", "path", "status", "error")
PATIENT_COLUMNS = ("height_m", "weight_kg", "sex")


@dataclass
class CaseRecord:
    """What one case produced: status ``ok`` with the analysis JSON, or ``error`` with its message."""

    case_id: str
    path: str
    status: str  # ok | error
    error: str = ""
    fingerprint: str = ""
    analysis: dict[str, Any] | None = None
    manifest: dict[str, Any] = field(default_factory=dict)  # height_m / weight_kg / sex as given
    elapsed_s: float | None = None
    worker: str = ""
    store_case_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> CaseRecord:
        keys = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in keys})


def _scalar(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return ""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def _join(items: Iterable[Any]) -> str:
    out = []
    for v in items:
        if isinstance(v, list | tuple):
            out.append("/".join(str(_scalar(x)) for x in v))  # e.g. a level's [lo, hi] z range
        elif isinstance(v, dict):
            out.append(json.dumps(v, sort_keys=True))
        else:
            out.append(str(_scalar(v)))
    return ";".join(out)


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> one level with dotted keys. Lists of scalars are joined with ';'; a list of dicts
    becomes one column per key (``l3.candidates.index`` = ``"73;60"``); inner lists are joined with '/'."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            if v:
                out.update(flatten(v, key + "."))
            else:
                out[key] = ""
        elif isinstance(v, list | tuple):
            if v and all(isinstance(x, Mapping) for x in v):
                subkeys: list[str] = []
                for x in v:
                    subkeys += [s for s in x if s not in subkeys]
                for s in subkeys:
                    out[f"{key}.{s}"] = _join(x.get(s) for x in v)
            else:
                out[key] = _join(v)
        else:
            out[key] = _scalar(v)
    return out


def record_row(rec: CaseRecord) -> dict[str, Any]:
    """One CSV row: case_id, path, status, error, then the flattened analysis (manifest values fill the
    patient columns of failed cases), elapsed_s."""
    row: dict[str, Any] = {"case_id": rec.case_id, "path": rec.path, "status": rec.status, "error": rec.error}
    if rec.analysis:
        row.update({k: v for k, v in flatten(rec.analysis).items() if k not in LEAD_COLUMNS})
    for k in PATIENT_COLUMNS:
        if row.get(k) in (None, "") and rec.manifest.get(k) is not None:
            row[k] = rec.manifest[k]
    row["elapsed_s"] = "" if rec.elapsed_s is None else round(rec.elapsed_s, 3)
    if rec.store_case_id is not None:
        row["store_case_id"] = rec.store_case_id
    return row


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def parts_dir(out_csv: Path) -> Path:
    return out_csv.with_name(out_csv.name + ".parts")


def part_path(parts: Path, case_id: str) -> Path:
    return parts / f"{safe_name(case_id)}.json"


def write_part(parts: Path, rec: CaseRecord) -> Path:
    p = part_path(parts, rec.case_id)
    atomic_write_text(p, json.dumps(json_safe(rec.to_json()), indent=1, allow_nan=False))
    return p


def read_part(parts: Path, case_id: str) -> CaseRecord | None:
    """The stored result of a case, or None when absent or unreadable (then the case is redone)."""
    p = part_path(parts, case_id)
    try:
        rec = CaseRecord.from_json(json.loads(p.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    return rec if rec.case_id == case_id else None


def write_csv(out_csv: Path, records: Iterable[CaseRecord]) -> list[str]:
    """Write the cohort CSV (atomically); returns its columns. Columns: the lead ones, then every other
    column in order of first appearance over the records."""
    rows = [record_row(r) for r in records]
    columns: list[str] = list(LEAD_COLUMNS)
    seen = set(columns)
    for row in rows:
        for k in row:
            if k not in seen:
                seen.add(k)
                columns.append(k)
    # keep the bookkeeping columns last
    for k in ("elapsed_s", "store_case_id"):
        if k in columns:
            columns.remove(k)
            columns.append(k)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, restval="", extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow(row)
    atomic_write_text(out_csv, buf.getvalue())
    return columns
