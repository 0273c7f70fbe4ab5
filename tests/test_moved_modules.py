"""The import rewriter for branches written before issue 19's moves points every old module at one that exists."""

from __future__ import annotations

import importlib.util

from tools.fix_moved_imports import MOVED, fix_text


def test_every_new_home_exists_and_old_ones_are_gone() -> None:
    for old, new in MOVED.items():
        assert importlib.util.find_spec(new) is not None, new
        assert importlib.util.find_spec(old) is None, old


def test_rewrites_imports_only() -> None:
    src = "from sarco_core.segment.teacher_body import dilate\nimport sarco_core.segment.model_qc as q\n"
    assert fix_text(src) == "from sarco_core.body import dilate\nimport sarco_core.segment.model.qc as q\n"
    assert fix_text("benchmarks/reviewed/README.md") == "benchmarks/reviewed/README.md"
