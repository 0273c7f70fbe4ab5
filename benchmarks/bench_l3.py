"""Time ``find_l3`` on a 300-slice 512x512 series (synthetic trunk from tests/l3_synth.py, upsampled in-plane,
0.8 mm slices) or on a given image: ``python benchmarks/bench_l3.py [IMAGE] [--repeat N]``.

Target (issue 14): at most 1.5 s on 2 CPU cores (issue 6: 2 s); the last line prints best / target. Run with
``taskset -c 0,1`` to pin two cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sarco_core.volume import Volume  # noqa: E402

TARGET_S = 1.5  # issue 14: find_l3 on 300 slices of 512² within 1.5 s on 2 cores


def synthetic_300() -> Volume:
    from tests.l3_synth import synth_spine

    s = synth_spine(slice_mm=0.8, px_mm=2.5, z_bottom_mm=40.0, z_top_mm=280.0)
    v = s.volume
    hu = np.repeat(np.repeat(v.hu[:300], 4, axis=1), 4, axis=2)[:, :512, :512]
    return Volume.from_array(hu=np.ascontiguousarray(hu), spacing_mm=(0.8, 0.625, 0.625), z0_mm=float(v.z_mm[0]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("image", nargs="?")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    from sarco_core.l3 import find_l3

    if a.image:
        from sarco_core.io import load

        vol = load(a.image)
    else:
        vol = synthetic_300()
    print(f"volume {vol.shape} spacing {vol.spacing_mm}")
    times = []
    for _ in range(a.repeat):
        t = time.perf_counter()
        res = find_l3(vol)
        times.append(time.perf_counter() - t)
    print(
        f"L3 slice {res.index} confidence {res.confidence}; find_l3 seconds: "
        + ", ".join(f"{x:.2f}" for x in times)
        + f" (best {min(times):.2f})"
    )
    print(f"best / target ({TARGET_S} s) = {min(times) / TARGET_S:.2f}")


if __name__ == "__main__":
    main()
