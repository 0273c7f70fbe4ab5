"""Rewrite imports of the modules issue 19 moved to their new homes: ``python -m tools.fix_moved_imports FILE...``
(no files: every .py file of the checkout). For merging branches written before the move; prints what changed.

Old path -> new path (the moves are pure ``git mv``: edits made on the old files merge into the new ones)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

MOVED: dict[str, str] = {
    "sarco_core.segment.model_prep": "sarco_core.segment.model.prep",
    "sarco_core.segment.model_qc": "sarco_core.segment.model.qc",
    "sarco_core.segment.arms": "sarco_core.segment.model.arms",
    "sarco_core.segment.teacher_body": "sarco_core.body",
    "sarco_core.segment.teacher_anatomy": "sarco_core.segment.teacher.anatomy",
    "sarco_core.segment.teacher_tissue": "sarco_core.segment.teacher.tissue",
    "sarco_core.segment.teacher_wall": "sarco_core.segment.teacher.wall",
    "sarco_core.phantom.compare": "validation.phantom_compare",
    "sarco_core.phantom.hard_check": "validation.teacher_hard_check",
    "benchmarks.reviewed_eval": "validation.reviewed_eval",
    "benchmarks.reviewed_tool": "tools.reviewed_tool",
    "benchmarks.reviewed": "validation.reviewed",
    "benchmarks.teacher_check": "validation.teacher_check",
    "benchmarks.teacher_eval_figs": "tools.teacher_eval_figs",
    "benchmarks.recalibrate": "sarco_core.train.recalibrate",
    "benchmarks.l3_checks": "validation.l3_checks",
    "benchmarks.l3_sagittal": "validation.l3_sagittal",
    "benchmarks.l3_phantom_sweep": "validation.l3_phantom_sweep",
}
# names that left a module (not the module itself)
RENAMED_IMPORTS: dict[str, str] = {
    "from sarco_core.segment.base import get_segmenter": "from sarco_core.segment.registry import get_segmenter",
    "from sarco_core.segment import teacher_anatomy as anat": "from sarco_core.segment.teacher import anatomy as anat",
}
_OLD = "|".join(re.escape(k) for k in sorted(MOVED, key=len, reverse=True))
PATTERN = re.compile(r"\b(" + _OLD + r")\b(?![\w.]*\.py)")


def fix_text(text: str) -> str:
    for old, new in RENAMED_IMPORTS.items():
        text = text.replace(old, new)
    return PATTERN.sub(lambda m: MOVED[m.group(1)], text)


def main(argv: list[str]) -> int:
    root = Path(__file__).resolve().parents[1]
    me = Path(__file__).resolve()
    files = [Path(a) for a in argv] or [p for p in root.rglob("*.py") if ".git" not in p.parts and p.resolve() != me]
    for f in files:
        text = f.read_text()
        new = fix_text(text)
        if new != text:
            f.write_text(new)
            print(f"fixed {f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
