"""Teacher baseline on hard-contact phantoms: ``python -m validation.teacher_hard_check``.

Scores :func:`sarco_core.segment.teacher.segment_slice` (the anatomical teacher) on held-out
``contacts="hard"`` phantom slices (seeds 7000+; tune on other seeds, e.g. 6000-6999) and, for comparison, on
the same seeds with the default phantom: gated Dice, signed SMA error (HU-gated, %), and where the teacher's
extra muscle lies (true tissue of the false-positive pixels, cm²). Results are printed as a markdown table.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np

from sarco_core.metrics import gated_dice
from sarco_core.phantom.slice import phantom_slice
from sarco_core.phantom.tissues import TISSUES

HELD_OUT = tuple(range(7000, 7008))
LEVELS = ("T12", "L1", "L2", "L3")
GATE = (-29.0, 150.0)
_NAME = {v: k for k, v in TISSUES.items()}


@dataclass(frozen=True)
class Score:
    dice: float
    err_pct: float  # signed HU-gated SMA error, %
    fp_cm2: dict[str, float]  # false-positive muscle by true tissue
    fn_cm2: float
    cpu_s: float


def score(seed: int, level: str, pixel_mm: float, contacts: str) -> Score:
    from sarco_core.segment.teacher import segment_slice

    size = int(round(410.0 / pixel_mm))
    ph = phantom_slice(seed, level=level, pixel_mm=pixel_mm, size=size, contacts=contacts)
    t0 = time.process_time()
    lab = segment_slice(ph.hu, pixel_mm, pixel_mm)[0]
    dt = time.process_time() - t0
    g = (ph.hu >= GATE[0]) & (ph.hu <= GATE[1])
    truth, pred = ph.labels == 1, lab == 1
    t_px, p_px = int((truth & g).sum()), int((pred & g).sum())
    px_cm2 = pixel_mm * pixel_mm / 100.0
    fp = pred & ~truth & g
    ids, counts = np.unique(ph.tissue[fp], return_counts=True)
    where = {_NAME[int(k)]: float(c) * px_cm2 for k, c in zip(ids, counts, strict=True)}
    return Score(
        gated_dice(ph.hu, truth, pred),
        (p_px - t_px) / max(t_px, 1) * 100.0,
        where,
        float((truth & ~pred & g).sum()) * px_cm2,
        dt,
    )


def run(seeds: tuple[int, ...], levels: tuple[str, ...], pixels: tuple[float, ...], verbose: bool) -> None:
    print(
        "| phantom | pixel mm | n | median gated Dice | min | median signed SMA error % | IQR | FP cm² (median) | "
        "FN cm² (median) | main FP tissues (cm², mean per slice) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for contacts in ("default", "hard"):
        for px in pixels:
            rows = []
            for seed in seeds:
                for lv in levels:
                    r = score(seed, lv, px, contacts)
                    rows.append(r)
                    if verbose:
                        print(f"  {contacts} {seed} {lv} {px} dice {r.dice:.3f} err {r.err_pct:+.1f}%")
            d = np.array([r.dice for r in rows], float)
            e = np.array([r.err_pct for r in rows], float)
            fp_tot: Counter[str] = Counter()
            for r in rows:
                fp_tot.update(r.fp_cm2)
            fp = np.array([sum(r.fp_cm2.values()) for r in rows], float)
            fn = np.array([r.fn_cm2 for r in rows], float)
            main = ", ".join(f"{k} {v / len(rows):.1f}" for k, v in fp_tot.most_common(5))
            q1, q3 = np.percentile(e, [25, 75])
            print(
                f"| {contacts} | {px} | {len(rows)} | {np.median(d):.3f} | {d.min():.3f} | {np.median(e):+.1f} | "
                f"{q1:+.1f}..{q3:+.1f} | {np.median(fp):.1f} | {np.median(fn):.1f} | {main} |"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="*", default=list(HELD_OUT))
    ap.add_argument("--levels", nargs="*", default=list(LEVELS))
    ap.add_argument("--pixels", type=float, nargs="*", default=[0.8, 3.0])
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    run(tuple(a.seeds), tuple(a.levels), tuple(a.pixels), a.v)


if __name__ == "__main__":
    main()
