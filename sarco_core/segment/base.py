"""The segmentation interface shared by every method (types only; :mod:`sarco_core.segment.registry` picks one).

A segmenter labels canonical axial slices of a :class:`~sarco_core.volume.Volume` with
0 = background, 1 = skeletal muscle compartment, 2 = SAT, 3 = VAT, on the volume's own pixel grid
(methods that work at another pixel size resample in and back out themselves).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from sarco_core import settings
from sarco_core.enums import Method
from sarco_core.volume import Volume

METHODS: tuple[str, ...] = tuple(m.value for m in Method)


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
    """The model to use: ``$SARCO_MODEL_DIR``, else the model registry's active model
    (:mod:`sarco_core.model_registry`), else the first shipped ``models/*/config.json``
    (:func:`sarco_core.settings.model_dir`)."""
    env = settings.MODEL_DIR.raw()
    if env:
        return Path(env)
    from sarco_core.model_registry import active_model_dir

    active = active_model_dir()
    if active is not None:
        return active
    return settings.model_dir()
