"""The "Models" page through app.py: a candidate worse than its parent is refused on the page, a better one
is promoted and becomes the active model, and switching back works."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarco_core.model_registry import HeldOutScores, Registry
from tests.app_helpers import app

PAGE = "pages/models.py"
PARENT = HeldOutScores(10, 0.90, 12.0)


def _register(tmp: Path, name: str, child: HeldOutScores) -> None:
    d = tmp / name
    d.mkdir()
    (d / "config.json").write_text(json.dumps({"name": name, "version": "1"}))
    reg = Registry.load()
    assert reg.active is not None
    reg.register(d, parent=reg.active.name, child_scores=child, parent_scores=PARENT)


def test_promotion_and_rollback_on_the_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SARCO_MODEL_DIR", raising=False)
    monkeypatch.setenv("SARCO_MODELS_HOME", str(tmp_path / "registry"))
    shipped = Registry.load().active
    assert shipped is not None
    _register(tmp_path, "worse", HeldOutScores(10, 0.85, 15.0))
    _register(tmp_path, "better", HeldOutScores(10, 0.95, 4.0))
    at = app(PAGE)
    assert not at.exception, at.exception
    assert at.title[0].value == "Models"
    at.selectbox(key="mdl_candidate").set_value("worse").run()
    at.button(key="mdl_promote").click().run()
    assert "refused" in at.error[0].value
    at.selectbox(key="mdl_candidate").set_value("better").run()
    at.button(key="mdl_promote").click().run()
    assert not at.error and "better is now the active model" in at.success[0].value
    active = Registry.load().active
    assert active is not None and active.name == "better"
    at.run()
    at.selectbox(key="mdl_rollback_to").set_value(shipped.name).run()
    at.button(key="mdl_rollback").click().run()
    active = Registry.load().active
    assert active is not None and active.name == shipped.name
