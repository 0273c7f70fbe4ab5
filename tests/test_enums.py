"""Fixed value sets are StrEnums that serialise as today's strings, and every QC flag any module raises is a
``QCFlag`` member (a flag added as a bare string elsewhere fails here)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from sarco_core.enums import MaskSource, Method, QCFlag, Sex
from sarco_core.segment.base import METHODS
from sarco_core.store.records import MASK_SOURCES

REPO = Path(__file__).resolve().parents[1]
RAISED = re.compile(r"""flags\.append\(\s*["']([a-z0-9_]+)["']\s*\)|\(\*flags,\s*["']([a-z0-9_]+)["']\)""")


def test_members_are_their_strings() -> None:
    assert json.dumps([QCFlag.LOW_CONFIDENCE, Sex.FEMALE]) == '["low_confidence", "F"]'
    assert METHODS == ("model", "teacher", "threshold") == tuple(Method)
    assert MASK_SOURCES == ("auto", "edit", "restore", "import") == tuple(MaskSource)


def test_every_raised_qc_flag_is_a_member() -> None:
    raised: set[str] = set()
    for p in (REPO / "sarco_core").rglob("*.py"):
        for m in RAISED.finditer(p.read_text()):
            raised.add(m.group(1) or m.group(2))
    assert len(raised) >= 6  # the scan finds the segmenters' flags
    assert raised <= {f.value for f in QCFlag}, sorted(raised - {f.value for f in QCFlag})
