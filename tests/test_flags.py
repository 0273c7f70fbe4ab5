"""The one table of QC flag texts: every flag the pipeline can raise has plain words, duplicates merge."""

from __future__ import annotations

import re
from pathlib import Path

from sarco_core.enums import QCFlag
from sarco_core.flags import FLAG_TEXTS, SAME_FACT, case_warnings, flag_sentences, l3_choice_words, merge_flags

SRC = Path(__file__).resolve().parents[1] / "sarco_core"


def _raised_codes() -> set[str]:
    """Flag codes the pipeline can raise: every ``QCFlag`` member (tests/test_enums.py fails on a flag raised as a
    bare string that is not a member) plus any still appended as a bare string."""
    codes = {f.value for f in QCFlag}
    for p in SRC.rglob("*.py"):
        if "train" in p.parts or "phantom" in p.parts:
            continue
        text = p.read_text(encoding="utf-8")
        codes |= set(re.findall(r"flags\.append\(\s*\"([a-z0-9_]+)\"\s*\)", text))
    return codes


def test_every_raised_flag_has_a_sentence() -> None:
    codes = _raised_codes()
    assert {"kvp_not_120", "fov_truncated", "body_truncated"} <= codes
    missing = sorted(c for c in codes if c not in FLAG_TEXTS and c not in SAME_FACT)
    assert missing == [], f"add these codes to sarco_core/flags.py FLAG_TEXTS: {missing}"
    for t in FLAG_TEXTS.values():
        assert t.sentence.endswith(".") and "_" not in t.sentence, t
        assert not t.action or t.action.endswith(".")


def test_same_fact_flags_merge_and_unknown_codes_read_as_words() -> None:
    assert merge_flags(["body_truncated", "kvp_not_120", "fov_truncated"]) == ("fov_truncated", "kvp_not_120")
    s = flag_sentences(["body_truncated", "fov_truncated"])
    assert len(s) == 1 and s[0].startswith("The body touches the edge")
    assert "kVp" in flag_sentences(["kvp_not_120"])[0]
    assert flag_sentences(["some_new_flag"]) == ["Some new flag."]
    w = case_warnings(["low_confidence"], ["The sacrum was not found."], edited=True)
    assert w == [
        "The segmentation is uncertain. Review the mask.",
        "The mask was edited by hand.",
        "The sacrum was not found.",
    ]


def test_manual_l3_reads_set_by_hand_without_a_confidence() -> None:
    hand = l3_choice_words(overridden=False, auto_index=None, method="user-selected", confidence=0.85)
    assert hand.startswith("set by hand") and "%" not in hand
    over = l3_choice_words(overridden=True, auto_index=40, method="user-selected", confidence=0.85)
    assert "slice 40" in over and "%" not in over
    auto = l3_choice_words(overridden=False, auto_index=None, method="spine-count", confidence=0.91)
    assert "automatically" in auto and "91 %" in auto
