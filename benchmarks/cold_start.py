"""Cold start and install size of the slim runtime (issue 19 targets: cold ``sarco analyze`` of one slice <= 2 s on
2 cores, slim install <= 1 GB).

``python -m benchmarks.cold_start [--python VENV/bin/python] [--repeats 3] [CT_FILE]`` runs ``sarco analyze CT_FILE
--json`` in a fresh process each time (imports, model load, inference: what a user waits for) and prints the median
wall time, the time the pipeline itself reports, whether torch was imported, and the size on disk of the
interpreter's environment (``du``; meaningful for a venv built from requirements.txt alone).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CT = REPO.parent / "shared" / "data" / "pydicom" / "pancreas_ct_0001_slice122_j2k.dcm"
PROBE = (
    "import runpy, sys, json; sys.argv = ['sarco', 'analyze', sys.argv[1], '--json'];\n"
    "try:\n    runpy.run_module('sarco_core', run_name='__main__')\n"
    "except SystemExit:\n    pass\n"
    "print(json.dumps({'torch_imported': 'torch' in sys.modules}), file=sys.stderr)"
)


def env_size_mib(python: str) -> float | None:
    prefix = subprocess.run([python, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True).stdout
    p = prefix.strip()
    if not p or p == sys.base_prefix:
        return None  # the system interpreter: its size says nothing about the slim install
    out = subprocess.run(["du", "-sm", p], capture_output=True, text=True).stdout.split()
    return float(out[0]) if out else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ct", nargs="?", default=str(DEFAULT_CT))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    walls, inner, torch_seen = [], [], []
    for _ in range(a.repeats):
        t = time.perf_counter()
        p = subprocess.run([a.python, "-c", PROBE, a.ct], capture_output=True, text=True, cwd=REPO)
        walls.append(time.perf_counter() - t)
        if p.returncode != 0 or not p.stdout.strip():
            print(p.stderr[-2000:], file=sys.stderr)
            return 1
        rec = json.loads(p.stdout)
        inner.append(sum(rec["timings_s"].values()))
        torch_seen.append(json.loads(p.stderr.strip().splitlines()[-1])["torch_imported"])
    load = open("/proc/loadavg").read().split()[0] if Path("/proc/loadavg").exists() else "?"
    size = env_size_mib(a.python)
    print(
        f"cold `sarco analyze` (one slice, fresh process, median of {a.repeats}): {statistics.median(walls):.2f} s "
        f"(target <= 2 s; min {min(walls):.2f} s); pipeline's own timings {statistics.median(inner):.2f} s; "
        f"torch imported: {any(torch_seen)}; load average at the end {load}"
    )
    if size is not None:
        print(f"environment size on disk (du): {size:.0f} MiB ({size * 2**20 / 1e9:.2f} GB; target <= 1 GB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
