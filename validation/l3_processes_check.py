"""How often ``sarco_core.l3.processes`` names a vertebra's kind right, per variant of the L3 sweep (phantom truth).

``nice python -m validation.l3_processes_check [--seeds N] [--seed0 S] [--variants a,b] [-v]`` renders the sweep's
volumes (``validation.l3_variant_sweep.VARIANTS``), finds the discs as ``find_l3`` does and classifies every
vertebra between them. Truth: the phantom vertebra (``PhantomVolume.levels``, body z ranges) holding the middle of
the interval; "sacral" for S1 (and the sacrum), "rib-bearing" for a vertebra with a rib painted at its process
(T11/T12/T13; L1 with a lumbar rib; not T12 without 12th ribs), "lumbar-type" for the others. An interval whose
middle lies in no body (a missed or extra disc) is counted apart ("off"). "unknown" is counted as not right: the
share printed is right / classified intervals, with the unknowns and the wrong calls (truth -> said) listed.
Develop on seeds 0-9 only (the sweep's held-out seeds are not for this).
"""

from __future__ import annotations

import argparse
from collections import Counter

from sarco_core.l3 import levels as lv
from sarco_core.l3 import processes as pr
from sarco_core.l3.find import _features
from sarco_core.phantom import phantom_volume
from validation.l3_variant_sweep import KW, VARIANTS


def truth_kind(name: str, kw: dict[str, object]) -> str:
    if name in ("S1", "sacrum"):
        return "sacral"
    if name.startswith("T"):
        return "lumbar-type" if name == "T12" and kw.get("rib12") == "absent" else "rib-bearing"
    if name == "L1" and kw.get("lumbar_rib"):
        return "rib-bearing"
    return "lumbar-type"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--variants", default="", help="comma-separated variant-name prefixes (default: all)")
    ap.add_argument("-v", action="store_true", help="one line per vertebra")
    a = ap.parse_args(argv)
    if a.seed0 + a.seeds > 10:
        raise SystemExit("seeds 0-9 only: the L3 sweep's held-out seeds are not for development")
    want = [w.strip() for w in a.variants.split(",") if w.strip()]
    total: Counter[str] = Counter()
    print("| variant | vertebrae | right | unknown | wrong (truth->said) | off |")
    print("|---|---:|---:|---:|---|---:|")
    for var in VARIANTS:
        if want and not any(var.name.startswith(w) for w in want):
            continue
        c: Counter[str] = Counter()
        wrong: Counter[str] = Counter()
        for seed in range(a.seed0, a.seed0 + a.seeds):
            kw = {**KW, **var.kw}
            ph = phantom_volume(seed, **kw)
            vol = var.post(ph, seed) if var.post else ph.volume
            f = _features(vol)
            d = lv.analyse(f).discs_z
            for v in pr.classify(f, d):
                mid = (v.z_lo_mm + v.z_hi_mm) / 2.0
                names = [n for n, (lo, hi) in ph.levels.items() if lo <= mid <= hi]
                if not names:
                    c["off"] += 1
                    continue
                t = truth_kind(names[0], var.kw)
                c["n"] += 1
                if v.kind == t:
                    c["right"] += 1
                elif v.kind == "unknown":
                    c["unknown"] += 1
                else:
                    wrong[f"{names[0]} {t}->{v.kind}"] += 1
                if a.v:
                    print(f"  {var.name} s{seed} {names[0]:6s} truth {t:12s} said {v.kind:12s} {v.evidence}")
        total.update(c)
        w = ", ".join(f"{k} x{n}" for k, n in wrong.most_common(4)) or "-"
        n = max(c["n"], 1)
        share = f"{c['right']} ({100 * c['right'] / n:.0f} %)"
        print(f"| {var.name} | {c['n']} | {share} | {c['unknown']} | {w} | {c['off']} |")
    n = max(total["n"], 1)
    share = f"{total['right']} ({100 * total['right'] / n:.1f} %)"
    print(f"| **all** | {total['n']} | {share} | {total['unknown']} | | {total['off']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
