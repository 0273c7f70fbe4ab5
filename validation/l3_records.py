"""Per-volume records of the L3 variant sweep (``validation/l3_variant_sweep.py --json``), read by
``validation/l3_calibrate.py``: one frozen record per volume, written as JSON with the seeds, date and commit."""

from __future__ import annotations

import json
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sarco_core.errors import ManifestError

SCHEMA = 1
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class CandidateRecord:
    index: int
    z_mm: float
    score: float
    source: str
    inside: bool  # inside the phantom's true L3 body


@dataclass(frozen=True)
class SweepRecord:
    """One volume: the chosen slice, whether it lies inside the true L3, the confidence and the kind of evidence
    (``sarco_core.l3.calibration.Evidence`` value; None for a refusal) with its probability when the sweep ran
    (``kind_p``: the confidence divided by it is the plausibility factor of the chosen hypothesis)."""

    variant: str
    seed: int
    chosen_index: int | None
    chosen_z_mm: float | None
    inside: bool | None  # None: refused (L3NotFoundError)
    confidence: float
    evidence: str | None
    kind_p: float | None
    disagree: bool
    warnings: tuple[str, ...]
    candidates: tuple[CandidateRecord, ...]
    error_mm: float | None
    refused: str = ""

    @classmethod
    def refused_case(cls, *, variant: str, seed: int, reason: str) -> SweepRecord:
        return cls(variant, seed, None, None, None, 0.0, None, None, False, (), (), None, reason)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SweepRecord:
        cands = tuple(CandidateRecord(**c) for c in d.get("candidates", ()))
        return cls(**{**d, "warnings": tuple(d.get("warnings", ())), "candidates": cands})


def commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        ).stdout.strip()
        return out.stdout.strip() + (" (uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def write_records(path: Path, records: list[SweepRecord], *, seeds: tuple[int, int]) -> None:
    doc = {
        "schema": SCHEMA,
        "seeds": list(seeds),
        "written_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit(),
        "records": [asdict(r) for r in records],
    }
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class RecordSet:
    seeds: tuple[int, int]
    commit: str
    written_utc: str
    records: tuple[SweepRecord, ...]


def read_records(path: Path) -> RecordSet:
    """Read a records file; ManifestError naming the fix when it is missing or not a records file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("schema") != SCHEMA:
            raise ValueError(f"schema {doc.get('schema')!r}, expected {SCHEMA}")
        recs = tuple(SweepRecord.from_json(r) for r in doc["records"])
        return RecordSet(
            (int(doc["seeds"][0]), int(doc["seeds"][-1])), str(doc["commit"]), str(doc["written_utc"]), recs
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ManifestError(
            f"{path} is not a sweep records file ({exc}). Write one with: nice python -m "
            "validation.l3_variant_sweep --json PATH"
        ) from None
