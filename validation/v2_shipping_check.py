"""The phantom and practical parts of a shipping rule written before training (models/sarco-unet-v2/SHIPPING_RULE.md,
rules 3-5): ``python -m validation.v2_shipping_check CANDIDATE_DIR [--incumbent models/sarco-unet-v1]
[--seeds N] [--variant-seeds M] [--json OUT]``.

* **rule 3** - held-out phantoms: validation seeds 900000.. (never trained on: training uses seeds 0-799), each
  rendered twice, default contacts (level and pixel size drawn per seed, as the training report does) and
  ``contacts="hard"`` (T12-L3 in turn, 0.8 mm, 410 mm field of view); median HU-gated Dice and median |SMA error|
  of candidate and incumbent on the same slices;
* **rule 4** - the issue-15 variants (anasarca, cachexia, bowel against the flank, ascites;
  :mod:`sarco_core.phantom.variants`) on held-out seeds 900000.. at L1-L3, 0.8 mm: median |SMA error| per variant
  for both models, and the candidate's median over all variant slices (the issue's 5 % target);
* **rule 5** - the candidate's torch and ONNX Runtime back ends give the same labels (share of equal pixels over
  the rule-3 default slices; the rule asks >= 99.9 %).

Each rule's verdict is printed as the rule states it; rules 1-2 (leave-one-patient-out on the blinded real
reference) are ``python -m sarco_core.train.lopo`` and are not checked here. This script never decides shipping by
itself: the decision is the rule's, with every rule checked. Figures go to docs/model.md with date and machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from sarco_core.metrics import gated_scores
from sarco_core.segment.base import SliceSegmenter
from sarco_core.volume import Volume

VAL_SEED0 = 900_000  # models/sarco-unet-v2/train.json data.phantom_val_seeds (never trained on)
DEFAULT_LEVELS = ("T11", "T12", "L1", "L2", "L3", "L3", "L4")
HARD_LEVELS = ("T12", "L1", "L2", "L3")
VARIANT_LEVELS = ("L1", "L2", "L3", "L3")
NAMED_VARIANTS = ("anasarca", "cachexia", "bowel_flank", "ascites")


def _score(hu: np.ndarray, truth: np.ndarray, pred: np.ndarray, px_cm2: float) -> tuple[float, float]:
    d, err = gated_scores(hu, truth, pred, px_cm2)
    return d, float("nan") if err is None else float(err)


def _labels(seg: SliceSegmenter, hu: np.ndarray, spacing_mm: tuple[float, float]) -> np.ndarray:
    vol = Volume.from_array(hu=np.asarray(hu, np.float32)[None], spacing_mm=(3.0, *spacing_mm))
    return np.asarray(seg.segment(vol, [0])[0].labels)


def default_cases(n: int) -> list[tuple[str, Any]]:
    from sarco_core.phantom.slice import phantom_slice

    out = []
    for s in range(VAL_SEED0, VAL_SEED0 + n):
        rng = np.random.default_rng([s, 99])
        lv = DEFAULT_LEVELS[s % len(DEFAULT_LEVELS)]
        out.append((f"{s}/default", phantom_slice(s, level=lv, pixel_mm=float(rng.uniform(0.6, 1.0)))))
    return out


def hard_cases(n: int, pixel_mm: float = 0.8) -> list[tuple[str, Any]]:
    from sarco_core.phantom.slice import phantom_slice

    size = int(round(410.0 / pixel_mm))
    return [
        (
            f"{s}/hard",
            phantom_slice(s, level=HARD_LEVELS[s % len(HARD_LEVELS)], pixel_mm=pixel_mm, size=size, contacts="hard"),
        )
        for s in range(VAL_SEED0, VAL_SEED0 + n)
    ]


def variant_cases(n: int) -> list[tuple[str, Any]]:
    from sarco_core.phantom.variants import variant_slice

    return [
        (f"{s}/{v}", variant_slice(s, v, level=VARIANT_LEVELS[s % len(VARIANT_LEVELS)], pixel_mm=0.8))
        for v in NAMED_VARIANTS
        for s in range(VAL_SEED0, VAL_SEED0 + n)
    ]


def score_cases(segs: dict[str, SliceSegmenter], cases: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for cid, ph in cases:
        hu = np.asarray(ph.hu, np.float32)
        px_cm2 = ph.spacing_mm[0] * ph.spacing_mm[1] / 100.0
        row: dict[str, Any] = {"id": cid, "kind": cid.split("/")[1]}
        for name, seg in segs.items():
            d, e = _score(hu, ph.labels == 1, _labels(seg, hu, ph.spacing_mm) == 1, px_cm2)
            row[name] = {"dice": d, "sma_err_pct": e}
        rows.append(row)
    return rows


def _med(rows: list[dict[str, Any]], name: str, key: str, absolute: bool = False) -> float:
    v = np.array([r[name][key] for r in rows], float)
    v = v[np.isfinite(v)]
    return float(np.median(np.abs(v) if absolute else v)) if v.size else float("nan")


def summarise(rows: list[dict[str, Any]], cand: str = "candidate", inc: str = "incumbent") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in sorted({r["kind"] for r in rows}):
        rs = [r for r in rows if r["kind"] == kind]
        out[kind] = {
            n: {
                "n": len(rs),
                "median_dice": _med(rs, n, "dice"),
                "median_abs_sma_err_pct": _med(rs, n, "sma_err_pct", True),
            }
            for n in (cand, inc)
        }
    return out


def verdicts(summary: dict[str, Any], variant_rows: list[dict[str, Any]], agree: float | None) -> dict[str, Any]:
    """Rules 3-5 as SHIPPING_RULE.md states them (True = the candidate meets that rule)."""
    v: dict[str, Any] = {}
    r3 = {}
    for kind in ("default", "hard"):
        if kind in summary:
            c, i = summary[kind]["candidate"], summary[kind]["incumbent"]
            r3[kind] = (
                c["median_dice"] >= i["median_dice"] and c["median_abs_sma_err_pct"] <= i["median_abs_sma_err_pct"]
            )
    v["rule3_heldout_phantoms"] = {"per_render": r3, "met": bool(r3) and all(r3.values())}
    r4 = {}
    for kind in NAMED_VARIANTS:
        if kind in summary:
            c, i = summary[kind]["candidate"], summary[kind]["incumbent"]
            r4[kind] = c["median_abs_sma_err_pct"] <= i["median_abs_sma_err_pct"]
    overall = _med(variant_rows, "candidate", "sma_err_pct", True) if variant_rows else float("nan")
    v["rule4_variants"] = {
        "per_variant_not_worse": r4,
        "candidate_overall_median_abs_sma_err_pct": overall,
        "incumbent_overall_median_abs_sma_err_pct": _med(variant_rows, "incumbent", "sma_err_pct", True)
        if variant_rows
        else float("nan"),
        "met": bool(r4) and all(r4.values()) and overall <= 5.0,
    }
    v["rule5_torch_onnx_agreement"] = {"equal_pixel_share": agree, "met": agree is not None and agree >= 0.999}
    return v


def backend_agreement(cand_dir: Path, cases: list[tuple[str, Any]]) -> float:
    from sarco_core.segment.model import Segmenter

    t, o = Segmenter.from_dir(cand_dir, backend="torch"), Segmenter.from_dir(cand_dir, backend="onnx")
    same = total = 0
    for _, ph in cases:
        a, b = _labels(t, ph.hu, ph.spacing_mm), _labels(o, ph.hu, ph.spacing_mm)
        same += int((a == b).sum())
        total += a.size
    return same / total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m validation.v2_shipping_check", description=__doc__.split("\n")[0])
    ap.add_argument("candidate")
    ap.add_argument("--incumbent", default="models/sarco-unet-v1")
    ap.add_argument("--seeds", type=int, default=40, help="held-out phantom seeds per render (rule 3: 40)")
    ap.add_argument("--variant-seeds", type=int, default=20, help="held-out seeds per variant (rule 4)")
    ap.add_argument("--backend", default="onnx", help="back end of both models for rules 3-4")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    from sarco_core.segment.model import Segmenter

    t0 = time.time()
    segs: dict[str, SliceSegmenter] = {
        "candidate": Segmenter.from_dir(a.candidate, backend=a.backend),
        "incumbent": Segmenter.from_dir(a.incumbent, backend=a.backend),
    }
    dflt = default_cases(a.seeds)
    rows = score_cases(segs, dflt) + score_cases(segs, hard_cases(a.seeds))
    vrows = score_cases(segs, variant_cases(a.variant_seeds))
    summary = summarise(rows + vrows)
    agree = backend_agreement(Path(a.candidate), dflt)
    rep = {
        "candidate": a.candidate,
        "incumbent": a.incumbent,
        "backend": a.backend,
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": round(time.time() - t0, 1),
        "summary": summary,
        "verdicts": verdicts(summary, vrows, agree),
        "rows": rows + vrows,
    }
    print(json.dumps({k: rep[k] for k in ("summary", "verdicts", "seconds")}, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(rep, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
