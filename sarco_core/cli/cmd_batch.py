"""``sarco batch INPUT --out results.csv [--manifest cases.csv] [--workers N] [--scheduler ADDRESS]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sarco_core.cli import print_json

NAME = "batch"
HELP = "Analyse a cohort (one sub-folder, .zip or NIfTI per case) in parallel on Dask into a CSV and the database."

EPILOG = """\
INPUT is a folder holding one case per entry: a sub-folder (DICOM series), a .zip or a .nii/.nii.gz file.
The case id is the entry's name without extension.

Manifest (optional CSV, header row, UTF-8): case_id,path,height_m,weight_kg,sex
  case_id    matches an INPUT entry by name (required)
  path       the case's input when it is not INPUT/<case_id>; relative to INPUT (may be empty)
  height_m   metres, e.g. 1.72 (DICOM headers rarely hold height; without it SMI is not computed)
  weight_kg  kilograms (some cutoff rules need BMI)
  sex        F or M (overrides the DICOM header)

Output: one CSV row per case: case_id, path, status (ok|error), error, then every field of
`sarco analyze --json` flattened with dotted names (lists joined with ';'), elapsed_s, store_case_id.
Each finished case is also kept as <out>.parts/<case>.json; a re-run skips finished cases (same input,
patient data and settings) and rebuilds the CSV. One bad case never stops the cohort: a case running past
--case-time-limit (default 300 s) is stopped, reported as failed, and its worker restarted.

Parallelism: --workers N single-threaded worker processes on this machine (default: one per core), or
--scheduler tcp://host:8786 to use an existing Dask cluster (see docs/scale.md).

Exit code: 0 every case ok, 1 some cases failed (see the error column), 2 the run could not start.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    p.add_argument(
        "input",
        nargs="?",
        help="folder with one sub-folder, .zip or NIfTI per case (may be left out when the manifest gives every path)",
    )
    p.add_argument("--out", required=True, help="results CSV to write (per-case results go to <out>.parts/)")
    p.add_argument("--manifest", help="CSV with case_id,path,height_m,weight_kg,sex (see below)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes on this machine (default: cores available; 0 = in this process, no Dask)",
    )
    p.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786")
    p.add_argument("--threads", type=int, default=1, help="torch / ONNX Runtime threads per worker (default 1)")
    p.add_argument(
        "--method",
        choices=("model", "teacher", "threshold"),
        default=None,
        help="segmentation method (default: the shipped model, else the teacher)",
    )
    from sarco_core.cutoffs import RULES

    p.add_argument(
        "--cutoffs", default=None, metavar="NAME", help=f"cutoff rule: {', '.join(RULES)} (default: martin2013)"
    )
    p.add_argument("--no-store", action="store_true", help="do not save the cases in the app's database")
    p.add_argument("--db", default=None, metavar="URL", help="database URL (default: SARCO_DB_URL or the app's)")
    p.add_argument("--retry-errors", action="store_true", help="re-run cases that failed in an earlier run")
    p.add_argument(
        "--case-time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop a case after this many seconds and report it failed (default: "
        "SARCO_CASE_TIME_LIMIT_S or 300; 0 = no limit)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--json", action="store_true", help="print a JSON summary")


def run(args: argparse.Namespace) -> int:
    from sarco_core.batch import BatchOptions, Progress, run_batch
    from sarco_core.errors import InputNotFoundError

    if args.input is None and args.manifest is None:
        raise InputNotFoundError("Give an INPUT folder, a --manifest with a path per case, or both.")
    if args.workers is not None and args.workers < 0:
        raise InputNotFoundError("--workers must be 0 (in this process) or more.")
    if args.cutoffs:
        from sarco_core.cutoffs import get_rule

        get_rule(args.cutoffs)  # fail fast on an unknown rule
    from sarco_core.batch.runner import case_time_limit_s

    case_time_limit_s(args.case_time_limit)  # fail fast on a bad limit
    opts = BatchOptions(
        workers=args.workers,
        scheduler=args.scheduler,
        method=args.method,
        rule=args.cutoffs,
        threads=max(1, args.threads),
        store=not args.no_store,
        store_url=args.db,
        retry_errors=args.retry_errors,
        case_time_limit_s=args.case_time_limit,
    )
    s = run_batch(
        args.input,
        Path(args.out),
        manifest=args.manifest,
        options=opts,
        progress=None if args.quiet else Progress(0),
        warn=lambda w: print(f"warning: {w}", file=sys.stderr),
    )
    if args.json:
        print_json(
            {
                "out": str(s.out_csv),
                "parts": str(s.parts),
                "cases": s.n_cases,
                "ok": s.n_ok,
                "error": s.n_error,
                "skipped": s.n_skipped,
                "stored": s.n_stored,
                "elapsed_s": round(s.elapsed_s, 3),
                "warnings": s.warnings,
            }
        )
    else:
        print(
            f"{s.n_cases} cases: {s.n_ok} ok, {s.n_error} error ({s.n_skipped} done earlier, "
            f"{s.n_stored} saved to the database) in {s.elapsed_s:.1f} s -> {s.out_csv}"
        )
    return 0 if s.n_error == 0 else 1
