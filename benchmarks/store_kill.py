"""Store durability under kills and concurrent writers (issue 17; figures in docs/reliability.md).

``python -m benchmarks.store_kill [--kills 30] [--writers 4] [--saves 15] [--url sqlite:///...]``

* kills: a writer process saves mask versions in a loop and appends each committed version id to a journal
  (fsync); it is SIGKILLed at a random moment, again and again. Lost = journalled ids missing from the
  database; corrupt = stored masks that fail their checksum.
* writers: N processes save versions on one shared case at once (each retries on ConflictError with the new
  parent). Lost = saves reported successful but absent; every version number must be unique.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import signal
import tempfile
import time
from pathlib import Path

import numpy as np


def _labels(i: int) -> np.ndarray:
    from tests.store_helpers import auto_labels

    lab = auto_labels()
    lab[i % lab.shape[0], :] = 1  # each version differs
    return lab


def _setup(url: str, label: str) -> int:
    from sarco_core.analyze import analyze
    from sarco_core.store import Store
    from tests.store_helpers import auto_labels, synthetic_volume

    vol = synthetic_volume()
    res = analyze(vol, slice_index=3, method="threshold")
    store = Store.open(url)
    case = store.create_case(vol, analysis=res, labels=auto_labels(), slice_index=3, actor="bench", label=label)
    store.close()
    return int(case.id)


def _writer_loop(url: str, case_id: int, journal: str, ready: mp.synchronize.Event) -> None:
    from sarco_core.store import Store

    store = Store.open(url)
    ready.set()
    i = 0
    while True:
        latest = store.get_case(case_id).latest_version
        assert latest is not None
        v = store.save_version(case_id, _labels(i), parent_version_id=latest.id, author="kill", comment=str(i))
        with open(journal, "a") as fh:
            fh.write(f"{v.id}\n")
            fh.flush()
            os.fsync(fh.fileno())
        i += 1


def _check(url: str, case_id: int, ids: set[int]) -> tuple[int, int, int]:
    from sarco_core.errors import StoreError
    from sarco_core.store import Store

    store = Store.open(url)
    versions = store.versions(case_id)
    present = {v.id for v in versions}
    corrupt = 0
    for v in versions:
        try:
            store.get_mask(v.id)
        except StoreError:
            corrupt += 1
    store.close()
    return len(ids - present), corrupt, len(versions)


def kills(url: str, n: int, seed: int) -> None:
    rng = random.Random(seed)
    case_id = _setup(url, "kill")
    journal = tempfile.mktemp(suffix=".journal")
    ctx = mp.get_context("spawn")
    t0 = time.perf_counter()
    for _ in range(n):
        ready = ctx.Event()
        p = ctx.Process(target=_writer_loop, args=(url, case_id, journal, ready))
        p.start()
        ready.wait(60)
        time.sleep(rng.uniform(0.05, 0.6))
        os.kill(p.pid or 0, signal.SIGKILL)
        p.join()
    ids = {int(x) for x in Path(journal).read_text().split()} if Path(journal).exists() else set()
    lost, corrupt, n_versions = _check(url, case_id, ids)
    print(
        f"kills: {n} SIGKILLs mid-save in {time.perf_counter() - t0:.0f} s; {len(ids)} journalled saves, "
        f"{n_versions} versions stored; lost {lost}, corrupt {corrupt}"
    )


def _racer(url: str, case_id: int, saves: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    from sarco_core.errors import ConflictError
    from sarco_core.store import Store

    store = Store.open(url)
    done: list[int] = []
    conflicts = 0
    for i in range(saves):
        while True:
            latest = store.get_case(case_id).latest_version
            assert latest is not None
            try:
                v = store.save_version(case_id, _labels(i), parent_version_id=latest.id, author=f"w{os.getpid()}")
                done.append(v.id)
                break
            except ConflictError:
                conflicts += 1
    out.put((done, conflicts))


def writers(url: str, n: int, saves: int) -> None:
    case_id = _setup(url, "race")  # its own case: one --url may serve both phases
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    t0 = time.perf_counter()
    procs = [ctx.Process(target=_racer, args=(url, case_id, saves, q)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [q.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    ids = {i for done, _ in results for i in done}
    conflicts = sum(c for _, c in results)
    lost, corrupt, n_versions = _check(url, case_id, ids)
    from sarco_core.store import Store

    numbers = [v.number for v in Store.open(url).versions(case_id)]
    print(
        f"writers: {n} processes x {saves} saves on one case in {time.perf_counter() - t0:.0f} s; "
        f"{len(ids)} saves reported, {n_versions} versions stored ({conflicts} conflicts refused and retried); "
        f"lost {lost}, corrupt {corrupt}, duplicate version numbers {len(numbers) - len(set(numbers))}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--saves", type=int, default=15)
    ap.add_argument("--url", default=None, help="database URL (default: a new SQLite file)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        os.environ.setdefault("SARCO_HOME", d)
        kills(args.url or f"sqlite:///{d}/kill.db", args.kills, args.seed)
        writers(args.url or f"sqlite:///{d}/race.db", args.writers, args.saves)


if __name__ == "__main__":
    main()
