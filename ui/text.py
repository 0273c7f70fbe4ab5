"""User-facing wording: QC flags in plain words, methods, number formatting."""

from __future__ import annotations

from typing import Any

from sarco_core.segment.anatomy_rules import FLAG_WORDS as ANATOMY_FLAG_WORDS

QC_WORDS: dict[str, str] = {
    "l3_low_confidence": "The automatic L3 level is uncertain — check the level on the Browse page.",
    "l3_user_selected_not_lumbar": (
        "The chosen slice does not look lumbar (lungs or heart in view?) — check it is really L3."
    ),
    "l3_user_selected": "The L3 slice was chosen by a person, not detected automatically.",
    "l3_overridden": "The L3 slice was changed by hand from the automatic choice.",
    "kvp_not_120": "The tube voltage is not 120 kVp: muscle HU may not be comparable with published cutoffs.",
    "contrast_phase_unknown": (
        "Contrast phase unknown: muscle HU cutoffs assume a known phase (usually non-contrast or portal venous)."
    ),
    "thick_slice_over_5mm": "Slices are thicker than 5 mm: areas are less precise.",
    "coarse_pixels_over_2mm": (
        "Pixels are coarser than 2 mm: the muscle area tends to come out a few per cent too high — use a thin, "
        "full-resolution reconstruction if there is one."
    ),
    "fov_truncated": "The body touches the edge of the image (field of view cut off): areas may be too small.",
    "arms_in_field": (
        "Arms lie beside or against the body on this slice: they are left out of the trunk where found — check that "
        "no arm muscle is counted."
    ),
    "low_confidence": "The segmentation is uncertain — review the mask.",
    "high_noise": "The image is very noisy: the HU-gated muscle area is less reliable — review the mask and HU.",
    "seg_low_confidence": "The segmentation is uncertain — review the mask.",
    "small_muscle_area": "Unusually small muscle area — check the slice and mask.",
    "large_muscle_area": "Unusually large muscle area — check the slice and mask.",
    "not_hu": "The image values are not Hounsfield units.",
    "single_slice": "A single slice was uploaded: it is taken as the L3 slice chosen by the user.",
    "edited": "The mask was edited by hand.",
    **ANATOMY_FLAG_WORDS,  # no_sat_plane, islands_removed: worded once in sarco_core (the PDF uses them too)
}

METHOD_WORDS: dict[str, str] = {
    "model": "trained neural network",
    "teacher": "anatomical rule-based segmenter (teacher; no trained model installed)",
    "threshold": "plain HU-threshold baseline",
    "import": "imported manual mask",
    "edit": "hand-edited mask",
}


def qc_words(flag: str) -> str:
    return QC_WORDS.get(flag, flag.replace("_", " ").capitalize() + ".")


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
