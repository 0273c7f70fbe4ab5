"""Batch throughput on Dask: 1 worker × 1 thread vs 2 workers × 1 thread (torch / ORT threads 1 each).

One LocalCluster of two single-threaded worker processes; the 1-worker run pins every case to the first
worker (the second idles), the 2-worker run uses both - same processes, same warm segmenters.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.common import Section

TARGET_RATIO = 1.6


def _warm_worker(method: str | None) -> str:
    """Load the segmenter and import the pipeline on a worker (outside the timed part)."""
    import sarco_core.analyze  # noqa: F401
    from sarco_core.batch.worker import cached_segmenter

    cached_segmenter(method, 1)
    return "ok"


def run(sec: Section, cases_dir: Path, what: str, *, method: str | None = None) -> dict[str, Any]:
    from sarco_core.batch.cases import discover
    from sarco_core.batch.runner import BatchOptions, _outcomes_dask, dask_client
    from sarco_core.batch.worker import CaseSettings

    cases, _ = discover(cases_dir)
    settings = CaseSettings(method=method, threads=1, keep_for_store=False)
    sec.notes.append(
        f"{len(cases)} cases: {what}. One Dask LocalCluster of two single-threaded worker processes "
        "(SARCO_THREADS=1: torch and ONNX Runtime one thread each); the 1-worker run pins all cases "
        "to one worker. Timed from the first submission to the last result, after both workers have "
        "loaded the segmenter; CSV/database writing not included (`--no-store`)."
    )
    out: dict[Any, Any] = {}
    t0 = time.perf_counter()
    with dask_client(BatchOptions(workers=2, threads=1, store=False, method=method)) as client:
        client.run(_warm_worker, method)
        startup = time.perf_counter() - t0
        addrs = sorted(client.nthreads())
        for n, pin in ((1, addrs[:1]), (2, None)):
            t = time.perf_counter()
            results = [o for _, o in _outcomes_dask(cases, settings, client, window=2 * n, workers=pin)]
            el = time.perf_counter() - t
            n_ok = sum(o.status == "ok" for o in results)
            rate = len(cases) / el
            out[n] = {"elapsed_s": el, "cases_per_s": rate, "ok": n_ok}
            sec.add(
                f"{n} worker{'s' if n > 1 else ''} × 1 thread: throughput",
                rate,
                "cases/s",
                note=f"{len(cases)} cases in {el:.1f} s ({n_ok} ok)",
            )
    ratio = out[2]["cases_per_s"] / out[1]["cases_per_s"]
    big = len(cases) >= 20
    sec.add(
        "2 workers / 1 worker throughput",
        ratio,
        "ratio",
        target=f"≥ {TARGET_RATIO}×" if big else None,
        ok=(lambda v: v >= TARGET_RATIO) if big else None,
    )
    sec.add("LocalCluster start-up incl. segmenter load", startup, "s", note="paid once per `sarco batch` run")
    out["ratio"] = ratio
    out["startup_s"] = startup
    return {str(k): v for k, v in out.items()}


def store_cost(sec: Section, vol: Any, what: str, *, repeats: int = 2) -> dict[str, Any]:
    """The client's single-writer cost per case: ``Store.create_case`` (image compression + SQLite insert)."""
    import tempfile

    import numpy as np

    from benchmarks.common import timed
    from sarco_core.store import Store

    k = vol.n_slices // 2
    labels = np.zeros(vol.shape[1:], np.uint8)
    labels[vol.shape[1] // 3 : vol.shape[1] // 2, vol.shape[2] // 3 : 2 * vol.shape[2] // 3] = 1
    analysis = {"input": {"sha256": "0" * 64}, "l3": {"index": k, "auto_index": k}, "sex": "M", "height_m": 1.75}
    with tempfile.TemporaryDirectory() as d:
        store = Store.open(f"sqlite:///{d}/bench.db")
        n = iter(range(1000))

        def once() -> Any:
            rec = store.create_case(
                vol, analysis=analysis, labels=labels, slice_index=k, actor="bench", label=f"bench-{next(n)}"
            )
            getattr(store, "_cache", {}).clear()
            return rec

        med, _, _ = timed(once, repeats=repeats)
        store.close()
    sec.add(
        f"database write per case (`Store.create_case`, {vol.n_slices} slices)",
        med,
        "s",
        note=f"{what}; done by the client (single writer); caps the cohort rate with the database on at "
        f"about {1 / med:.2f} cases/s",
    )
    return {"create_case_s": med}
