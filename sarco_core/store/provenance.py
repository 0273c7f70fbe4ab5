"""Provenance fields of an analysis: read from its JSON record (``AnalysisResult.to_dict()``) by that schema, or
from the documented flat form; one explicit converter each (:func:`extract`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from sarco_core.metrics import DEFAULT_GATES, HUGates

if TYPE_CHECKING:
    from sarco_core.analyze import AnalysisResult


AnalysisInput = Union["AnalysisResult", Mapping[str, Any], None]
"""What the store accepts as an analysis: the pipeline's result, its JSON record, or the flat form."""


def as_dict(analysis: AnalysisInput) -> dict[str, Any]:
    """An analysis given as a dict or as an object with ``to_dict()``."""
    if analysis is None:
        return {}
    if isinstance(analysis, dict):
        return analysis
    if isinstance(analysis, Mapping):
        return dict(analysis)
    if hasattr(analysis, "to_dict"):
        d = analysis.to_dict()
        if isinstance(d, dict):
            return d
    raise TypeError(f"analysis must be a dict or have to_dict(), got {type(analysis).__name__}")


def _num(v: Any) -> float | None:
    try:
        return None if v is None else float(v)
    except (TypeError, ValueError):
        return None


def _int(v: Any) -> int | None:
    try:
        return None if v is None or isinstance(v, bool) else int(v)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Provenance:
    method: str | None
    model_name: str | None
    model_version: str | None
    model_sha256: str | None
    rule: str | None
    gates: HUGates
    input_sha256: str | None
    l3_auto_index: int | None
    l3_overridden: bool | None
    confidence: float | None
    qc_flags: tuple[str, ...]


def gates_from(d: dict[str, Any]) -> HUGates:
    """HU gates of a record: ``provenance.hu_gates`` (analysis JSON) or ``hu_gates`` (flat form)."""
    prov = d.get("provenance")
    g = prov.get("hu_gates") if isinstance(prov, dict) else None
    g = g if g is not None else d.get("hu_gates")
    if not isinstance(g, dict):
        return DEFAULT_GATES
    kw = {}
    for name in ("muscle", "imat", "sat", "vat"):
        v = g.get(name)
        if isinstance(v, list | tuple) and len(v) == 2:
            kw[name] = (float(v[0]), float(v[1]))
    return HUGates(**kw)


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


IDENTIFYING_KEYS = {"name", "path", "paths", "file", "files", "filename", "file_name", "folder", "source_path"}


def scrub(analysis: dict[str, Any]) -> dict[str, Any]:
    """A copy without input file names or paths (a file may be named after the patient)."""
    out = dict(analysis)
    inp = out.get("input")
    if isinstance(inp, dict):
        out["input"] = {k: v for k, v in inp.items() if k not in IDENTIFYING_KEYS}
    for k in IDENTIFYING_KEYS - {"name"}:
        out.pop(k, None)
    return out


def is_analysis_record(d: dict[str, Any]) -> bool:
    """An ``AnalysisResult.to_dict()`` JSON (schema 1 had no ``schema_version``; it always has ``segmentation``)."""
    return "schema_version" in d or isinstance(d.get("segmentation"), dict)


def extract(analysis: dict[str, Any]) -> Provenance:
    """Provenance of an analysis given as its JSON record (``AnalysisResult.to_dict()``, any schema version), or in
    the flat form (``method``, ``model``, ``rule``, ``confidence``, ``qc_flags``, ``input_sha256`` and
    ``l3_auto_index`` at the top: what callers without a pipeline run pass). One converter each; no guessing."""
    if is_analysis_record(analysis):
        seg = _dict(analysis.get("segmentation"))
        method, model = seg.get("method"), _dict(seg.get("model"))
        rule = _dict(_dict(analysis.get("provenance")).get("cutoff_rule")).get("key")
        sha = _dict(analysis.get("input")).get("sha256")
        l3 = _dict(analysis.get("l3"))
        auto_idx, over = l3.get("auto_index"), l3.get("overridden")
    else:
        method, model = analysis.get("method"), _dict(analysis.get("model"))
        rule = analysis.get("rule")
        rule = rule.get("key") if isinstance(rule, dict) else rule
        sha = analysis.get("input_sha256") or _dict(analysis.get("input")).get("sha256")
        l3 = _dict(analysis.get("l3"))
        auto_idx = l3.get("auto_index", analysis.get("l3_auto_index"))
        over = l3.get("overridden", analysis.get("l3_overridden"))
    flags = analysis.get("qc_flags")
    if isinstance(flags, str):
        flags = [flags]
    return Provenance(
        method=None if method is None else str(method),
        model_name=(str(v) if (v := model.get("name")) is not None else None),
        model_version=(str(v) if (v := model.get("version")) is not None else None),
        model_sha256=(str(v) if (v := model.get("sha256")) is not None else None),
        rule=None if rule is None else str(rule),
        gates=gates_from(analysis),
        input_sha256=None if sha is None else str(sha),
        l3_auto_index=_int(auto_idx),
        l3_overridden=None if over is None else bool(over),
        confidence=_num(analysis.get("confidence")),
        qc_flags=tuple(str(f) for f in (flags or ())),
    )
