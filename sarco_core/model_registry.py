"""Model registry: which model the app and CLI use, fine-tuned candidates, the promotion rule and rollback.

Where it lives (the one place this is decided): ``$SARCO_MODELS_HOME`` if set, else ``<SARCO_HOME>/models``
(``SARCO_HOME`` defaults to the platform's user data folder, see :func:`sarco_core.privacy.sarco_home`). It holds
``registry.json`` and one folder per registered model (copied there on registration, never edited afterwards).

The shipped models (``models/*/config.json`` of the repository) are always listed. ``$SARCO_MODEL_DIR`` still
overrides everything (tests, one-off runs); otherwise the active registry entry is used, else the shipped model.

Promotion rule (written before any fine-tuning; stored in every candidate's entry as text): a candidate is
promoted only when, on the SAME held-out site cases (patients never used for its training), its median HU-gated
muscle Dice is at least its parent's + :data:`MIN_DICE_GAIN` AND its median |SMA error| is no larger than the
parent's. Anything else is refused with the figures. Rollback re-activates the previously active model (or any
earlier one named); nothing is deleted.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from sarco_core import settings
from sarco_core.errors import ModelError

REGISTRY_FILE = "registry.json"
MIN_DICE_GAIN = 0.005  # median gated Dice gain a candidate must show over its parent on held-out site cases


class RegistryError(ModelError):
    """The registry cannot do what was asked (unknown model, refused promotion, nothing to roll back to)."""


class EntryStatus(StrEnum):
    SHIPPED = "shipped"
    CANDIDATE = "candidate"
    PROMOTED = "promoted"
    REFUSED = "refused"


def registry_root() -> Path:
    env = settings.MODELS_HOME.raw()
    if env:
        return Path(env)
    return settings.home() / "models"


def shipped_model_dirs() -> list[Path]:
    root = settings.REPO_ROOT / "models"
    return sorted(p.parent for p in root.glob("*/config.json"))


@dataclass(frozen=True)
class HeldOutScores:
    """A model's agreement with the site's held-out expert masks."""

    n_cases: int
    dice_median: float
    sma_abs_error_pct_median: float

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HeldOutScores:
        return cls(int(d["n_cases"]), float(d["dice_median"]), float(d["sma_abs_error_pct_median"]))


@dataclass(frozen=True)
class PromotionRule:
    min_dice_gain: float = MIN_DICE_GAIN

    @property
    def text(self) -> str:
        return (
            f"promote only if, on the same held-out site cases, median gated Dice >= parent's + {self.min_dice_gain} "
            "and median |SMA error| % <= parent's"
        )

    def decide(self, child: HeldOutScores, parent: HeldOutScores) -> tuple[bool, str]:
        if child.n_cases != parent.n_cases or child.n_cases == 0:
            return False, f"child and parent were scored on different or no cases ({child.n_cases} vs {parent.n_cases})"
        gain = child.dice_median - parent.dice_median
        ok_d = gain >= self.min_dice_gain
        ok_e = child.sma_abs_error_pct_median <= parent.sma_abs_error_pct_median
        why = (
            f"median Dice {child.dice_median:.4f} vs parent {parent.dice_median:.4f} (gain {gain:+.4f}, "
            f"needs >= {self.min_dice_gain}); median |SMA error| {child.sma_abs_error_pct_median:.2f} % vs parent "
            f"{parent.sma_abs_error_pct_median:.2f} % (must not be larger); {child.n_cases} held-out cases"
        )
        return ok_d and ok_e, why


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: str
    status: EntryStatus
    parent: str | None = None
    registered: str = ""
    rule: str = ""
    child_scores: HeldOutScores | None = None
    parent_scores: HeldOutScores | None = None
    decision: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelEntry:
        return cls(
            name=d["name"],
            path=d["path"],
            status=EntryStatus(d["status"]),
            parent=d.get("parent"),
            registered=d.get("registered", ""),
            rule=d.get("rule", ""),
            child_scores=HeldOutScores.from_dict(d["child_scores"]) if d.get("child_scores") else None,
            parent_scores=HeldOutScores.from_dict(d["parent_scores"]) if d.get("parent_scores") else None,
            decision=d.get("decision", ""),
        )


@dataclass(frozen=True)
class Registry:
    root: Path
    entries: tuple[ModelEntry, ...]
    history: tuple[str, ...]  # activation order; the last is active (empty: the shipped model)

    @classmethod
    def load(cls, root: Path | None = None) -> Registry:
        root = root or registry_root()
        shipped = [ModelEntry(name=p.name, path=str(p), status=EntryStatus.SHIPPED) for p in shipped_model_dirs()]
        f = root / REGISTRY_FILE
        if not f.exists():
            return cls(root=root, entries=tuple(shipped), history=())
        try:
            d = json.loads(f.read_text())
            own = [ModelEntry.from_dict(e) for e in d.get("entries", [])]
            history = tuple(d.get("history", []))
        except (json.JSONDecodeError, KeyError, ValueError) as exc:
            raise RegistryError(f"The model registry {f} is unreadable ({exc}); restore it or remove it.") from None
        names = {e.name for e in own}
        return cls(root=root, entries=tuple([e for e in shipped if e.name not in names] + own), history=history)

    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        own = [e.to_dict() for e in self.entries if e.status != EntryStatus.SHIPPED]
        tmp = self.root / (REGISTRY_FILE + ".partial")
        tmp.write_text(json.dumps({"entries": own, "history": list(self.history)}, indent=2))
        tmp.replace(self.root / REGISTRY_FILE)

    @property
    def active(self) -> ModelEntry | None:
        if self.history:
            return self.get(self.history[-1])
        shipped = [e for e in self.entries if e.status == EntryStatus.SHIPPED]
        return shipped[0] if shipped else None

    def get(self, name: str) -> ModelEntry:
        for e in self.entries:
            if e.name == name:
                return e
        known = ", ".join(e.name for e in self.entries)
        raise RegistryError(f"No model named {name!r} in the registry; known: {known}.")

    def _with(self, entry: ModelEntry, history: tuple[str, ...] | None = None) -> Registry:
        es = tuple(entry if e.name == entry.name else e for e in self.entries)
        if entry.name not in {e.name for e in self.entries}:
            es = (*es, entry)
        reg = replace(self, entries=es, history=self.history if history is None else history)
        reg.save()
        return reg

    def register(
        self, model_dir: Path, *, parent: str, child_scores: HeldOutScores, parent_scores: HeldOutScores
    ) -> Registry:
        """Copy ``model_dir`` into the registry as a candidate (not active) with its held-out scores."""
        name = model_dir.name
        if any(e.name == name for e in self.entries):
            raise RegistryError(f"A model named {name!r} is already registered; give the fine-tuned model a new name.")
        if not (model_dir / "config.json").is_file():
            raise RegistryError(f"{model_dir} is not a model folder (no config.json).")
        self.get(parent)
        dest = self.root / name
        if dest.exists() and dest.resolve() != model_dir.resolve():
            raise RegistryError(f"{dest} already exists but is not registered; move it away or choose a new name.")
        if dest.resolve() != model_dir.resolve():
            shutil.copytree(model_dir, dest, ignore=shutil.ignore_patterns("ckpt_*", "*.partial*"))
        entry = ModelEntry(
            name=name,
            path=str(dest),
            status=EntryStatus.CANDIDATE,
            parent=parent,
            registered=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            rule=PromotionRule().text,
            child_scores=child_scores,
            parent_scores=parent_scores,
        )
        return self._with(entry)

    def promote(self, name: str) -> tuple[Registry, str]:
        """Apply the promotion rule; activate the candidate when it passes, else record and raise the refusal."""
        e = self.get(name)
        if e.status == EntryStatus.SHIPPED:
            raise RegistryError(f"{name} is a shipped model; use rollback to return to it.")
        if e.child_scores is None or e.parent_scores is None:
            raise RegistryError(f"{name} has no held-out scores; only models from `sarco finetune` can be promoted.")
        ok, why = PromotionRule().decide(e.child_scores, e.parent_scores)
        if not ok:
            self._with(replace(e, status=EntryStatus.REFUSED, decision=f"refused: {why}"))
            raise RegistryError(f"Promotion of {name} refused by the rule ({PromotionRule().text}): {why}.")
        reg = self._with(replace(e, status=EntryStatus.PROMOTED, decision=f"promoted: {why}"), (*self.history, name))
        return reg, why

    def rollback(self, to: str | None = None) -> Registry:
        """Re-activate the previously active model, or ``to`` (a shipped or earlier promoted model)."""
        active = self.active
        if to is None:
            if not self.history:
                raise RegistryError("Nothing to roll back: the shipped model is active.")
            hist = self.history[:-1]
            return self._with(self.get(self.history[-1]), hist)
        e = self.get(to)
        if e.status not in (EntryStatus.SHIPPED, EntryStatus.PROMOTED):
            raise RegistryError(
                f"{to} was never promoted ({e.status.value}); roll back only to an earlier active model."
            )
        if active is not None and active.name == to:
            raise RegistryError(f"{to} is already the active model.")
        return self._with(e, (*self.history, to))


def active_model_dir() -> Path | None:
    """The active model's folder by the registry (None when no registry file exists: the caller falls back)."""
    root = registry_root()
    if not (root / REGISTRY_FILE).exists():
        return None
    e = Registry.load(root).active
    if e is None:
        return None
    p = Path(e.path)
    if not (p / "config.json").is_file():
        raise RegistryError(f"The active model {e.name} is missing at {p}; run `sarco models rollback`.")
    return p


def resolve_model(name_or_dir: str) -> Path:
    """A model folder from a path or a registry name."""
    p = Path(name_or_dir)
    if (p / "config.json").is_file():
        return p
    return Path(Registry.load().get(name_or_dir).path)
