"""Muscle / fat segmentation of axial slices: a common interface over the trained model, the anatomical
teacher and the HU-threshold baseline."""

from sarco_core.segment.base import (
    METHODS,
    ModelInfo,
    SegmentationResult,
    SliceSegmenter,
    default_model_dir,
)
from sarco_core.segment.registry import get_segmenter

__all__ = [
    "METHODS",
    "ModelInfo",
    "SegmentationResult",
    "SliceSegmenter",
    "default_model_dir",
    "get_segmenter",
]
