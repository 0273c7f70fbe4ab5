"""Typed results of L3 detection (the ``sarco l3 --json`` object)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Candidate:
    """A possible L3 mid-body slice; ``score`` in [0, 1] (scores of all candidates sum to <= 1)."""

    index: int
    z_mm: float
    score: float
    source: str = ""  # which count proposed it ("sacrum", "ribs", "neighbour", ...)

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "z_mm": round(self.z_mm, 2), "score": round(self.score, 3)}


@dataclass(frozen=True)
class Level:
    """A vertebra (label such as "L3") spanning ``z_lo_mm``..``z_hi_mm`` (disc centre to disc centre)."""

    label: str
    z_lo_mm: float
    z_hi_mm: float

    @property
    def z_mid_mm(self) -> float:
        return (self.z_lo_mm + self.z_hi_mm) / 2.0

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "z_mm": [round(self.z_lo_mm, 2), round(self.z_hi_mm, 2)]}


@dataclass(frozen=True)
class L3Result:
    """The chosen L3 slice (canonical index), how sure we are, and what else it could be.

    ``method``: "spine-count" (automatic), "user-selected" (a single slice, or a manual override).
    For an override ``overridden`` is True and ``auto_index`` / ``auto_z_mm`` keep the automatic choice.
    ``looks_lumbar`` is False when the chosen slice shows lungs (a chest level) or the pelvis, None when a single
    slice cannot be checked (no vertebral body recognised). ``candidates[0]`` is always the chosen automatic slice
    and its score is ``confidence`` (for an automatic result).
    """

    index: int
    z_mm: float
    confidence: float
    method: str
    candidates: list[Candidate] = field(default_factory=list)
    levels: list[Level] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    auto_index: int | None = None
    auto_z_mm: float | None = None
    overridden: bool = False
    looks_lumbar: bool | None = None
    counts: dict[str, int | None] = field(default_factory=dict)  # L3 index per counting method
    levels_disagree: bool = False  # the sacrum and rib counts give different L3 levels (both are candidates)
    # how S1 was found, in words (None: no sacrum count): sacro-iliac bone contact, or the sacral alae (fallback)
    s1_evidence: str | None = None

    def level_of(self, z_mm: float) -> str | None:
        """Label of the level containing ``z_mm`` (None outside the levels found)."""
        for lv in self.levels:
            if lv.z_lo_mm <= z_mm <= lv.z_hi_mm:
                return lv.label
        return None

    def to_dict(self) -> dict[str, Any]:
        """The ``sarco l3 --json`` object."""
        return {
            "index": self.index,
            "z_mm": round(self.z_mm, 2),
            "confidence": round(self.confidence, 3),
            "method": self.method,
            "candidates": [c.to_dict() for c in self.candidates],
            "levels": [lv.to_dict() for lv in self.levels],
            "warnings": list(self.warnings),
        }

    def to_record(self) -> dict[str, Any]:
        """``to_dict`` plus the override fields (the ``l3`` object of ``sarco analyze --json``)."""
        d = self.to_dict()
        d["auto_index"] = self.auto_index
        d["auto_z_mm"] = None if self.auto_z_mm is None else round(self.auto_z_mm, 2)
        d["overridden"] = self.overridden
        d["looks_lumbar"] = self.looks_lumbar
        d["levels_disagree"] = self.levels_disagree
        d["s1_evidence"] = self.s1_evidence
        return d
