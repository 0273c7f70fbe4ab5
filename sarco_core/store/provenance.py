"""Pull provenance fields out of an analysis JSON (``AnalysisResult.to_dict()``) whatever its nesting."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from sarco_core.metrics import DEFAULT_GATES, HUGates


def as_dict(analysis: Any) -> dict[str, Any]:
    """An analysis given as a dict or as an object with ``to_dict()``."""
    if analysis is None:
        return {}
    if isinstance(analysis, dict):
        return analysis
    if hasattr(analysis, "to_dict"):
        d = analysis.to_dict()
        if isinstance(d, dict):
            return d
    raise TypeError(f"analysis must be a dict or have to_dict(), got {type(analysis).__name__}")


def find(d: dict[str, Any], *keys: str) -> Any:
    """Breadth-first: the value of the first of ``keys`` found at the shallowest level (None if absent)."""
    queue: deque[Any] = deque([d])
    while queue:
        level = [queue.popleft() for _ in range(len(queue))]
        for node in level:
            for k in keys:
                if isinstance(node, dict) and node.get(k) is not None:
                    return node[k]
        for node in level:
            if isinstance(node, dict):
                queue.extend(v for v in node.values() if isinstance(v, dict))
    return None


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
    g = _pick(d, "hu_gates", "gates")
    if not isinstance(g, dict):
        return DEFAULT_GATES
    kw = {}
    for name in ("muscle", "imat", "sat", "vat"):
        v = g.get(name)
        if isinstance(v, list | tuple) and len(v) == 2:
            kw[name] = (float(v[0]), float(v[1]))
    return HUGates(**kw)


def _pick(d: dict[str, Any], *keys: str) -> Any:
    """First of ``keys`` at the top level, then in ``segmentation`` / ``provenance``, then anywhere but ``l3``."""
    for section in (d, d.get("segmentation"), d.get("provenance")):
        if isinstance(section, dict):
            for k in keys:
                if section.get(k) is not None:
                    return section[k]
    return find({k: v for k, v in d.items() if k != "l3"}, *keys)


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


def extract(analysis: dict[str, Any]) -> Provenance:
    model = _pick(analysis, "model")
    model = model if isinstance(model, dict) else {}
    rule = _pick(analysis, "rule_key", "cutoff_rule", "rule")
    if isinstance(rule, dict):
        rule = rule.get("key") or rule.get("name")
    flags = _pick(analysis, "qc_flags", "flags")
    if isinstance(flags, str):
        flags = [flags]
    l3 = analysis.get("l3")
    l3 = l3 if isinstance(l3, dict) else {}
    auto_idx = _int(l3.get("auto_index", l3.get("detected_index", analysis.get("l3_auto_index"))))
    over = l3.get("overridden", analysis.get("l3_overridden"))
    inp = analysis.get("input")
    sha = _pick(analysis, "input_sha256") or (inp.get("sha256") if isinstance(inp, dict) else None)
    method = _pick(analysis, "method")
    return Provenance(
        method=None if method is None else str(method),
        model_name=(str(v) if (v := model.get("name")) is not None else None),
        model_version=(str(v) if (v := model.get("version")) is not None else None),
        model_sha256=(str(v) if (v := model.get("sha256")) is not None else None),
        rule=None if rule is None else str(rule),
        gates=gates_from(analysis),
        input_sha256=None if sha is None else str(sha),
        l3_auto_index=auto_idx,
        l3_overridden=None if over is None else bool(over),
        confidence=_num(_pick(analysis, "confidence")),
        qc_flags=tuple(str(f) for f in (flags or ())),
    )
