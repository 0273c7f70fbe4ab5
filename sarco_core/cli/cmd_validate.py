"""``sarco validate (COHORT | --from-store [--cases GLOB]) --report OUT [--model NAME|DIR] [--rule R]``: the model
against a site's expert masks."""

from __future__ import annotations

import argparse

import numpy as np

from sarco_core.cli import print_json
from sarco_core.cutoffs import RULES

NAME = "validate"
HELP = (
    "Run the model on every expert-traced slice of an import set (sarco import-masks --out DIR) or a manifest "
    "(case_id,image,mask[,height_m,weight_kg,sex,patient_id]), or (--from-store) on the latest edited or imported "
    "mask of each case in the case store, and report agreement: Dice, SMA/IMAT/SAT/VAT/"
    "muscle-HU differences, Bland-Altman, ICC(2,1), Lin's CCC, low-SMI call flips; writes cases.csv, "
    "summary.json and report.html."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "cohort",
        nargs="?",
        default=None,
        help="import set folder (sarco import-masks --out DIR) or a CSV manifest of image + "
        "NIfTI mask pairs (paths relative to it); omit with --from-store",
    )
    p.add_argument(
        "--from-store",
        action="store_true",
        help="validate against the case store ($SARCO_DB_URL): per case its latest saved edit or imported mask",
    )
    p.add_argument("--cases", default=None, metavar="GLOB", help="with --from-store: only case labels matching GLOB")
    p.add_argument("--report", required=True, help="output folder for cases.csv, summary.json, report.html")
    p.add_argument("--model", default=None, help="registry name or model folder (default: the active model)")
    p.add_argument(
        "--method",
        choices=("model", "teacher", "threshold"),
        default=None,
        help="validate a non-model method instead (baselines)",
    )
    p.add_argument("--rule", choices=sorted(RULES), default=None, help="cutoff rule for the low-SMI call")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")


def run(args: argparse.Namespace) -> int:
    from sarco_core.segment.base import SliceSegmenter
    from sarco_core.segment.registry import get_segmenter
    from sarco_core.validate.compare import validate_cases
    from sarco_core.validate.report import case_row, overlay_png, write_report
    from sarco_core.validate.store_cases import resolve_cohort

    cases, from_store = resolve_cohort(args.cohort, from_store=args.from_store, label_glob=args.cases)
    if from_store is not None and not args.json:
        print(from_store.describe())
    seg: SliceSegmenter
    if args.model:
        from sarco_core.model_registry import resolve_model
        from sarco_core.segment.model import Segmenter

        seg = Segmenter.from_dir(resolve_model(args.model))
    else:
        seg = get_segmenter(args.method)
    preds: dict[str, np.ndarray] = {}
    rep = validate_cases(
        cases, seg, rule=args.rule, on_case=lambda c, r: preds.__setitem__(c.case_id, np.packbits(r.labels == 1))
    )
    by_id = {c.case_id: c for c in cases}
    overlays = {}
    for r in rep.worst():
        c = by_id[r.case_id]
        model = np.unpackbits(preds[r.case_id], count=c.hu.size).reshape(c.hu.shape).astype(bool)
        overlays[r.case_id] = overlay_png(c.hu, c.muscle, model)
    files = write_report(rep, args.report, overlays=overlays)
    if args.json:
        print_json(rep.to_dict())
        return 0
    print(f"{'case':>16} {'dice':>7} {'SMA ref':>9} {'SMA mod':>9} {'err %':>7}")
    for r in rep.cases:
        print(case_row(r))
    d = rep.dice
    e = rep.sma_abs_error_pct
    print(
        f"\n{len(rep.cases)} cases in {rep.seconds:.1f} s; median gated Dice {d.median:.3f}, "
        f"median |SMA error| {e.median:.1f} %"
    )
    for a in rep.agreement:
        ba = a.bland_altman
        print(
            f"{a.quantity}: bias {ba.bias:+.2f} {a.unit} (95% LoA {ba.loa_low:+.2f} to {ba.loa_high:+.2f}), "
            f"ICC(2,1) {a.icc_2_1:.3f}, CCC {a.lin_ccc:.3f}"
        )
    fl = rep.flips
    print(f"low-SMI flips: {fl.n_flipped}/{fl.n_classified}")
    print(f"report: {files.html}")
    return 0
