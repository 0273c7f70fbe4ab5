"""Sweep L3 detection over phantom seeds: normal, sacrum removed, 6 lumbar, 5 mm and 1.5 mm slices, thorax removed.

``python benchmarks/l3_phantom_sweep.py [N]`` prints one line per case and a summary (inside the L3 body,
|error| to the mid-body, confidence, whether the counts agreed).
"""

from __future__ import annotations

import sys

from sarco_core.errors import L3NotFoundError
from sarco_core.l3 import find_l3
from sarco_core.phantom import phantom_volume

KW = dict(pixel_mm=1.6, size=256, top="T11", bottom="sacrum")
VARIANTS = {"normal": {}, "no sacrum": {"sacrum": False}, "6 lumbar": {"lumbar_count": 6}, "5 mm": {"slice_mm": 5.0},
            "1.5 mm": {"slice_mm": 1.5}, "top L1": {"top": "L1"}}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for name, extra in VARIANTS.items():
        inside = agree = refused = 0
        errs: list[float] = []
        for seed in range(n):
            ph = phantom_volume(seed, **{**KW, **extra})
            lo, hi = ph.levels["L3"]
            try:
                r = find_l3(ph.volume)
            except L3NotFoundError as exc:
                print(f"{name:10} seed {seed}: refused ({exc})")
                refused += 1
                continue
            ok = lo <= r.z_mm <= hi
            inside += ok
            agree += r.confidence >= 0.9
            errs.append(abs(r.z_mm - ph.l3_mid_z_mm))
            in_cands = any(lo <= c.z_mm <= hi for c in r.candidates)
            print(f"{name:10} seed {seed}: {'inside' if ok else 'WRONG '} err {r.z_mm - ph.l3_mid_z_mm:+6.1f} mm "
                  f"conf {r.confidence:.2f} true-L3-in-candidates {in_cands}")
        errs.sort()
        med = errs[len(errs) // 2] if errs else float("nan")
        print(f"== {name}: inside L3 {inside}/{n}, both counts agree {agree}/{n}, refused {refused}/{n}, "
              f"median |err| {med:.1f} mm")


if __name__ == "__main__":
    main()
