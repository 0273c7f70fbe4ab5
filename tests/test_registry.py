"""Model registry: candidates, the promotion rule (refused when the child is worse), rollback, active model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sarco_core.cli import main
from sarco_core.model_registry import (
    EntryStatus,
    HeldOutScores,
    PromotionRule,
    Registry,
    RegistryError,
    active_model_dir,
    registry_root,
)
from sarco_core.segment.base import default_model_dir

PARENT = HeldOutScores(n_cases=10, dice_median=0.90, sma_abs_error_pct_median=12.0)


def _model(tmp: Path, name: str) -> Path:
    d = tmp / "out" / name
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({"name": name, "version": "1.0.0"}))
    return d


@pytest.fixture
def reg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Registry:
    monkeypatch.delenv("SARCO_MODEL_DIR", raising=False)
    monkeypatch.setenv("SARCO_MODELS_HOME", str(tmp_path / "registry"))
    r = Registry.load()
    assert r.active is not None and r.active.status == EntryStatus.SHIPPED
    return r


def test_rule_decides_on_both_dice_and_sma_error():
    rule = PromotionRule()
    better = HeldOutScores(10, 0.93, 6.0)
    assert rule.decide(better, PARENT)[0]
    assert not rule.decide(HeldOutScores(10, 0.93, 13.0), PARENT)[0]  # Dice up, SMA error worse
    assert not rule.decide(HeldOutScores(10, 0.902, 5.0), PARENT)[0]  # Dice gain below the minimum
    assert not rule.decide(HeldOutScores(9, 0.99, 1.0), PARENT)[0]  # scored on other cases


def test_promotion_refused_when_child_is_worse(reg: Registry, tmp_path: Path):
    shipped = reg.active
    assert shipped is not None
    reg = reg.register(
        _model(tmp_path, "worse"), parent=shipped.name, child_scores=HeldOutScores(10, 0.88, 14.0), parent_scores=PARENT
    )
    with pytest.raises(RegistryError, match="refused.*0.8800"):
        reg.promote("worse")
    again = Registry.load()
    assert again.get("worse").status == EntryStatus.REFUSED
    assert again.active is not None and again.active.name == shipped.name
    assert active_model_dir() == Path(shipped.path)


def test_promote_then_rollback(reg: Registry, tmp_path: Path):
    shipped = reg.active
    assert shipped is not None
    reg = reg.register(
        _model(tmp_path, "site-a"), parent=shipped.name, child_scores=HeldOutScores(10, 0.95, 5.0), parent_scores=PARENT
    )
    assert (registry_root() / "site-a" / "config.json").is_file()  # copied into the registry
    reg, why = reg.promote("site-a")
    assert "gain +0.0500" in why
    assert default_model_dir() == registry_root() / "site-a"  # the CLI and app use the active model
    reg = Registry.load().rollback()
    assert reg.active is not None and reg.active.name == shipped.name
    assert default_model_dir() == Path(shipped.path)
    reg = reg.rollback(to="site-a")  # any earlier promoted model
    assert reg.active is not None and reg.active.name == "site-a"
    with pytest.raises(RegistryError, match="already"):
        reg.rollback(to="site-a")


def test_register_refuses_duplicates_and_unknown_parents(reg: Registry, tmp_path: Path):
    with pytest.raises(RegistryError, match="No model named"):
        reg.register(_model(tmp_path, "x"), parent="nope", child_scores=PARENT, parent_scores=PARENT)
    shipped = reg.active
    assert shipped is not None
    with pytest.raises(RegistryError, match="already registered"):
        reg.register(_model(tmp_path, shipped.name), parent=shipped.name, child_scores=PARENT, parent_scores=PARENT)


def test_cli_models(reg: Registry, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["models", "list"]) == 0
    assert "* " in capsys.readouterr().out
    assert main(["models", "rollback"]) == 2
    assert "Nothing to roll back" in capsys.readouterr().err
    assert main(["models", "promote", "missing"]) == 2
