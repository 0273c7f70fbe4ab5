"""The one table of quality-control flag texts: code → plain sentence → what to do.

Used by the result card, the case page, the review queue, the PDF report and the text column of the cohort
CSV. A new flag gets its row here (and nowhere else); a flag that states the same fact as another one is listed
in :data:`SAME_FACT` and shown once, under the other's text.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FlagText:
    """The user-facing wording of one QC flag."""

    code: str
    sentence: str  # what is wrong, in plain words
    action: str  # what the user should do about it

    @property
    def text(self) -> str:
        return f"{self.sentence} {self.action}".strip()


def _t(code: str, sentence: str, action: str) -> tuple[str, FlagText]:
    return code, FlagText(code=code, sentence=sentence, action=action)


FLAG_TEXTS: dict[str, FlagText] = dict(
    [
        _t("l3_low_confidence", "The automatic L3 level is uncertain.", "Check the level on the Browse page."),
        _t(
            "l3_user_selected_not_lumbar",
            "The chosen slice does not look lumbar (the L3 notes say why).",
            "Check that it is really L3.",
        ),
        _t(
            "l3_level_not_checked",
            "The level of this single slice could not be checked automatically (a single slice has nothing to "
            "compare with).",
            "Make sure it is at L3.",
        ),
        _t(
            "l3_levels_disagree",
            "Counting up from the sacrum and down from the last rib give different L3 levels (an unusual, "
            "transitional spine is likely): both levels are offered.",
            "Check the level on the Browse page.",
        ),
        _t("l3_user_selected", "The L3 slice was chosen by a person, not detected automatically.", ""),
        _t("l3_overridden", "The L3 slice was changed by hand from the automatic choice.", ""),
        _t(
            "kvp_not_120",
            "The tube voltage is not 120 kVp: muscle HU may not be comparable with published cutoffs.",
            "Interpret the muscle attenuation with care.",
        ),
        _t(
            "contrast_phase_unknown",
            "The contrast phase is unknown; muscle HU cutoffs assume a known phase (usually non-contrast or "
            "portal venous).",
            "Record the phase before comparing muscle HU.",
        ),
        _t(
            "thick_slice_over_5mm",
            "Slices are thicker than 5 mm: areas are less precise.",
            "Use a thinner reconstruction if there is one.",
        ),
        _t(
            "coarse_pixels_over_2mm",
            "Pixels are coarser than 2 mm: the muscle area tends to come out a few per cent too high.",
            "Use a thin, full-resolution reconstruction if there is one.",
        ),
        _t(
            "fov_truncated",
            "The body touches the edge of the image (field of view cut off): areas may be too small.",
            "Check the mask at the image edge; use a reconstruction with a larger field of view if there is one.",
        ),
        _t(
            "mask_touches_fov_edge",
            "The muscle mask reaches the edge of the image.",
            "Check that no muscle outside the field of view is missing.",
        ),
        _t(
            "arms_in_field",
            "Arms lie beside or against the body on this slice: they are left out of the trunk where found.",
            "Check that no arm muscle is counted.",
        ),
        _t(
            "no_sat_plane",
            "Little or no fat under the skin (thinner than 5 mm over more than 40 % of the outline).",
            "Check the outer muscle boundary.",
        ),
        _t(
            "islands_removed",
            "Pieces of tissue inside the abdomen that were taken for muscle (more than 2 cm²) were removed.",
            "Check that no bowel, vessel or organ is still counted and that no muscle was lost.",
        ),
        _t("low_confidence", "The segmentation is uncertain.", "Review the mask."),
        _t("seg_low_confidence", "The segmentation is uncertain.", "Review the mask."),
        _t(
            "implausible_area",
            "The muscle area is outside the range seen at L3.",
            "Check the slice level and the mask.",
        ),
        _t(
            "high_noise",
            "The image is very noisy: the HU-gated muscle area is less reliable.",
            "Review the mask and the muscle HU.",
        ),
        _t("small_muscle_area", "The muscle area is unusually small.", "Check the slice and the mask."),
        _t("large_muscle_area", "The muscle area is unusually large.", "Check the slice and the mask."),
        _t("not_hu", "The image values are not Hounsfield units.", "Export the series with HU rescaling."),
        _t("single_slice", "A single slice was uploaded: it is taken as the L3 slice chosen by the user.", ""),
        _t("edited", "The mask was edited by hand.", ""),
    ]
)

#: caveats on the acquisition (tube voltage, contrast phase, slice thickness, pixel size): notes shown beside the
#: number, not problems of the mask; they neither lower the mask confidence nor put a case in the review queue
ACQUISITION_NOTES: frozenset[str] = frozenset(
    {"kvp_not_120", "contrast_phase_unknown", "thick_slice_over_5mm", "coarse_pixels_over_2mm"}
)

#: flags that state the same fact as another flag: shown once, under the other's code.
SAME_FACT: dict[str, str] = {"body_truncated": "fov_truncated"}


def canonical(code: str) -> str:
    return SAME_FACT.get(code, code)


def merge_flags(codes: Iterable[str]) -> tuple[str, ...]:
    """Codes in order, same-fact duplicates merged (``body_truncated`` + ``fov_truncated`` → one)."""
    out: list[str] = []
    for c in codes:
        k = canonical(str(c).strip())
        if k and k not in out:
            out.append(k)
    return tuple(out)


def flag_text(code: str) -> FlagText:
    """The wording of ``code``; an unknown code still reads as words, never as a raw code."""
    k = canonical(code)
    known = FLAG_TEXTS.get(k)
    if known is not None:
        return known
    words = k.replace("_", " ").strip()
    return FlagText(code=k, sentence=(words[:1].upper() + words[1:] + ".") if words else "", action="")


def flag_sentences(codes: Iterable[str]) -> list[str]:
    """Full sentences (what is wrong + what to do) of the merged flags."""
    return [flag_text(c).text for c in merge_flags(codes)]


def split_flags(flags: Iterable[str]) -> tuple[list[str], list[str]]:
    """(mask / level QC flags, acquisition notes) of a result's ``qc_flags``, order kept."""
    codes = [str(f).strip() for f in flags if str(f).strip()]
    return [f for f in codes if f not in ACQUISITION_NOTES], [f for f in codes if f in ACQUISITION_NOTES]


def case_warnings(qc_flags: Iterable[str], l3_warnings: Iterable[str], *, edited: bool) -> list[str]:
    """Every warning a result shows (card, case page and PDF alike): merged sentences of the mask / level flags,
    then the L3 notes. Acquisition notes are not warnings: :func:`acquisition_notes`."""
    codes = [*split_flags(qc_flags)[0], *(["edited"] if edited else [])]
    return [*flag_sentences(codes), *(str(w) for w in l3_warnings if str(w).strip())]


def acquisition_notes(qc_flags: Iterable[str]) -> list[str]:
    """Sentences of the acquisition caveats among ``qc_flags`` (shown beside the number)."""
    return flag_sentences(split_flags(qc_flags)[1])


def l3_choice_words(*, overridden: bool, auto_index: int | None, method: str | None, confidence: float | None) -> str:
    """How the L3 slice was chosen, in words: "set by hand" (no confidence) for a person's choice."""
    if overridden:
        return "set by hand" + (f" (the automatic choice was slice {auto_index})" if auto_index is not None else "")
    if method in ("user-selected", "user", "manual"):
        return "set by hand (slice given by the user)"
    conf = f", confidence {confidence * 100:.0f} %" if confidence is not None else ""
    return f"found automatically ({method or 'L3 detection'}{conf})"
