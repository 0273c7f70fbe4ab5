"""Speed of ``sarco validate`` (target: <= 60 s per 100 slices on 2 cores), measured on phantom slices.

    nice python -m benchmarks.validate_speed [--n 100]

Times, apart: building the cases (not part of validate: an import step), segmenting + comparing every case
(:func:`sarco_core.validate.compare.validate_cases`, the active model on its default backend), and writing the
report (CSV, JSON, HTML with overlays of the worst cases). Prints seconds per 100 slices and the ratio to the
target.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np

from benchmarks.common import machine

TARGET_S_PER_100 = 60.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument(
        "--model",
        default=None,
        help="model folder (default: the active model); one with model.onnx "
        "runs on ONNX Runtime (sarco export-onnx DIR writes it)",
    )
    a = ap.parse_args(argv)
    from sarco_core.segment.base import SliceSegmenter
    from sarco_core.segment.registry import get_segmenter
    from sarco_core.validate.compare import validate_cases
    from sarco_core.validate.report import overlay_png, write_report
    from sarco_core.validate.site_phantoms import SiteConvention, site_cases

    t0 = time.perf_counter()
    cases = site_cases(a.n, convention=SiteConvention.STANDARD, seed0=910_000)
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    if a.model:
        from sarco_core.segment.model import Segmenter

        seg: SliceSegmenter = Segmenter.from_dir(a.model)
    else:
        seg = get_segmenter("model")
    t_load = time.perf_counter() - t0
    preds: dict[str, np.ndarray] = {}
    t0 = time.perf_counter()
    rep = validate_cases(cases, seg, on_case=lambda c, r: preds.__setitem__(c.case_id, r.labels == 1))
    t_val = time.perf_counter() - t0
    by_id = {c.case_id: c for c in cases}
    t0 = time.perf_counter()
    ov = {r.case_id: overlay_png(by_id[r.case_id].hu, by_id[r.case_id].muscle, preds[r.case_id]) for r in rep.worst()}
    with tempfile.TemporaryDirectory() as d:
        write_report(rep, d, overlays=ov)
    t_rep = time.perf_counter() - t0
    total = t_load + t_val + t_rep
    per100 = total / a.n * 100
    out = {
        **machine(),
        "n_slices": a.n,
        "backend": getattr(seg, "backend", "?"),
        "build_cases_s": round(t_build, 2),
        "load_model_s": round(t_load, 2),
        "segment_and_compare_s": round(t_val, 2),
        "report_s": round(t_rep, 2),
        "validate_s_per_100_slices": round(per100, 1),
        "ratio_to_target": round(per100 / TARGET_S_PER_100, 2),
        "median_dice": rep.dice.median,
    }
    print(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
