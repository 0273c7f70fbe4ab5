"""Shared pieces of the benchmarks: figures, timing, machine description, the input cache folder."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("SARCO_BENCH_CACHE", REPO / "data_cache" / "bench"))  # git-ignored


@dataclass
class Figure:
    """One reported number; ``target``/``met`` when the issue sets a target for it."""

    section: str
    name: str
    value: float | None
    unit: str
    target: str | None = None
    met: bool | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fmt(self) -> str:
        if self.value is None:
            v = "not measured"
        elif self.unit in ("x", "ratio"):
            v = f"{self.value:.2f}×"
        elif abs(self.value) >= 100:
            v = f"{self.value:.0f} {self.unit}"
        elif abs(self.value) >= 10:
            v = f"{self.value:.1f} {self.unit}"
        else:
            v = f"{self.value:.3g} {self.unit}"
        return v


@dataclass
class Section:
    """A group of figures with notes on what exactly was measured."""

    key: str
    title: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        name: str,
        value: float | None,
        unit: str,
        *,
        target: str | None = None,
        ok: Callable[[float], bool] | None = None,
        note: str = "",
    ) -> Figure:
        met = None if (ok is None or value is None) else bool(ok(value))
        f = Figure(self.key, name, value, unit, target, met, note)
        self.figures.append(f)
        print(
            f"  {name}: {f.fmt()}"
            + (f"  (target {target}: {'met' if met else 'NOT met'})" if met is not None else "")
            + (f"  [{note}]" if note else ""),
            flush=True,
        )
        return f


def timed(fn: Callable[[], Any], *, repeats: int, warmup: int = 1) -> tuple[float, float, Any]:
    """(median s, min s, last result) over ``repeats`` runs after ``warmup`` untimed runs."""
    out = None
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(max(1, repeats)):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), out


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(mod: str) -> str:
    try:
        m = __import__(mod)
        return str(getattr(m, "__version__", "?"))
    except Exception:
        return "not installed"


def machine() -> dict[str, Any]:
    """Date, CPU, cores, memory, versions and git commit of this run."""
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except Exception:
        commit = ""
    gpu = "none"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
    except Exception:
        pass
    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": _cpu_model(),
        "cores": cores(),
        "memory_gib": mem,
        "gpu": gpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": _version("torch"),
        "onnxruntime": _version("onnxruntime"),
        "numpy": _version("numpy"),
        "dask": _version("dask"),
        "pydicom": _version("pydicom"),
        "git_commit": commit,
        "load_start": load_average(),
    }


def load_average() -> str:
    """The 1/5/15-minute load averages (other processes competing for the cores)."""
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover
        return "unknown"
