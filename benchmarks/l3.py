"""L3 detection time on a 300-slice series (the issue's target: ≤ 2 s on 2 cores)."""

from __future__ import annotations

from typing import Any

from benchmarks.common import Section, timed
from sarco_core.volume import Volume

TARGET_S = 2.0


def run(sec: Section, vol: Volume, *, repeats: int, what: str) -> dict[str, Any]:
    from sarco_core.l3 import find_l3

    med, best, res = timed(lambda: find_l3(vol), repeats=repeats)
    sec.notes.append(f"`find_l3` on {what} (already in memory), median of {repeats} after a warm-up.")
    sec.add(
        f"find_l3, {vol.n_slices} slices of {vol.shape[1]}×{vol.shape[2]}",
        med,
        "s",
        target=f"≤ {TARGET_S:.0f} s" if vol.n_slices >= 300 else None,
        ok=(lambda v: v <= TARGET_S) if vol.n_slices >= 300 else None,
        note=f"chosen slice {res.index}, confidence {res.confidence:.2f}; fastest {best:.3f} s",
    )
    return {"median_s": med, "min_s": best, "index": res.index, "confidence": res.confidence}
