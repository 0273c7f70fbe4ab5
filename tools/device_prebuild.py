"""Build a config's phantom caches on the device, on all its cores, before the training jobs start.

The phantom caches are too big to carry (v2.1: 800 train phantoms at 1.25 mm = 84 MB compressed, as many coarse
copies again) and need no data, only the code. :func:`prebuild` runs :func:`sarco_core.train.data.prepare` — so
every cache name, key and file is the one a training run computes — with the phantom builder replaced by
:func:`parallel_build_phantoms` (the same builder on chunks of seeds in spawned worker processes, merged in seed
order: each seed's slice depends on that seed alone, so the set is the sequential one; tests/test_device_run.py
checks it) and the real-slice builder refused (those caches are staged here: they need the DICOM).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from typing import Any

from sarco_core.train import data
from sarco_core.train.data import SliceSet

_BUILD = data.build_phantoms  # the sequential builder, captured before prebuild() replaces it
# (coarse_mm, seed) of the config being prebuilt: the coarse copies' grid functions are closures (not picklable),
# so a worker rebuilds them from these, as prepare() does (data.to_coarse_grid / data.native_coarse)
_COARSE: dict[str, Any] = {}


def _chunk(task: tuple[int, int, float, dict[str, Any], Any]) -> SliceSet:
    lo, hi, pixel_mm, kw, coarse = task
    if coarse is not None:
        coarse_mm, seed = coarse
        kw = {**kw, "to_grid": data.to_coarse_grid(pixel_mm, coarse_mm, seed)}
        kw["native_of"] = data.native_coarse(coarse_mm, seed)
    return _BUILD(range(lo, hi), pixel_mm, **kw)


def chunks(seeds: range, n: int) -> list[tuple[int, int]]:
    """``seeds`` cut into at most ``n`` contiguous [lo, hi) pieces, in order."""
    n = max(1, min(n, len(seeds)))
    cuts = [seeds.start + (len(seeds) * i) // n for i in range(n + 1)]
    return [(cuts[i], cuts[i + 1]) for i in range(n) if cuts[i] < cuts[i + 1]]


def parallel_build_phantoms(
    seeds: range, pixel_mm: float, *, workers: int = 0, coarse: tuple[Any, int] | None = None, **kw: Any
) -> SliceSet:
    """:func:`sarco_core.train.data.build_phantoms` on chunks of ``seeds`` in spawned worker processes (a fork
    of a process holding BLAS / torch threads can deadlock). ``coarse`` = (coarse_mm, seed) of a coarse-copy
    set (default: the config being prebuilt, when the call carries ``to_grid``)."""
    workers = workers or int(os.environ.get("SARCO_PREBUILD_WORKERS", "0")) or (os.cpu_count() or 1)
    if seeds.step != 1 or workers < 2 or len(seeds) < 2 * workers:
        return _BUILD(seeds, pixel_mm, **kw)
    if "to_grid" in kw or "native_of" in kw:
        kw = {k: v for k, v in kw.items() if k not in ("to_grid", "native_of")}
        coarse = coarse or (_COARSE["coarse_mm"], _COARSE["seed"])
    tasks = [(lo, hi, pixel_mm, kw, coarse) for lo, hi in chunks(seeds, 4 * workers)]
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        parts = pool.map(_chunk, tasks)
    out = SliceSet()
    for p in parts:
        out.hu += p.hu
        out.labels += p.labels
        out.names += p.names
        out.confidence += p.confidence
        out.native_mm += p.native_mm
    return out


def _refuse_real(*_a: Any, **_k: Any) -> Any:
    from tools.device_run import StagingMismatch

    raise StagingMismatch(
        "a real-slice cache is missing from the staged folder (config, teacher code or data changed since "
        "staging): re-run python -m tools.device_stage CONFIG --stage DIR here and carry it again."
    )


def prebuild(cfg: Any) -> float:
    """Build (or find) every phantom cache of ``cfg``; seconds taken."""
    t = time.time()
    _COARSE.update(coarse_mm=tuple(cfg.data.coarse_mm), seed=cfg.seed)
    orig_p, orig_r = data.build_phantoms, data.build_real
    data.build_phantoms = parallel_build_phantoms  # type: ignore[assignment]
    data.build_real = _refuse_real  # type: ignore[assignment]
    try:
        data.prepare(cfg)
    finally:
        data.build_phantoms, data.build_real = orig_p, orig_r  # type: ignore[assignment]
    return time.time() - t
