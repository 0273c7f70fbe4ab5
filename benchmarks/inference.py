"""Muscle inference per 512² slice: torch vs ONNX Runtime, batch 1 and 8, with and without flip-TTA.

Uses the shipped model (``models/*/config.json``) when there is one. Otherwise it builds a stand-in folder
with the default architecture and random weights (inference time does not depend on the weight values) and
exports it to ONNX with the model engineer's exporter - labelled "no model shipped" in the report - and
also times the anatomical teacher, which ``analyze`` then uses.
"""

from __future__ import annotations

import hashlib
import json
import operator
import shutil
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.common import CACHE, Section, timed
from sarco_core.volume import Volume

TARGET_TORCH_MS, TARGET_ORT_MS = 150.0, 80.0


def _onnx_ok(d: Path) -> bool:
    """Whether ``d`` holds an ONNX export of its current weights that the model loader accepts."""
    from sarco_core.errors import ModelError
    from sarco_core.segment.model import Segmenter

    if not (d / "config.json").is_file() or not (d / "model.onnx").is_file():
        return False
    try:
        Segmenter.from_dir(d, backend="onnx", device="cpu")
        return True
    except ModelError:
        return False


def standin_model_dir() -> Path:
    """A model folder of the default architecture with seeded random weights, exported to ONNX (cached)."""
    import torch

    from sarco_core.segment.model.prep import ArchConfig, build_network

    d = CACHE / "standin_model"
    if (d / "config.json").is_file() and _onnx_ok(d):
        return d
    d.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    arch = ArchConfig()
    net = build_network(arch)
    wpath = d / "model.pt"
    torch.save({k: v.detach().clone() for k, v in net.state_dict().items()}, wpath)
    sha = hashlib.sha256(wpath.read_bytes()).hexdigest()
    cfg = {
        "name": "untrained-standin",
        "version": "0",
        "weights": "model.pt",
        "sha256": sha,
        "architecture": arch.to_dict(),
        "inference": {"tta": True},
    }
    (d / "config.json").write_text(json.dumps(cfg, indent=2))
    from sarco_core.train.export import export_onnx

    export_onnx(d)
    return d


def model_dir() -> tuple[Path, bool]:
    """(model folder, shipped?). A shipped model without ONNX export is copied to the cache and exported
    there (the benchmark never writes into ``models/``)."""
    from sarco_core.segment.base import default_model_dir

    d = default_model_dir()
    if d is None or not (d / "config.json").is_file():
        return standin_model_dir(), False
    if _onnx_ok(d):
        return d, True
    cfg = json.loads((d / "config.json").read_text())
    copy = CACHE / f"shipped_{d.name}_{str(cfg.get('sha256', ''))[:12]}"
    if not _onnx_ok(copy):
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(d, copy)
        from sarco_core.train.export import export_onnx

        export_onnx(copy)
    return copy, True


def _network_only(sec: Section, seg: Any, vol: Volume, b: int, repeats: int) -> float:
    """The network's forward pass alone on the model grid of a ``vol`` slice (no resampling, TTA or QC)."""
    import numpy as np

    from sarco_core.segment.model.prep import to_model_hu, windows_to_channels

    k = vol.n_slices // 2
    hu = np.repeat(np.asarray(vol.hu[k : k + 1], np.float32), b, axis=0)
    hu_t, _ = to_model_hu(hu, vol.spacing_mm.row, vol.spacing_mm.col, seg.cfg.arch)
    x = windows_to_channels(hu_t, seg.cfg.arch.windows_hu)

    def fwd() -> np.ndarray:
        return seg._forward(x)

    med, _, _ = timed(fwd, repeats=repeats)
    ms = 1000 * med / b
    sec.add(
        f"  network forward only ({seg.backend}, batch {b}, {x.shape[-2]}×{x.shape[-1]} model grid)", ms, "ms/slice"
    )
    return ms


def run(
    sec: Section,
    vol: Volume,
    *,
    repeats: int,
    what: str,
    batches: tuple[int, ...] = (1, 8),
    ttas: tuple[bool, ...] = (False, True),
) -> dict[str, Any]:
    """Fill ``sec`` with per-slice times; returns the raw numbers."""
    from sarco_core.segment.model import Segmenter, cpu_threads

    d, shipped = model_dir()
    label = "shipped model" if shipped else "no model shipped: untrained stand-in of the default architecture"
    sec.notes.append(
        f"Network: {label} ({d.name}); input: {what}. Times are per slice through "
        "`Segmenter.segment` (resampling to the model grid, network, TTA, back-resampling, QC), "
        f"median of {repeats} runs after a warm-up; {cpu_threads()} intra-op threads."
    )
    mid = vol.n_slices // 2

    def idx(b: int) -> list[int]:
        return [max(0, min(vol.n_slices - 1, mid + i - b // 2)) for i in range(b)]

    res: dict[Any, Any] = {}
    for tta in ttas:
        for backend in ("torch", "onnx"):
            try:
                seg = Segmenter.from_dir(d, backend=backend, device="cpu", tta=tta)
            except Exception as exc:
                sec.add(f"{backend} TTA={'on' if tta else 'off'}", None, "ms", note=f"could not load: {exc}")
                continue
            for b in batches:

                def once(seg: Segmenter = seg, ix: list[int] = idx(b)) -> object:
                    return seg.segment(vol, ix, batch_size=max(batches))

                med, _, _ = timed(once, repeats=repeats)
                ms = 1000 * med / b
                res[(backend, tta, b)] = ms
                target = TARGET_TORCH_MS if backend == "torch" else TARGET_ORT_MS
                name = f"{'torch' if backend == 'torch' else 'ONNX Runtime'}, batch {b}, TTA {'on' if tta else 'off'}"
                sec.add(
                    name,
                    ms,
                    "ms/slice",
                    target=f"≤ {target:.0f} ms",
                    ok=partial(operator.ge, target),
                    note="" if shipped else "stand-in weights",
                )
                if not tta:
                    res[(backend, "net", b)] = _network_only(sec, seg, vol, b, repeats)
    for tta in ttas:
        for b in batches:
            t, o = res.get(("torch", tta, b)), res.get(("onnx", tta, b))
            if t and o:
                sec.add(
                    f"ONNX/torch time ratio, batch {b}, TTA {'on' if tta else 'off'}",
                    o / t,
                    "ratio",
                    note="< 1 = ONNX Runtime faster",
                )
    from sarco_core.segment.teacher import TeacherSegmenter

    teacher = TeacherSegmenter()
    med, _, _ = timed(lambda: teacher.segment(vol, [mid]), repeats=max(1, repeats // 2))
    sec.add(
        "anatomical teacher (fallback segmenter)",
        1000 * med,
        "ms/slice",
        note="used by analyze when no model is shipped",
    )
    res["teacher_ms"] = 1000 * med
    res["shipped"] = shipped
    return {str(k): v for k, v in res.items()}
