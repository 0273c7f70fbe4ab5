"""The anatomy rules and QC flags of issue 15, measured: ``python -m validation.anatomy_rules_eval [--seeds N]
[--flag-seeds M] [--methods model,teacher] [--json OUT]``.

1. **Phantom variants through the segmenters** (``--seeds`` patients, 512² at 0.8 mm): the plain phantom, its
   corrupted copies (:func:`sarco_core.train.validate.corrupted_variants`: noise, coarse pixels, truncation,
   streaks) and the issue-15 variants (anasarca, cachexia, bowel_flank, ascites), each segmented with the anatomy
   rules and without them (the rules replaced by the identity for comparison only). Per slice: HU-gated Dice and
   signed SMA error against the exact labels, the confidence, the flags.
2. **The no_sat_plane rate on many phantoms** (``--flag-seeds``; the SAT-plane measurement uses the image and the
   body outline only, so it is measured on the exact labels with the model's outline function).
3. **Real slices** (the reviewed set, ``validation/reviewed``) and their corrupted copies: Dice, SMA error and
   the confidence, with and without the rules.

Prints a summary (median |SMA error| per variant, flag rates, Spearman(confidence, Dice) on phantom and real
slices) and writes all rows with ``--json``. Not a test: figures go to docs/model.md with date and machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from sarco_core.metrics import gated_scores as score
from sarco_core.phantom.variants import VARIANTS, variant_slice
from sarco_core.segment import anatomy_rules as rules_mod
from sarco_core.segment.anatomy_rules import RulesResult, apply_anatomy_rules
from sarco_core.segment.model.qc import body_mask
from sarco_core.train.validate import corrupted_variants
from sarco_core.volume import Volume

PX_MM = 0.8
SIZE = 512


@contextmanager
def rules_off() -> Iterator[None]:
    """Replace the anatomy rules by the identity in the model and the teacher (comparison only)."""
    import sarco_core.segment.model.segmenter as model_mod

    def identity(hu: np.ndarray, labels: np.ndarray, **_: Any) -> RulesResult:
        return RulesResult(np.asarray(labels, np.uint8).copy(), 0.0, 0.0, 0.0, False, None)

    saved = model_mod.apply_anatomy_rules, rules_mod.apply_anatomy_rules  # the teacher calls it via the module
    model_mod.apply_anatomy_rules = identity  # type: ignore[assignment]
    rules_mod.apply_anatomy_rules = identity  # type: ignore[assignment]
    try:
        yield
    finally:
        model_mod.apply_anatomy_rules, rules_mod.apply_anatomy_rules = saved


def run_cases(
    segs: dict[str, Any], cases: list[tuple[str, str, np.ndarray, np.ndarray, tuple[float, float]]]
) -> list[dict[str, Any]]:
    """cases: (id, kind, hu, truth muscle mask, (row_mm, col_mm)) -> one row per case, method and rules on/off."""
    rows = []
    for rules_on in (True, False):
        for name, seg in segs.items():
            for cid, kind, hu, truth, sp in cases:
                vol = Volume.from_array(hu=np.asarray(hu, np.float32)[None], spacing_mm=(3.0, *sp))
                if rules_on:
                    res = seg.segment(vol, [0])[0]
                else:
                    with rules_off():
                        res = seg.segment(vol, [0])[0]
                d, e = score(np.asarray(hu, np.float32), truth, res.labels == 1, sp[0] * sp[1] / 100.0)
                rows.append(
                    {
                        "id": cid,
                        "kind": kind,
                        "method": name,
                        "rules": rules_on,
                        "dice": d,
                        "sma_err_pct": e,
                        "confidence": res.confidence,
                        "flags": list(res.qc_flags),
                        "anatomy_rules": res.extra.get("anatomy_rules"),
                    }
                )
    return rows


def phantom_cases(n: int, first: int = 1000) -> list[tuple[str, str, np.ndarray, np.ndarray, tuple[float, float]]]:
    """Seeds ``first .. first + n - 1`` (1000+: the evaluation seeds), each plain, with its corrupted copies and
    the issue-15 variants."""
    out = []
    for seed in range(first, first + n):
        rng = np.random.default_rng([seed, 15])
        for v in VARIANTS:
            s = variant_slice(seed, v, size=SIZE, pixel_mm=PX_MM)
            out.append((f"{seed}/{v}", v, s.hu.astype(np.float32), s.labels == 1, s.spacing_mm))
            if v == "none":
                for cname, hu, lab in corrupted_variants(s.hu.astype(np.float32), s.labels, rng)[1:]:
                    out.append((f"{seed}/{cname}", f"corrupt_{cname}", hu, lab == 1, s.spacing_mm))
    return out


def real_cases() -> list[tuple[str, str, np.ndarray, np.ndarray, tuple[float, float]]]:
    from sarco_core.io import load
    from validation.reviewed import load_reviewed, names

    out: list[tuple[str, str, np.ndarray, np.ndarray, tuple[float, float]]] = []
    for name in names():
        path, k, ref = load_reviewed(name)
        vol = load(path)
        hu = np.asarray(vol.hu[k], np.float32)
        sp = (vol.spacing_mm.row, vol.spacing_mm.col)
        rng = np.random.default_rng([len(out), 15])
        for cname, h, lab in corrupted_variants(hu, ref.astype(np.uint8), rng):
            out.append((f"{name}/{cname}", "real" if cname == "clean" else f"real_{cname}", h, lab == 1, sp))
    return out


def flag_rates(n: int) -> dict[str, float]:
    out = {}
    for v in ("none", "anasarca", "cachexia", "bowel_flank", "ascites"):
        hits = 0
        for seed in range(2000, 2000 + n):
            s = variant_slice(seed, v, size=SIZE, pixel_mm=PX_MM)
            hu = s.hu.astype(np.float32)
            body, _ = body_mask(hu, PX_MM)
            r = apply_anatomy_rules(hu, s.labels, row_mm=PX_MM, col_mm=PX_MM, body=body, fov_out=hu < -1050)
            hits += r.no_sat_plane
        out[v] = hits / n
    return out


def _rho(rows: list[dict[str, Any]]) -> float | None:
    if len(rows) < 3:
        return None
    c = [r["confidence"] for r in rows]
    d = [r["dice"] for r in rows]
    return float(spearmanr(c, d).statistic) if len(set(c)) > 1 and len(set(d)) > 1 else None


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in sorted({r["method"] for r in rows}):
        for on in (True, False):
            sel = [r for r in rows if r["method"] == m and r["rules"] == on]
            key = f"{m}/{'rules' if on else 'no_rules'}"
            kinds: dict[str, Any] = {}
            for k in sorted({r["kind"] for r in sel}):
                ks = [r for r in sel if r["kind"] == k]
                errs = [abs(r["sma_err_pct"]) for r in ks if r["sma_err_pct"] is not None]
                kinds[k] = {
                    "n": len(ks),
                    "dice_median": round(float(np.median([r["dice"] for r in ks])), 4),
                    "abs_sma_err_median_pct": round(float(np.median(errs)), 2) if errs else None,
                    "no_sat_plane_rate": round(float(np.mean(["no_sat_plane" in r["flags"] for r in ks])), 3),
                    "islands_removed_rate": round(float(np.mean(["islands_removed" in r["flags"] for r in ks])), 3),
                    "confidence_median": round(float(np.median([r["confidence"] for r in ks])), 3),
                }
            ph = [r for r in sel if not r["kind"].startswith("real")]
            re = [r for r in sel if r["kind"].startswith("real")]
            out[key] = {
                "kinds": kinds,
                "spearman_phantom": _rho(ph),
                "spearman_real": _rho(re),
                "spearman_real_clean": _rho([r for r in re if r["kind"] == "real"]),
            }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--flag-seeds", type=int, default=40)
    ap.add_argument("--methods", default="model,teacher")
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    from sarco_core.segment import get_segmenter

    t0 = time.time()
    segs = {m: get_segmenter(m) for m in a.methods.split(",") if m}
    cases = phantom_cases(a.seeds) + ([] if a.no_real else real_cases())
    rows = run_cases(segs, cases)
    res = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": platform.processor() or platform.machine(),
        "seeds": a.seeds,
        "flag_seeds": a.flag_seeds,
        "no_sat_plane_rate_on_exact_labels": flag_rates(a.flag_seeds),
        "summary": summary(rows),
        "constants": {
            k: getattr(rules_mod, k)
            for k in (
                "SKIN_MM",
                "GAP_MM",
                "PARAVERTEBRAL_MM",
                "NO_SAT_MM",
                "NO_SAT_PERIMETER_FRACTION",
                "ISLANDS_FLAG_CM2",
            )
        },
        "wall_s": round(time.time() - t0, 1),
    }
    print(json.dumps(res, indent=1))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump({**res, "rows": rows}, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
