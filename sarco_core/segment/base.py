"""The segmentation interface shared by every method.

A segmenter labels canonical axial slices of a :class:`~sarco_core.volume.Volume` with
0 = background, 1 = skeletal muscle compartment, 2 = SAT, 3 = VAT, on the volume's own pixel grid
(methods that work at another pixel size resample in and back out themselves).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sarco_core.volume import Volume

METHODS = ("model", "teacher", "threshold")


@dataclass(frozen=True)
class ModelInfo:
    name: str
    version: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version, "sha256": self.sha256}


@dataclass(frozen=True)
class SegmentationResult:
    """Labels of one slice (uint8, shape rows × cols) with a confidence in [0, 1] and QC flags."""

    index: int
    labels: np.ndarray
    confidence: float
    qc_flags: tuple[str, ...]
    method: str
    model: ModelInfo | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class SliceSegmenter(Protocol):
    """What every method provides."""

    method: str
    model: ModelInfo | None

    def segment(self, volume: Volume, indices: Sequence[int]) -> list[SegmentationResult]:
        """Segment the given canonical slice indices of ``volume``."""
        ...


def default_model_dir() -> Path | None:
    """The model to use: ``$SARCO_MODEL_DIR``, else the registry's active model (:mod:`sarco_core.registry`),
    else the first shipped ``models/*/config.json`` of the repo."""
    env = os.environ.get("SARCO_MODEL_DIR")
    if env:
        return Path(env)
    from sarco_core.registry import active_model_dir

    active = active_model_dir()
    if active is not None:
        return active
    root = Path(__file__).resolve().parents[2] / "models"
    found = sorted(p.parent for p in root.glob("*/config.json"))
    return found[0] if found else None


def get_segmenter(method: str | None = None) -> SliceSegmenter:
    """``method`` = 'model' | 'teacher' | 'threshold' | None (best available: the shipped model, else the teacher)."""
    from sarco_core.errors import ModelError

    if method not in (None, *METHODS):
        raise ModelError(f"Unknown segmentation method {method!r}; choose one of {', '.join(METHODS)}.")
    if method in (None, "model"):
        d = default_model_dir()
        if d is not None:
            from sarco_core.segment.model import Segmenter

            return Segmenter.from_dir(d)
        if method == "model":
            raise ModelError(
                "No trained model is installed (no models/<name>/config.json). Use --method teacher, "
                "or set SARCO_MODEL_DIR to a model folder."
            )
    if method == "threshold":
        from sarco_core.segment.threshold import ThresholdSegmenter

        return ThresholdSegmenter()
    from sarco_core.segment.teacher import TeacherSegmenter

    return TeacherSegmenter()
