"""Training configuration, typed: the shipped model's recipe is ``models/<name>/train.json``; experiments live in
``configs/experiments/`` (index: ``configs/README.md``); ``configs/train_ci.json`` is the CI smoke run."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from sarco_core.errors import SarcoError
from sarco_core.segment.model.prep import ArchConfig


class TrainConfigError(SarcoError):
    """The training configuration is missing, unreadable or inconsistent."""


BLUR_LABELS = ("fine", "gated_area")


@dataclass(frozen=True)
class DataConfig:
    phantom_train_seeds: tuple[int, int] = (0, 400)  # [lo, hi)
    phantom_val_seeds: tuple[int, int] = (900_000, 900_040)
    real_globs: tuple[str, ...] = ()  # relative to shared_data
    real_exclude: tuple[str, ...] = ("totalsegmentator", "eCT_Supplemental")
    real_val_patients: tuple[str, ...] = ()  # path substrings held out from training (pseudo-label checks)
    unlabelled_regex: tuple[str, ...] = ()  # real slices used for SSL only (teacher unreliable there)
    pseudo_labels: str = "teacher"  # "teacher" | "none" (real slices for SSL only)
    min_teacher_confidence: float = 0.0
    crop_px: int = 192
    real_fraction: float = 0.4  # share of supervised samples drawn from pseudo-labelled real slices
    # [regex, weight] pairs: a pseudo-labelled real slice whose name matches is drawn ``weight`` times as often
    # (weights of several matches multiply); empty = uniform, as before
    real_weights: tuple[tuple[str, float], ...] = ()
    # share of phantom train seeds rendered with ``contacts="hard"`` (organs against muscle without a fat plane);
    # 0 = none (old configs and train_ci build byte-identical slices)
    phantom_hard_fraction: float = 0.0
    # levels drawn (uniformly, repeats allowed) for phantom train slices; empty = phantoms.PHANTOM_LEVELS
    phantom_levels: tuple[str, ...] = ()
    # share of phantom train seeds rendered as one of the issue-15 variants (anasarca, cachexia, bowel against the
    # flank, ascites: sarco_core.phantom.variants, labels per the convention), drawn from a stream of their own;
    # 0 = none (old configs build byte-identical slices)
    phantom_variant_fraction: float = 0.0
    # share of supervised samples drawn from coarse-pixel copies of the train slices (re-acquired at a pixel size
    # drawn per slice from ``coarse_mm``, labelled by the gated-area convention: sarco_core.train.coarse); 0 = none
    coarse_fraction: float = 0.0
    coarse_mm: tuple[float, float] = (2.4, 3.6)
    # path substrings of real slices dropped from training entirely (pseudo-labels, references and SSL): the
    # test patient of a leave-one-patient-out fold (sarco_core.train.lopo)
    exclude_patients: tuple[str, ...] = ()
    # folder of reference muscle masks of real slices (index.json + 1-bit PNGs, drawn from the image alone:
    # validation/reviewed/blinded); where a real slice has one it replaces the teacher's muscle as its label
    reference_dir: str = ""

    def __post_init__(self) -> None:
        if not 0.0 <= self.coarse_fraction <= 1.0:
            raise TrainConfigError(f"data.coarse_fraction must be in [0, 1], got {self.coarse_fraction}.")
        if len(self.coarse_mm) != 2 or not 0 < self.coarse_mm[0] <= self.coarse_mm[1]:
            raise TrainConfigError(f"data.coarse_mm must be [lo, hi] pixel sizes in mm, got {list(self.coarse_mm)}.")
        if not 0.0 <= self.phantom_hard_fraction <= 1.0:
            raise TrainConfigError(f"data.phantom_hard_fraction must be in [0, 1], got {self.phantom_hard_fraction}.")
        if not 0.0 <= self.phantom_variant_fraction <= 1.0:
            raise TrainConfigError(
                f"data.phantom_variant_fraction must be in [0, 1], got {self.phantom_variant_fraction}."
            )
        for pair in self.real_weights:
            ok = len(pair) == 2 and isinstance(pair[0], str) and isinstance(pair[1], int | float) and pair[1] > 0
            if not ok:
                raise TrainConfigError(
                    f"data.real_weights entries must be [regex, weight > 0] pairs, got {list(pair)!r}."
                )


@dataclass(frozen=True)
class AugmentConfig:
    rotate_deg: float = 12.0
    scale: tuple[float, float] = (0.8, 1.25)
    hu_scale: tuple[float, float] = (0.95, 1.05)
    hu_shift: float = 15.0
    noise_hu: tuple[float, float] = (0.0, 25.0)
    blur_prob: float = 0.35  # simulate coarse pixels / thick slices (down- then up-sampling)
    blur_factor: tuple[float, float] = (1.2, 2.2)
    # labels of a blurred sample: "fine" keeps the fine compartment (v1-v1.2); "gated_area" relabels it on the
    # blurred pixel grid by the gated-area convention of the coarse copies (sarco_core.train.coarse)
    blur_labels: str = "fine"
    flip_lr_prob: float = 0.5
    fov_crop_prob: float = 0.2  # circular field-of-view truncation
    streak_prob: float = 0.1

    def __post_init__(self) -> None:
        if self.blur_labels not in BLUR_LABELS:
            raise TrainConfigError(f"augment.blur_labels must be one of {list(BLUR_LABELS)}, got {self.blur_labels!r}.")


@dataclass(frozen=True)
class StageConfig:
    steps: int = 0
    batch: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 20
    crop_px: int = 0  # 0: data.crop_px


@dataclass(frozen=True)
class SSLConfig(StageConfig):
    mask_ratio: float = 0.5
    patch_px: int = 16
    noise_hu: float = 30.0


@dataclass(frozen=True)
class SelfTrainConfig(StageConfig):
    rounds: int = 0
    min_probability: float = 0.9  # pixels where the (TTA) model is at least this sure replace the teacher


@dataclass(frozen=True)
class TrainConfig:
    name: str = "sarco-unet"
    version: str = "0.0.0"
    seed: int = 0
    threads: int = 2
    device: str = "auto"  # auto | cpu | cuda
    run_dir: str = "data_cache/runs/default"
    cache_dir: str = "data_cache/train"
    shared_data: str = "../shared/data"
    checkpoint_every: int = 50
    log_every: int = 10
    arch: ArchConfig = field(default_factory=ArchConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    ssl: SSLConfig = field(default_factory=SSLConfig)
    supervised: StageConfig = field(default_factory=StageConfig)
    ssl_init: bool = True
    ssl_init_from: str = ""  # reuse another run's ssl_final.pt (ablations with the same pretraining)
    self_training: SelfTrainConfig = field(default_factory=SelfTrainConfig)
    source: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def resolve(self, path: str) -> Path:
        """A config path relative to the repository root: the nearest folder above the config holding
        pyproject.toml (so ``models/<name>/train.json`` and ``configs/experiments/*.json`` resolve alike), else
        the config's grandparent folder (a config written to ``<dir>/configs/x.json``)."""
        p = Path(path)
        if p.is_absolute():
            return p
        if not self.source:
            return Path.cwd() / p
        here = Path(self.source).resolve().parent
        root = next((d for d in (here, *here.parents) if (d / "pyproject.toml").is_file()), here.parent)
        return root / p


def _sub(cls: type, d: dict[str, Any] | None) -> Any:
    d = dict(d or {})
    names = {f.name for f in fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise TrainConfigError(f"Unknown {cls.__name__} keys {sorted(unknown)}; allowed: {sorted(names)}.")
    for f in fields(cls):
        if f.name in d and isinstance(d[f.name], list):
            d[f.name] = tuple(tuple(x) if isinstance(x, list) else x for x in d[f.name])
    return cls(**d)


def load_config(path: str | Path) -> TrainConfig:
    p = Path(path)
    try:
        d = json.loads(p.read_text())
    except FileNotFoundError:
        raise TrainConfigError(
            f"Training config {p} does not exist. See models/<name>/train.json or configs/experiments/ for examples."
        ) from None
    except json.JSONDecodeError as exc:
        raise TrainConfigError(f"Training config {p} is not valid JSON ({exc}).") from None
    top = {k: v for k, v in d.items() if k not in ("arch", "data", "augment", "ssl", "supervised", "self_training")}
    names = {f.name for f in fields(TrainConfig)}
    unknown = set(top) - names
    if unknown:
        raise TrainConfigError(f"Unknown config keys {sorted(unknown)} in {p}.")
    return TrainConfig(
        **top,
        arch=ArchConfig.from_dict(d.get("arch", {})),
        data=_sub(DataConfig, d.get("data")),
        augment=_sub(AugmentConfig, d.get("augment")),
        ssl=_sub(SSLConfig, d.get("ssl")),
        supervised=_sub(StageConfig, d.get("supervised")),
        self_training=_sub(SelfTrainConfig, d.get("self_training")),
        source=str(p),
        raw=d,
    )
