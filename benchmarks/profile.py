"""Where the time of a warm ``analyze`` goes (cProfile), for the fast-path work."""

from __future__ import annotations

import cProfile
import io
import pstats
from pathlib import Path
from typing import Any

from benchmarks.common import Section


def run(sec: Section, zip_path: Path, label: str, *, segmenter: Any, top: int = 15) -> dict[str, Any]:
    from sarco_core.analyze import analyze

    analyze(zip_path, segmenter=segmenter)  # warm
    prof = cProfile.Profile()
    prof.enable()
    analyze(zip_path, segmenter=segmenter)
    prof.disable()
    st = pstats.Stats(prof)
    total = max(float(getattr(st, "total_tt", 0.0)), 1e-9)
    rows = []
    for (fname, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{Path(fname).name}:{line}({func})", "calls": nc, "self_s": tt, "cum_s": ct})
    by_self = sorted(rows, key=lambda r: -r["self_s"])[:top]
    buf = io.StringIO()
    buf.write("| function | calls | self s | self % |\n|---|---:|---:|---:|\n")
    for r in by_self:
        buf.write(f"| `{r['function']}` | {r['calls']} | {r['self_s']:.3f} | {100 * r['self_s'] / total:.0f} % |\n")
    sec.notes.append(
        f"cProfile of one warm `analyze` of the {label} (total {total:.2f} s under the profiler; "
        "profiling slows Python-heavy code). Top functions by self time:\n\n" + buf.getvalue()
    )
    print(buf.getvalue())
    return {"total_s": total, "top_self": by_self}
