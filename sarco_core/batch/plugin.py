"""Dask worker plugin of ``sarco batch``: load the segmenter when a worker starts (also after a restart), so a
case's time limit never includes the worker's start-up (imports, model load)."""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from sarco_core.batch.worker import cached_segmenter


class WarmSegmenter(WorkerPlugin):
    name = "sarco-warm-segmenter"

    def __init__(self, method: str | None, threads: int) -> None:
        self.method, self.threads = method, threads

    def setup(self, worker: Any) -> None:
        try:
            cached_segmenter(self.method, self.threads)
        except Exception:  # a missing model etc. is reported by the first case, with its message
            pass
