"""End-to-end ``analyze`` on a zipped DICOM series: warm (segmenter loaded) per stage, uncompressed and
JPEG 2000; the CLI's cold start in a fresh process, and that process's peak RSS."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, Section

TARGET_WARM_S, TARGET_RSS_GB = 10.0, 2.0
STAGES = ("load", "l3", "segment", "measure", "classify")

# Runs the CLI as a child and reports its wall time and peak RSS (RUSAGE_CHILDREN covers only that child).
_COLD = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
cmd = [sys.executable, "-m", "sarco_core", "analyze", sys.argv[1], "--json"]
p = subprocess.run(cmd, capture_output=True, text=True)
wall = time.perf_counter() - t
rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": p.returncode, "wall_s": wall, "maxrss_kb": rss_kb, "stdout": p.stdout,
                  "stderr": p.stderr[-2000:]}))
"""


def warm(sec: Section, zip_path: Path, label: str, *, repeats: int, segmenter: Any, n_slices: int) -> dict[str, Any]:
    from sarco_core.analyze import analyze

    analyze(zip_path, segmenter=segmenter)  # warm-up: imports, decoder plugins, file cache
    walls, stages = [], {s: [] for s in STAGES}  # type: ignore[var-annotated]
    res = None
    for _ in range(repeats):
        t = time.perf_counter()
        res = analyze(zip_path, segmenter=segmenter)
        walls.append(time.perf_counter() - t)
        for s in STAGES:
            stages[s].append(res.timings_s.get(s, 0.0))
    wall = statistics.median(walls)
    big = n_slices >= 300
    sec.add(
        f"{label}: total (warm)",
        wall,
        "s",
        target=f"≤ {TARGET_WARM_S:.0f} s" if big else None,
        ok=(lambda v: v <= TARGET_WARM_S) if big else None,
        note=f"segmenter: {res.segmentation.method if res else '?'}; median of {repeats}",
    )
    for s in STAGES:
        sec.add(f"{label}: {s}", statistics.median(stages[s]), "s")
    return {"wall_s": wall, "stages_s": {s: statistics.median(v) for s, v in stages.items()}}


def cold(sec: Section, zip_path: Path, label: str, *, n_slices: int) -> dict[str, Any]:
    env = dict(os.environ)
    p = subprocess.run(
        [sys.executable, "-c", _COLD, str(zip_path)], capture_output=True, text=True, cwd=REPO, env=env, timeout=900
    )
    try:
        d = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        sec.add(f"{label}: CLI cold start", None, "s", note=f"failed: {p.stderr[-300:]}")
        return {}
    if d["rc"] != 0:
        sec.add(f"{label}: CLI cold start", None, "s", note=f"exit {d['rc']}: {d['stderr'][-300:]}")
        return d
    inner = json.loads(d["stdout"]).get("timings_s", {})
    rss_gb = d["maxrss_kb"] / 2**20
    big = n_slices >= 300
    sec.add(
        f"{label}: `python -m sarco_core analyze --json` cold, wall",
        d["wall_s"],
        "s",
        note="fresh process: imports and segmenter load included; stages inside: "
        + ", ".join(f"{k} {v:.2f} s" for k, v in inner.items()),
    )
    sec.add(
        f"{label}: peak RSS of that process",
        rss_gb,
        "GB",
        target=f"≤ {TARGET_RSS_GB:.0f} GB" if big else None,
        ok=(lambda v: v <= TARGET_RSS_GB) if big else None,
        note="ru_maxrss of the child process",
    )
    return {"wall_s": d["wall_s"], "maxrss_gb": rss_gb, "stages_s": inner}
