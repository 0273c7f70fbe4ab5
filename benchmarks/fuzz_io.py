"""Long fuzz of ``io.load`` and the hostile corpus with figures (issue 17; results in docs/reliability.md).

``python -m benchmarks.fuzz_io [--n 10000] [--seed 0]``

Prints: inputs tried, accepted / refused with a project error / non-project exceptions / hangs (per-input
alarm), inputs per second, the slowest input, and for the hostile corpus the share of clear project errors
and the peak Python-tracked memory (tracemalloc: numpy and Python buffers) of the worst input.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import tempfile
import time
import tracemalloc
from collections import Counter
from pathlib import Path

import numpy as np

from sarco_core.errors import SarcoError
from sarco_core.io.limits import HU_RANGE
from sarco_core.io.loader import load_unguarded
from tests.fuzz_inputs import mutants
from tests.hostile_inputs import corpus

PER_INPUT_S = 30


class _Hang(Exception):
    pass


def _alarm(_sig: int, _frame: object) -> None:
    raise _Hang


def _bad_accepted(vol: object) -> str | None:
    hu = np.asarray(vol.hu)  # type: ignore[attr-defined]
    if hu.dtype.kind not in "iuf" or not np.isfinite(hu).all():
        return "non-finite values"
    if vol.is_hu and (float(hu.min()) < HU_RANGE[0] or float(hu.max()) > HU_RANGE[1]):  # type: ignore[attr-defined]
        return "values out of HU range"
    sp = vol.spacing_mm  # type: ignore[attr-defined]
    for v in (sp.row, sp.col) + ((sp.slice,) if vol.n_slices > 1 else ()):  # type: ignore[attr-defined]
        if v is None or not np.isfinite(v) or v <= 0:
            return "non-positive spacing"
    return None


def fuzz(n: int, seed: int) -> None:
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        _fuzz(n, seed)
    finally:
        signal.signal(signal.SIGALRM, old)


def _fuzz(n: int, seed: int) -> None:
    counts: Counter[str] = Counter()
    escapes: Counter[str] = Counter()
    slowest = (0.0, "")
    t0 = time.perf_counter()
    for i, (kind, src) in enumerate(mutants(n, seed=seed)):
        t = time.perf_counter()
        signal.setitimer(signal.ITIMER_REAL, PER_INPUT_S)
        try:
            vol = load_unguarded(src, require_axial=False)  # type: ignore[arg-type]
            bad = _bad_accepted(vol)
            counts["accepted" if bad is None else "accepted_bad"] += 1
            if bad:
                escapes[f"{kind}: accepted with {bad}"] += 1
        except SarcoError as exc:
            counts["refused"] += 1
            counts[f"refused:{type(exc).__name__}"] += 1
        except _Hang:
            counts["hang"] += 1
        except Exception as exc:
            counts["escape"] += 1
            escapes[f"{kind}: {type(exc).__name__}: {str(exc)[:80]}"] += 1
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        dt = time.perf_counter() - t
        if dt > slowest[0]:
            slowest = (dt, f"#{i} {kind}")
    wall = time.perf_counter() - t0
    print(
        f"fuzz: {n} inputs (seed {seed}) in {wall:.1f} s = {n / wall:.0f} inputs/s; slowest {slowest[0]:.2f} s "
        f"({slowest[1]})"
    )
    print(
        f"  accepted {counts['accepted']}, refused with a project error {counts['refused']}, "
        f"non-project exceptions {counts['escape']}, hangs (> {PER_INPUT_S} s) {counts['hang']}, "
        f"accepted with bad values {counts['accepted_bad']}"
    )
    for k, v in sorted((k, v) for k, v in counts.items() if k.startswith("refused:")):
        print(f"    {k[8:]:28} {v}")
    for k, v in escapes.most_common(20):
        print(f"  ESCAPE x{v}: {k}")


def hostile() -> None:
    cases = corpus()
    ok = 0
    worst_mem = (0, "")
    worst_t = (0.0, "")
    for c in cases:
        old = {k: os.environ.get(k) for k in c.env}
        os.environ.update(c.env)
        with tempfile.TemporaryDirectory() as d:
            path = c.make(Path(d))
            tracemalloc.start()
            t = time.perf_counter()
            try:
                load_unguarded(path, require_axial=False)
                res = False
            except SarcoError as exc:
                res = isinstance(exc, c.error) and re.search(c.phrase, str(exc)) is not None
            except Exception:
                res = False
            dt = time.perf_counter() - t
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        ok += res
        if not res:
            print(f"  NOT CLEAR: {c.name}")
        if peak > worst_mem[0]:
            worst_mem = (peak, c.name)
        if dt > worst_t[0]:
            worst_t = (dt, c.name)
    print(
        f"hostile corpus: {ok}/{len(cases)} clear project errors ({100 * ok / len(cases):.0f} %); peak traced "
        f"memory {worst_mem[0] / 1e6:.0f} MB ({worst_mem[1]}); slowest {worst_t[0]:.2f} s ({worst_t[1]})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    hostile()
    fuzz(args.n, args.seed)


if __name__ == "__main__":
    main()
