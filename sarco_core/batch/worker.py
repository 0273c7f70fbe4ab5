"""What runs on a Dask worker for one case: ``analyze`` with a segmenter loaded once per worker process.

Every failure of a case (bad file, no L3, internal error) becomes an ``error`` outcome with its message;
nothing is raised, so one bad case never stops the cohort.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from sarco_core.batch.cases import BatchCase
from sarco_core.errors import CaseTimeLimitError, SarcoError


@dataclass(frozen=True)
class CaseSettings:
    """Run settings shared by every case (pickled to the workers)."""

    method: str | None = None  # None = best available (shipped model, else teacher)
    rule: str | None = None  # cutoff rule name; None = default
    threads: int = 1  # torch / ONNX Runtime threads per worker (SARCO_THREADS)
    keep_for_store: bool = True  # return the volume and labels so the client can store the case
    time_limit_s: float | None = None  # per-case limit (enforced by the client for Dask, by SIGALRM in-process)

    def key(self) -> str:
        """What, besides the case itself, changes a result (for resumability)."""
        return f"method={self.method}|rule={self.rule}"


@dataclass
class CaseOutcome:
    """One case's result as returned to the client."""

    case_id: str
    status: str  # ok | error
    error: str
    analysis: dict[str, Any] | None
    elapsed_s: float
    worker: str
    volume: Any = None  # Volume, only when keep_for_store
    labels: np.ndarray | None = None  # 2-D label map of the measured slice, only when keep_for_store
    slice_index: int | None = None


_LOCK = threading.Lock()
_SEGMENTERS: dict[str, Any] = {}
_LOADS = 0  # how many segmenters this process has loaded (tests check it stays 1 per worker)


def _set_threads(n: int) -> None:
    os.environ["SARCO_THREADS"] = str(n)  # read by the model loader for torch and ONNX Runtime
    try:
        import torch

        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
    except Exception:  # pragma: no cover - torch missing or already initialised its pools
        pass


def cached_segmenter(method: str | None, threads: int) -> Any:
    """The segmenter for ``method``, loaded once per process and active model folder (thread-safe; a worker of a
    long-lived scheduler picks up a registry promotion or rollback)."""
    global _LOADS
    from sarco_core.segment.registry import segmenter_key

    key = f"{segmenter_key(method)}|{threads}"
    with _LOCK:
        seg = _SEGMENTERS.get(key)
        if seg is None:
            _set_threads(threads)
            from sarco_core.segment import get_segmenter

            seg = get_segmenter(method)
            _SEGMENTERS[key] = seg
            _LOADS += 1
        return seg


def load_count() -> int:
    return _LOADS


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except Exception:
        return f"{socket.gethostname()}:{os.getpid()}"


def _message(exc: BaseException) -> str:
    if isinstance(exc, SarcoError):
        return f"{type(exc).__name__}: {exc}"
    if isinstance(exc, MemoryError):
        return "MemoryError: the case did not fit in this worker's memory; run fewer workers per machine."
    return f"internal error: {type(exc).__name__}: {exc}"


@contextmanager
def _time_limit(limit_s: float | None) -> Iterator[None]:
    """Interrupt the case after ``limit_s`` with :class:`CaseTimeLimitError` (main thread only: the in-process
    runner; Dask cases are stopped by the client) and give the loaders the same time budget."""
    from sarco_core.io.limits import deadline

    if limit_s is None:
        yield
        return
    setting = "the per-case time limit, --case-time-limit / SARCO_CASE_TIME_LIMIT_S"
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        with deadline(limit_s, setting=setting):
            yield
        return

    def on_alarm(_sig: int, _frame: object) -> None:
        raise CaseTimeLimitError(
            f"the case ran longer than the {limit_s:g} s per-case time limit and was stopped; the input is probably "
            "damaged or far larger than one CT series. Check it, or raise the limit with --case-time-limit / "
            "SARCO_CASE_TIME_LIMIT_S."
        )

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        with deadline(limit_s, setting=setting):
            yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def run_case(case: BatchCase, settings: CaseSettings) -> CaseOutcome:
    """Analyse one case; never raises (errors become ``status='error'`` with the message)."""
    t0 = time.perf_counter()
    worker = _worker_name()
    try:
        from sarco_core.analyze import analyze

        seg = cached_segmenter(settings.method, settings.threads)
        t0 = time.perf_counter()  # the per-worker start-up (imports, model load) is not the case's time
        with _time_limit(settings.time_limit_s):
            res = analyze(
                case.path,
                height_m=case.height_m,
                weight_kg=case.weight_kg,
                sex=case.sex,
                rule=settings.rule,
                method=settings.method,
                segmenter=seg,
            )
        analysis = res.to_dict()
        out = CaseOutcome(
            case_id=case.case_id,
            status="ok",
            error="",
            analysis=analysis,
            elapsed_s=time.perf_counter() - t0,
            worker=worker,
        )
        if settings.keep_for_store:
            out.volume = getattr(res, "volume", None)
            out.labels = getattr(res, "labels", None)
            out.slice_index = int(analysis.get("l3", {}).get("index", getattr(res, "slice_index", 0)) or 0)
        return out
    except Exception as exc:  # one bad case never stops the cohort
        return CaseOutcome(
            case_id=case.case_id,
            status="error",
            error=_message(exc),
            analysis=None,
            elapsed_s=time.perf_counter() - t0,
            worker=worker,
        )
