"""``python -m benchmarks [--quick] [--json] [--only SECTION ...] [--out PATH] [--note TEXT]``.

Sections: inference, l3, e2e, throughput, store, profile. Full run: 300-slice series, ≥ 20 batch cases, written to
docs/benchmarks.md. ``--quick`` (< 2 min once inputs are cached): a 120-slice series, 6 cases, fewer repeats,
written to data_cache/bench/benchmarks-quick.md unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import CACHE, REPO, Section, machine

SECTIONS = ("inference", "l3", "e2e", "throughput", "store", "profile")


@dataclass(frozen=True)
class Plan:
    n_slices: int
    n_cases: int
    repeats_inference: int
    repeats_l3: int
    repeats_e2e: int
    j2k_extras: bool  # cold start and profile of the JPEG 2000 zip too


FULL = Plan(n_slices=300, n_cases=24, repeats_inference=7, repeats_l3=3, repeats_e2e=3, j2k_extras=True)
QUICK = Plan(n_slices=120, n_cases=6, repeats_inference=1, repeats_l3=1, repeats_e2e=1, j2k_extras=False)


def _guard(sec: Section, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one section; a failure is reported as a figure, never aborts the other sections."""
    try:
        return fn(sec, *args, **kwargs)
    except Exception as exc:
        sec.add("section failed", None, "", note=f"{type(exc).__name__}: {str(exc)[:300]}")
        return {"error": f"{type(exc).__name__}: {exc}"}


def run_all(plan: Plan, only: tuple[str, ...] = SECTIONS) -> tuple[list[Section], dict[str, Any]]:
    """Run the selected sections; returns them and the raw results."""
    from benchmarks import e2e, inference, inputs, l3, profile, throughput

    sections: list[Section] = []
    raw: dict[str, Any] = {}
    vol = what = None
    if {"inference", "l3", "store"} & set(only):
        print(f"preparing the {plan.n_slices}-slice series ...", flush=True)
        vol, what = inputs.series_volume(plan.n_slices)
    if "inference" in only:
        sec = Section("inference", "Muscle inference per 512² slice (CPU)")
        print(f"== {sec.title}", flush=True)
        raw["inference"] = _guard(sec, inference.run, vol, repeats=plan.repeats_inference, what=what)  # type: ignore[arg-type]
        sections.append(sec)
    if "l3" in only:
        sec = Section("l3", f"L3 detection, {plan.n_slices}-slice series")
        print(f"== {sec.title}", flush=True)
        raw["l3"] = _guard(sec, l3.run, vol, repeats=plan.repeats_l3, what=what)  # type: ignore[arg-type]
        sections.append(sec)
    if "store" in only:
        sec = Section("store", "Database write (single writer)")
        print(f"== {sec.title}", flush=True)
        raw["store"] = _guard(sec, throughput.store_cost, vol, what, repeats=1 if plan.repeats_e2e == 1 else 2)
        sections.append(sec)
    vol = None  # free the array before the end-to-end runs
    if {"e2e", "profile"} & set(only):
        from sarco_core.segment import get_segmenter

        print("preparing the DICOM zips ...", flush=True)
        raw_zip, zwhat = inputs.dicom_zip(plan.n_slices, "explicit-le")
        j2k_zip, _ = inputs.dicom_zip(plan.n_slices, "jpeg2000-lossless")
        seg = get_segmenter(None)
        lab_raw = f"{plan.n_slices}-slice uncompressed DICOM zip"
        lab_j2k = f"{plan.n_slices}-slice JPEG 2000 DICOM zip"
        if "e2e" in only:
            sec = Section("e2e", f"End-to-end `analyze`, {plan.n_slices}-slice DICOM series")
            print(f"== {sec.title}", flush=True)
            sec.notes.append(
                f"Input: {zwhat}, written with `write_dicom_series` (explicit VR little endian, or "
                f"JPEG 2000 lossless) and zipped (deflate). Zip sizes: {raw_zip.stat().st_size / 1e6:.0f}"
                f" MB and {j2k_zip.stat().st_size / 1e6:.0f} MB. Warm = in one process with the "
                f"segmenter ({seg.method}) already loaded and the files in the OS cache; stages from "
                "`timings_s`. Cold = a fresh `python -m sarco_core analyze ZIP --json` process."
            )
            raw["e2e"] = {
                "warm_raw": _guard(
                    sec, e2e.warm, raw_zip, lab_raw, repeats=plan.repeats_e2e, segmenter=seg, n_slices=plan.n_slices
                ),
                "warm_j2k": _guard(
                    sec, e2e.warm, j2k_zip, lab_j2k, repeats=plan.repeats_e2e, segmenter=seg, n_slices=plan.n_slices
                ),
            }
            raw["e2e"]["cold_raw"] = _guard(sec, e2e.cold, raw_zip, lab_raw, n_slices=plan.n_slices)
            if plan.j2k_extras:
                raw["e2e"]["cold_j2k"] = _guard(sec, e2e.cold, j2k_zip, lab_j2k, n_slices=plan.n_slices)
            sections.append(sec)
        if "profile" in only:
            sec = Section("profile", "Where the time goes (cProfile)")
            print(f"== {sec.title}", flush=True)
            raw["profile"] = {"raw": _guard(sec, profile.run, raw_zip, lab_raw, segmenter=seg)}
            if plan.j2k_extras:
                raw["profile"]["j2k"] = _guard(sec, profile.run, j2k_zip, lab_j2k, segmenter=seg)
            sections.append(sec)
    if "throughput" in only:
        sec = Section("throughput", f"Batch throughput on Dask, {plan.n_cases} cases")
        print(f"== {sec.title}", flush=True)
        cases_dir, cwhat = inputs.small_cases(plan.n_cases)
        raw["throughput"] = _guard(sec, throughput.run, cases_dir, cwhat)
        sections.append(sec)
    return sections, raw


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="small inputs, few repeats (< 2 min with cached inputs)")
    p.add_argument("--json", action="store_true", help="print all figures as one JSON object on stdout")
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), help="sections to run")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="Markdown report (default docs/benchmarks.md; --quick: data_cache/bench/benchmarks-quick.md)",
    )
    p.add_argument("--no-write", action="store_true", help="do not write a report file")
    p.add_argument("--note", default="", help="a note for the report header (e.g. machine load)")
    args = p.parse_args(argv)
    from benchmarks import report

    plan = QUICK if args.quick else FULL
    env = machine()
    t0 = time.perf_counter()
    real_stdout = sys.stdout
    if args.json:
        sys.stdout = sys.stderr  # progress to stderr, the JSON alone on stdout
    try:
        sections, raw = run_all(plan, tuple(args.only))
    finally:
        sys.stdout = real_stdout
    elapsed = time.perf_counter() - t0
    from benchmarks.common import load_average

    env["load_end"] = load_average()
    if not args.no_write:
        out = args.out or (CACHE / "benchmarks-quick.md" if args.quick else REPO / "docs" / "benchmarks.md")
        report.write(out, report.markdown(sections, env, quick=args.quick, note=args.note, elapsed_s=elapsed))
        print(f"report written to {out}", file=sys.stderr)
    if args.json:
        print(
            json.dumps(
                {
                    "machine": env,
                    "quick": args.quick,
                    "elapsed_s": elapsed,
                    "figures": [f.to_dict() for s in sections for f in s.figures],
                    "raw": raw,
                },
                indent=2,
                default=str,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
