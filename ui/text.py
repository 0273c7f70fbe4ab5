"""User-facing wording: methods and number formatting; QC flag texts come from :mod:`sarco_core.flags`."""

from __future__ import annotations

from typing import Any

from sarco_core.flags import case_warnings, flag_sentences, flag_text

METHOD_WORDS: dict[str, str] = {
    "model": "trained neural network",
    "teacher": "anatomical rule-based segmenter (teacher; no trained model installed)",
    "threshold": "plain HU-threshold baseline",
    "import": "imported manual mask",
    "edit": "hand-edited mask",
}


def qc_words(flag: str) -> str:
    """The plain sentence of one QC flag (the one table lives in :mod:`sarco_core.flags`)."""
    return flag_text(flag).text


def qc_sentences(flags: list[str] | tuple[str, ...]) -> list[str]:
    """Sentences of several flags, same-fact duplicates merged."""
    return flag_sentences(flags)


def method_words(method: str | None, model: dict[str, Any] | None = None) -> str:
    if not method:
        return "unknown method"
    text = METHOD_WORDS.get(method, method)
    if model:
        name = model.get("name") or ""
        ver = model.get("version") or ""
        sha = (model.get("sha256") or "")[:12]
        bits = " ".join(b for b in (name, f"v{ver}" if ver else "", f"sha256 {sha}…" if sha else "") if b)
        if bits:
            text += f" — {bits}"
    return text


def fmt(v: float | None, nd: int = 1, unit: str = "") -> str:
    if v is None:
        return "—"
    s = f"{v:.{nd}f}"
    return f"{s} {unit}".strip()


def yes_no_none(v: bool | None) -> str:
    return {True: "Yes", False: "No", None: "Undetermined"}[v]


def warnings_of(analysis: Any, version: Any) -> list[str]:
    """Every warning of this version (the PDF report carries the same list)."""
    l3 = (analysis.result or {}).get("l3") or {}
    return case_warnings(analysis.qc_flags or (), l3.get("warnings") or (), edited=version.source != "auto")
