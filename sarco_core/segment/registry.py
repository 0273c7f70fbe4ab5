"""Pick a segmenter by method name. The only module that imports the methods (function-level, so importing the
registry stays cheap); the methods import :mod:`sarco_core.segment.base` only, never this module."""

from __future__ import annotations

import threading

from sarco_core.enums import Method
from sarco_core.errors import ModelError
from sarco_core.segment.base import METHODS, SliceSegmenter, default_model_dir


def segmenter_key(method: str | None = None) -> tuple[str | None, str | None]:
    """(method, model folder) that identifies what :func:`get_segmenter` would load now: for the model, the
    registry's active folder, so a process-wide cache keyed by it picks up a promotion or rollback at once."""
    d = default_model_dir() if method in (None, Method.MODEL) else None
    return method, None if d is None else str(d)


def get_segmenter(method: str | None = None) -> SliceSegmenter:
    """``method`` = 'model' | 'teacher' | 'threshold' | None (best available: the shipped model, else the teacher)."""
    if method not in (None, *METHODS):
        raise ModelError(f"Unknown segmentation method {method!r}; choose one of {', '.join(METHODS)}.")
    if method in (None, Method.MODEL):
        d = default_model_dir()
        if d is not None:
            from sarco_core.segment.model.segmenter import Segmenter

            return Segmenter.from_dir(d)
        if method == Method.MODEL:
            raise ModelError(
                "No trained model is installed (no models/<name>/config.json). Use --method teacher, "
                "or set SARCO_MODEL_DIR to a model folder."
            )
    if method == Method.THRESHOLD:
        from sarco_core.segment.threshold import ThresholdSegmenter

        return ThresholdSegmenter()
    from sarco_core.segment.teacher.segmenter import TeacherSegmenter

    return TeacherSegmenter()


_CACHE: dict[tuple[str | None, str | None], SliceSegmenter] = {}  # by segmenter_key
_CACHE_LOCK = threading.Lock()


def cached_segmenter(method: str | None = None) -> SliceSegmenter:
    """The process-wide segmenter of ``method``, loaded once per :func:`segmenter_key` (so once per active model
    folder) and shared by every caller in the process (``analyze`` and the app); thread-safe."""
    key = segmenter_key(method)
    with _CACHE_LOCK:
        seg = _CACHE.get(key)
        if seg is None:
            seg = _CACHE[key] = get_segmenter(method)
    return seg
