"""Sweep L3 detection over phantom seeds: normal, sacrum removed, 6 lumbar, 5 mm and 1.5 mm slices, thorax removed.

``python validation/l3_phantom_sweep.py [N] [--seed0 S] [--variants a,b|all]`` prints one line per case and a summary
per variant: inside the L3 body, confidence >= 0.9 (both counts agree), refused, median |error| to the mid-body,
"confidently wrong" (outside L3 at confidence >= 0.6, the ``l3_low_confidence`` threshold), and how often each
count on its own (``counts["sacrum"]``, ``counts["ribs"]``) lands inside L3 when it is given; at the end, per
confidence value, how often the chosen slice was inside L3 (the calibration table of docs/l3.md). ``all`` adds the
12th-rib variants (``rib12="short"`` / ``"absent"``) and the missing-sacrum variants at 5 and 1.5 mm.
"""

from __future__ import annotations

import argparse

from sarco_core.errors import L3NotFoundError
from sarco_core.l3 import find_l3
from sarco_core.phantom import phantom_volume

KW = dict(pixel_mm=1.6, size=256, top="T11", bottom="sacrum")
VARIANTS = {
    "normal": {},
    "no sacrum": {"sacrum": False},
    "6 lumbar": {"lumbar_count": 6},
    "5 mm": {"slice_mm": 5.0},
    "1.5 mm": {"slice_mm": 1.5},
    "top L1": {"top": "L1"},
    "short 12th": {"rib12": "short"},
    "no 12th": {"rib12": "absent"},
    "no sacrum 5 mm": {"sacrum": False, "slice_mm": 5.0},
    "no sacrum 1.5 mm": {"sacrum": False, "slice_mm": 1.5},
    "no sacrum short 12th": {"sacrum": False, "rib12": "short"},
    "no sacrum no 12th": {"sacrum": False, "rib12": "absent"},
}
DEFAULT = "normal,no sacrum,6 lumbar,5 mm,1.5 mm,top L1"
LOW = 0.6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=10)
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--variants", default=DEFAULT, help=f"comma-separated, or 'all' ({', '.join(VARIANTS)})")
    a = ap.parse_args()
    seeds = range(a.seed0, a.seed0 + a.n)
    calib: dict[float, list[int]] = {}  # confidence -> [inside, cases] over every variant run
    for name in list(VARIANTS) if a.variants == "all" else a.variants.split(","):
        extra = VARIANTS[name]
        inside = agree = refused = sure_wrong = 0
        per: dict[str, list[int]] = {"sacrum": [0, 0], "ribs": [0, 0]}
        errs: list[float] = []
        for seed in seeds:
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
            c = calib.setdefault(round(r.confidence, 2), [0, 0])
            c[0] += ok
            c[1] += 1
            agree += r.confidence >= 0.9
            sure_wrong += (not ok) and r.confidence >= LOW
            errs.append(abs(r.z_mm - ph.l3_mid_z_mm))
            in_cands = any(lo <= c.z_mm <= hi for c in r.candidates)
            marks = []
            for k, idx in r.counts.items():
                if idx is None:
                    continue
                good = lo <= float(ph.volume.z_mm[idx]) <= hi
                per[k][0] += good
                per[k][1] += 1
                marks.append(f"{k}:{'ok' if good else 'off'}")
            print(
                f"{name:10} seed {seed}: {'inside' if ok else 'WRONG '} err {r.z_mm - ph.l3_mid_z_mm:+6.1f} mm "
                f"conf {r.confidence:.2f} true-L3-in-candidates {in_cands} {' '.join(marks)}",
                flush=True,
            )
        errs.sort()
        med = errs[len(errs) // 2] if errs else float("nan")
        n = len(seeds)
        print(
            f"== {name}: inside L3 {inside}/{n}, both counts agree {agree}/{n}, refused {refused}/{n}, "
            f"median |err| {med:.1f} mm, wrong at conf >= {LOW} {sure_wrong}/{n}; sacrum count inside "
            f"{per['sacrum'][0]}/{per['sacrum'][1]}, rib count inside {per['ribs'][0]}/{per['ribs'][1]}",
            flush=True,
        )
    print("== calibration (all variants run): confidence -> inside L3 / cases")
    for conf in sorted(calib, reverse=True):
        print(f"   {conf:.2f}: {calib[conf][0]}/{calib[conf][1]}")


if __name__ == "__main__":
    main()
