"""Run ``analyze`` over a cohort on Dask, resumably, with progress, into a CSV and the app's database.

Cases run on Dask workers (a ``LocalCluster`` of single-threaded processes by default, or an existing
scheduler). The client is the single writer: it writes each finished case's JSON atomically into
``<out>.parts/``, stores ok cases in the database, and rebuilds the CSV from the parts at the end
(also when interrupted).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sarco_core import settings
from sarco_core.batch.cases import BatchCase, cohort
from sarco_core.batch.table import CaseRecord, parts_dir, read_part, write_csv, write_part
from sarco_core.batch.worker import CaseOutcome, CaseSettings, run_case
from sarco_core.errors import SarcoError, StoreError, require_optional

log = logging.getLogger(__name__)


DEFAULT_CASE_TIME_LIMIT_S = 300.0  # a 1000-slice case takes ~60 s on one core; 5x that is a hung case


def case_time_limit_s(given: float | None) -> float | None:
    """The per-case time limit: ``given``, else ``SARCO_CASE_TIME_LIMIT_S``, else 300 s; 0 turns it off."""
    raw = given if given is not None else (settings.CASE_TIME_LIMIT_S.raw() or DEFAULT_CASE_TIME_LIMIT_S)
    try:
        v = float(raw)
    except (TypeError, ValueError):
        raise SarcoError(
            f"The per-case time limit {raw!r} (SARCO_CASE_TIME_LIMIT_S) is not a number of seconds. "
            "Give e.g. 300, or 0 for no limit."
        ) from None
    if not v >= 0 or v == float("inf"):
        raise SarcoError(f"The per-case time limit must be 0 (none) or a positive number of seconds, not {raw!r}.")
    return None if v == 0 else v


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class BatchOptions:
    """How to run a batch. ``workers=0`` runs every case in this process (no Dask; for debugging)."""

    workers: int | None = None  # LocalCluster processes; None = the cores available
    scheduler: str | None = None  # address of an existing Dask scheduler (workers is then ignored)
    method: str | None = None
    rule: str | None = None
    threads: int = 1  # torch / ONNX Runtime threads per worker
    store: bool = True  # also save ok cases in the app's database
    store_url: str | None = None  # None = SARCO_DB_URL or the default database
    retry_errors: bool = False  # re-run cases whose stored result is an error
    actor: str = "sarco batch"
    case_time_limit_s: float | None = None  # None = SARCO_CASE_TIME_LIMIT_S or 300 s; 0 = no limit


@dataclass
class BatchSummary:
    out_csv: Path
    parts: Path
    n_cases: int = 0
    n_ok: int = 0
    n_error: int = 0
    n_skipped: int = 0  # finished in an earlier run
    n_stored: int = 0
    elapsed_s: float = 0.0
    columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


ProgressFn = Callable[[int, int, CaseRecord], None]


class Progress:
    """A dependency-free progress line on stderr (one line per case when stderr is not a terminal)."""

    def __init__(self, total: int, stream: TextIO | None = None, done: int = 0) -> None:
        self.total, self.done, self.start = total, done, time.perf_counter()
        self.n_ok = self.n_err = 0
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int, rec: CaseRecord) -> None:
        self.done = done
        self.n_ok += rec.status == "ok"
        self.n_err += rec.status == "error"
        el = time.perf_counter() - self.start
        run = self.n_ok + self.n_err
        eta = el / run * (total - done) if run else 0.0
        msg = (
            f"[{done:>{len(str(total))}}/{total}] {100 * done / max(total, 1):3.0f}%  ok {self.n_ok}  "
            f"error {self.n_err}  {_hms(el)} elapsed, ~{_hms(eta)} left  {rec.case_id}: {rec.status}"
        )
        if self.tty:
            self.stream.write("\r\033[K" + msg + ("\n" if done == total else ""))
        else:
            self.stream.write(msg + "\n")
        self.stream.flush()


def _hms(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def require_dask() -> None:
    """Dask is an extra (requirements-cluster.txt): the slim runtime runs batches only with ``--workers 0``."""
    require_optional(
        "distributed",
        feature="Running a batch on Dask workers (--workers N or --scheduler)",
        install="pip install -r requirements-cluster.txt (or pip install -e .[cluster]); "
        "or run the cases one at a time in this process with --workers 0.",
    )


@contextmanager
def dask_client(options: BatchOptions) -> Iterator[Any]:
    """A ``distributed.Client``: to ``options.scheduler``, or to a new LocalCluster of single-threaded workers."""
    require_dask()
    from distributed import Client, LocalCluster

    if options.scheduler:
        try:
            client = Client(options.scheduler, timeout="30s")
        except (OSError, TimeoutError) as exc:
            raise SarcoError(
                f"Cannot reach the Dask scheduler at {options.scheduler} ({exc}). Start it with `dask scheduler` "
                "and its workers with `dask worker ADDRESS`, or leave out --scheduler to run on this machine."
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    n = options.workers or available_cores()
    env = {
        "SARCO_THREADS": str(options.threads),
        "OMP_NUM_THREADS": str(options.threads),
        "MKL_NUM_THREADS": str(options.threads),
    }
    cluster = LocalCluster(
        n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR, env=env
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _outcomes_local(todo: list[BatchCase], settings: CaseSettings) -> Iterator[tuple[BatchCase, CaseOutcome]]:
    for case in todo:
        yield case, run_case(case, settings)


def _timed_out(case: BatchCase, limit_s: float, elapsed_s: float, worker: str) -> CaseOutcome:
    return CaseOutcome(
        case_id=case.case_id,
        status="error",
        elapsed_s=elapsed_s,
        worker=worker,
        analysis=None,
        error=f"CaseTimeLimitError: the case ran longer than the {limit_s:g} s per-case time limit and was stopped "
        "(its worker was restarted); the input is probably damaged or far larger than one CT series. Check "
        "it, or raise the limit with --case-time-limit / SARCO_CASE_TIME_LIMIT_S.",
    )


def _restart_worker_of(client: Any, key: str) -> str:
    """Restart, in the background, the worker process running ``key`` (a hung case holds it); returns its
    address or ''. The loop does not wait: the other workers go on with the cohort meanwhile."""
    try:
        addr = next((w for w, keys in client.processing().items() if key in keys), "")
    except Exception:  # pragma: no cover - scheduler gone
        return ""
    if not addr:
        return ""

    def restart() -> None:
        try:
            client.restart_workers([addr], timeout=120, raise_for_error=False)
        except Exception as exc:  # in-process workers cannot restart; the client may be closing
            log.warning("could not restart the worker of a timed-out case: %s", type(exc).__name__)

    threading.Thread(target=restart, name="sarco-restart-worker", daemon=True).start()
    return str(addr)


def _outcomes_dask(
    todo: list[BatchCase], settings: CaseSettings, client: Any, window: int, workers: list[str] | None = None
) -> Iterator[tuple[BatchCase, CaseOutcome]]:
    """Submit at most ``window`` cases at a time (bounded memory) and yield them as they finish
    (``workers``: restrict to these worker addresses). A case running past ``settings.time_limit_s`` is
    reported as failed, cancelled, and its worker restarted, so the rest of the cohort continues."""
    from distributed import wait

    limit = settings.time_limit_s
    if limit is not None:  # no queue behind a hung case: a submitted case starts at once
        window = max(1, min(window, sum(client.nthreads().values()) if workers is None else len(workers)))
        try:  # the clock starts at submission: load the segmenter on every (also restarted) worker first
            from sarco_core.batch.plugin import WarmSegmenter

            client.register_plugin(WarmSegmenter(settings.method, settings.threads), name=WarmSegmenter.name)
        except Exception as exc:  # pragma: no cover - an old scheduler without plugins
            log.warning("could not warm the workers: %s", type(exc).__name__)
    pending = list(reversed(todo))
    running: dict[str, tuple[BatchCase, Any, float]] = {}

    def submit_one() -> None:
        case = pending.pop()
        fut = client.submit(
            run_case, case, settings, pure=False, workers=workers, key=f"sarco-case-{case.case_id}-{time.time_ns()}"
        )
        running[fut.key] = (case, fut, time.monotonic())

    for _ in range(min(window, len(pending))):
        submit_one()
    while running:
        futs = [f for _, f, _ in running.values()]
        poll = 5.0 if limit is None else max(0.05, min(5.0, limit / 10))
        try:
            done = wait(futs, timeout=poll, return_when="FIRST_COMPLETED").done
        except TimeoutError:
            done = set()
        now = time.monotonic()
        for key in list(running):
            case, fut, t0 = running[key]
            if fut in done:
                try:
                    out = fut.result()
                except Exception as exc:  # the worker died (memory, crash) or the task could not run
                    out = CaseOutcome(
                        case_id=case.case_id,
                        status="error",
                        elapsed_s=0.0,
                        worker="",
                        analysis=None,
                        error=f"worker failed: {type(exc).__name__}: {exc} (out of memory or crash; "
                        "try fewer workers per machine)",
                    )
            elif limit is not None and now - t0 > limit:
                addr = _restart_worker_of(client, key)
                fut.cancel()
                out = _timed_out(case, limit, now - t0, addr)
            else:
                continue
            del running[key]
            fut.release()
            if pending:
                submit_one()
            yield case, out


def _is_finished(rec: CaseRecord | None, fp: str, options: BatchOptions) -> bool:
    if rec is None or rec.fingerprint != fp:
        return False
    if rec.status == "error":
        return not options.retry_errors
    return not options.store or rec.store_case_id is not None


def _open_store(options: BatchOptions) -> Any:
    from sarco_core.store import Store

    if options.store_url:
        return Store.open(options.store_url)
    from sarco_core.store.db import default_db_url

    return Store.open(default_db_url())


def _store_case(store: Any, case: BatchCase, out: CaseOutcome, actor: str) -> int:
    """Save an ok case; a label already taken by the same input gets a new analysis, else a new label."""
    if out.volume is None or out.labels is None or out.analysis is None or out.slice_index is None:
        raise StoreError("the worker returned no image or labels to store")
    a = out.analysis
    auto = (a.get("l3") or {}).get("auto_index")
    sha = (a.get("input") or {}).get("sha256")
    kw = dict(
        analysis=a,
        labels=out.labels,
        slice_index=out.slice_index,
        actor=actor,
        l3_auto_index=None if auto is None else int(auto),
        input_sha256=sha,
    )
    label = case.store_label(sha)
    from dataclasses import replace

    from sarco_core.privacy import scrub_file_names

    # loader warnings are stored with the case: the case's file and folder names (which may carry identifiers)
    # are removed from them
    volume = replace(out.volume, warnings=scrub_file_names(out.volume.warnings, [Path(case.path).name]))
    try:
        try:
            return int(store.create_case(volume, label=label, **kw).id)
        except StoreError as exc:
            if "already exists" not in str(exc):
                raise
        same = [c for c in store.list_cases() if c.label == label]
        if same and sha and store.get_case(same[0].id).input_sha256 == sha:
            store.add_analysis(same[0].id, a, out.labels, out.slice_index, actor, l3_auto_index=kw["l3_auto_index"])
            return int(same[0].id)
        label = f"{label} ({time.strftime('%Y-%m-%d %H:%M:%S')})"
        return int(store.create_case(volume, label=label, **kw).id)
    finally:
        cache = getattr(store, "_cache", None)  # the store keeps created volumes in memory: drop them here
        if cache is not None and hasattr(cache, "clear"):
            cache.clear()


def run_batch(
    input_dir: Path | str | None,
    out_csv: Path | str,
    *,
    manifest: Path | str | None = None,
    options: BatchOptions = BatchOptions(),
    progress: ProgressFn | None = None,
    warn: Callable[[str], None] | None = None,
) -> BatchSummary:
    """Analyse every case of the cohort (see :func:`sarco_core.batch.cases.cohort`) and write ``out_csv``.

    Cases finished by an earlier run with the same input, patient data and settings are skipped.
    Returns counts; per-case errors are in the CSV's ``status``/``error`` columns, never raised.
    """
    t0 = time.perf_counter()
    if options.workers != 0 or options.scheduler:
        require_dask()  # before scanning the cohort, not after
    if options.method == "model" and not options.scheduler:
        from sarco_core.errors import ModelError
        from sarco_core.segment.base import default_model_dir

        if default_model_dir() is None:  # fail before starting workers, not once per case
            raise ModelError(
                "No trained model is installed (no models/<name>/config.json). Use --method teacher, "
                "or set SARCO_MODEL_DIR to a model folder."
            )
    out_csv = Path(out_csv)
    in_dir = Path(input_dir) if input_dir is not None else None
    cases, warnings = cohort(in_dir, Path(manifest) if manifest else None)
    for w in warnings:
        if warn is not None:
            warn(w)
    parts = parts_dir(out_csv)
    parts.mkdir(parents=True, exist_ok=True)
    for stale in parts.glob(".*.partial"):  # left by a run that was killed mid-write
        stale.unlink(missing_ok=True)
    settings = CaseSettings(
        method=options.method,
        rule=options.rule,
        threads=options.threads,
        keep_for_store=options.store,
        time_limit_s=case_time_limit_s(options.case_time_limit_s),
    )
    summary = BatchSummary(out_csv=out_csv, parts=parts, n_cases=len(cases), warnings=warnings)
    fps = {c.case_id: c.fingerprint(settings.key()) for c in cases}
    todo = [c for c in cases if not _is_finished(read_part(parts, c.case_id), fps[c.case_id], options)]
    summary.n_skipped = len(cases) - len(todo)
    store = _open_store(options) if (options.store and todo) else None
    done = summary.n_skipped
    try:
        with ExitStack() as stack:
            if not todo:
                outcomes: Iterator[tuple[BatchCase, CaseOutcome]] = iter(())
            elif options.workers == 0 and not options.scheduler:
                outcomes = _outcomes_local(todo, settings)
            else:
                client = stack.enter_context(dask_client(options))
                window = 2 * max(1, sum(client.nthreads().values()))
                outcomes = _outcomes_dask(todo, settings, client, window)
            for case, out in outcomes:
                rec = CaseRecord(
                    case_id=case.case_id,
                    path=case.path,
                    status=out.status,
                    error=out.error,
                    fingerprint=fps[case.case_id],
                    analysis=out.analysis,
                    manifest={"height_m": case.height_m, "weight_kg": case.weight_kg, "sex": case.sex},
                    elapsed_s=out.elapsed_s,
                    worker=out.worker,
                )
                if store is not None and out.status == "ok":
                    try:
                        rec.store_case_id = _store_case(store, case, out, options.actor)
                        summary.n_stored += 1
                    except Exception as exc:
                        rec.error = f"analysed, but not saved to the database: {type(exc).__name__}: {exc}"
                write_part(parts, rec)
                done += 1
                if progress is not None:
                    progress(done, len(cases), rec)
    finally:
        records = [
            r for r in (read_part(parts, c.case_id) for c in cases) if r is not None and r.fingerprint == fps[r.case_id]
        ]
        summary.columns = write_csv(out_csv, records)
        summary.n_ok = sum(r.status == "ok" for r in records)
        summary.n_error = sum(r.status == "error" for r in records)
        summary.elapsed_s = time.perf_counter() - t0
    return summary
