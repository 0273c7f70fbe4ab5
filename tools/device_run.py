"""One device (GPU) command for a candidate with a pre-written shipping rule: the LOPO folds and the final model
trained side by side, then the shipping check of rules 3-5, with a time guard; everything the rule needs lands in
``--out`` (the device's $OUT). Run by ``tools/device_v21.sh``; the same code runs here on the CPU (``--device
cpu``, the smoke stage) so its logic is tested without a device.

``python -m tools.device_run run --stage device_stage/v21 --runs device_runs/v21 --out $OUT [--device cuda]
[--budget-s 570] [--parallel 6] [--patients A B ...] [--check-seeds 40 --check-variant-seeds 20]``

* jobs: ``final`` (the candidate, ``sarco train`` of the staged config) and one ``fold-<patient>`` per patient with
  reference slices (:func:`sarco_core.train.lopo.fold_config`: that patient out of every real input), each a
  subprocess ``python -m tools.device_run job ...`` that trains with ``resume`` (checkpoints every
  ``checkpoint_every`` steps in ``--runs``), refuses to build a data cache (the staged caches must be found: a miss
  means the staging does not match the config or the code; the phantom caches are built first, on every core,
  by :mod:`tools.device_prebuild`), and for a fold scores its patient's reference slices
  of every staged pass, candidate and incumbent (models/sarco-unet-v1), into ``fold-<patient>/scores.json``;
* the guard: a job is stopped (SIGTERM, then SIGKILL) once fewer than ``reserve`` seconds of ``--budget-s`` are
  left; the shipping check starts only if its estimate fits. A second ``run`` with the same ``--runs`` on the same
  (warm) machine resumes every unfinished job from its last checkpoint and skips the finished ones;
* outputs: ``verdict.json`` (status, timings, rules 1-2 per pass, rules 3-5, the decision or "no decision"),
  ``lopo.json``, ``shipping_check.json``, ``model.pt``, ``model.onnx`` and ``meta.tar.gz`` (model config, ONNX
  side file, validation, logs, fold scores) — at most 8 files, each checked against the 16 MiB return limit.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tools.device_guard import DEFAULT_BUDGET_S, TimeGuard, decide, rules_1_2
from tools.device_stage import RETURN_LIMIT_BYTES, ROOT, point_link, staged_volume

INCUMBENT = ROOT / "models" / "sarco-unet-v1"
INCUMBENT_METHOD = "sarco-unet-v1 (incumbent)"
CHECK_ESTIMATE_S = 150.0  # rules 3-5 on the CPU side of the device (77 s on this 2-core box for v2, doubled)


class StagingMismatch(RuntimeError):
    """A staged data cache was not found: re-run ``python -m tools.device_stage`` with this config and code."""


def _refuse(*_a: Any, **_k: Any) -> Any:
    raise StagingMismatch(
        "a training data cache is missing from the staged folder (config or data code changed since staging): "
        "re-run python -m tools.device_stage CONFIG --stage DIR here and carry it again."
    )


def load_staged(stage: Path, device: str, *, link: bool = False) -> Any:
    """The staged config on ``device`` and the manifest; ``link``: point the shared-data link at the skeleton
    (the supervisor does it once, before the jobs start; a job only checks it)."""
    from sarco_core.train.config import load_config

    man = json.loads((stage / "manifest.json").read_text())
    skeleton = (stage / "skeleton").resolve()
    if link:
        point_link(Path(man["link"]), skeleton)  # same absolute path as at staging -> same cache keys
    elif Path(man["link"]).resolve() != skeleton:
        raise StagingMismatch(f"{man['link']} does not point at {skeleton}: start jobs with 'run', not 'job'.")
    cfg = load_config(stage / "train.json")
    return dataclasses.replace(cfg, device=device), man


def job(stage: Path, runs: Path, name: str, device: str) -> int:
    from sarco_core.segment.model import Segmenter
    from sarco_core.train import data, lopo
    from sarco_core.train.run import train

    data.build_phantoms = _refuse  # type: ignore[assignment]
    data.build_real = _refuse  # type: ignore[assignment]
    cfg, man = load_staged(stage, device)
    if name == "final":
        model_dir = train(dataclasses.replace(cfg, run_dir=str((runs / "final").resolve())), resume=True)
        from sarco_core.train.export import export_onnx

        export_onnx(model_dir)
        return 0
    patient = name.removeprefix("fold-")
    model_dir = train(lopo.fold_config(cfg, patient, runs.resolve()), resume=True)
    cand = Segmenter.from_dir(model_dir, backend="torch")
    inc = Segmenter.from_dir(INCUMBENT, backend="torch")
    method = f"{cfg.name} {cfg.version} (LOPO)"
    scores: dict[str, list[dict[str, Any]]] = {}
    for p in man["passes"]:
        rows = []
        for r in lopo.folds(lopo.reference_slices(stage / "reference" / f"p{p}")).get(patient, []):
            vol = staged_volume(stage / "refslices", r.name)
            for seg, m in ((cand, method), (inc, INCUMBENT_METHOD)):
                rows.append(dataclasses.asdict(lopo.score_slice(r, seg, m, Path("."), volume=vol)))
        scores[f"pass{p}"] = rows
    out = runs / name / "scores.json"
    out.write_text(json.dumps({"patient": patient, "model": str(model_dir), "method": method, **scores}, indent=1))
    return 0


def plan(stage: Path, patients: list[str]) -> list[str]:
    """Jobs in launch order: the final model first (the shipping check waits for it), then the folds."""
    from sarco_core.train import lopo

    have = sorted(lopo.folds(lopo.reference_slices(stage / "reference" / "p1")))
    unknown = set(patients) - set(have)
    if unknown:
        raise SystemExit(f"no reference slices for {sorted(unknown)}; have {have}")
    return ["final", *[f"fold-{p}" for p in (patients or have)]]


def finished(runs: Path, name: str) -> bool:
    if name == "final":
        return (runs / "final" / "model" / "model.onnx.json").is_file()
    return (runs / name / "scores.json").is_file()


def _log(msg: str) -> None:
    print(time.strftime("%H:%M:%S ") + msg, flush=True)


def job_cmd(a: argparse.Namespace) -> Callable[[str], list[str]]:
    def f(j: str) -> list[str]:
        cmd = [sys.executable, "-m", "tools.device_run", "job", j, "--stage", a.stage, "--runs", a.runs]
        return [*cmd, "--device", a.device]

    return f


def supervise(
    a: argparse.Namespace,
    guard: TimeGuard,
    jobs: list[str],
    runs: Path,
    cmd_of: Callable[[str], list[str]] | None = None,
    check_cmd: list[str] | None = None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Run ``jobs`` (``a.parallel`` at a time) and, once the final model exists, the shipping check, until done
    or until the guard says stop; returns each job's status and the shipping-check report (None if not run)."""
    cmd_of = cmd_of or job_cmd(a)
    status: dict[str, Any] = {j: "done (earlier run)" for j in jobs if finished(runs, j)}
    todo = [j for j in jobs if j not in status]
    running: dict[str, tuple[subprocess.Popen[bytes], float]] = {}
    check: subprocess.Popen[bytes] | None = None
    check_json = runs / "shipping_check.json"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def check_due() -> bool:
        return "check" not in status and not check_json.is_file() and finished(runs, "final")

    while todo or running or check is not None or check_due():
        while todo and len(running) < a.parallel:
            j = todo.pop(0)
            (runs / j).mkdir(parents=True, exist_ok=True)
            logf = open(runs / j / "job.log", "ab")  # noqa: SIM115 - closed with the process
            running[j] = (subprocess.Popen(cmd_of(j), stdout=logf, stderr=logf, env=env), time.time())
            _log(f"started {j}")
        for j, (p, t0) in list(running.items()):
            if p.poll() is not None:
                status[j] = f"done in {time.time() - t0:.0f} s" if p.returncode == 0 else f"failed (rc {p.returncode})"
                _log(f"{j}: {status[j]}")
                del running[j]
        if check is None and check_due():
            if guard.fits(a.check_estimate_s):
                cmd = [sys.executable, "-m", "validation.v2_shipping_check", str(runs / "final" / "model")]
                cmd += ["--incumbent", str(INCUMBENT), "--seeds", str(a.check_seeds)]
                cmd += ["--variant-seeds", str(a.check_variant_seeds), "--json", str(check_json)]
                cmd = check_cmd or cmd
                check = subprocess.Popen(cmd, stdout=open(runs / "check.log", "ab"), stderr=subprocess.STDOUT, env=env)  # noqa: SIM115
                _log("started the shipping check (rules 3-5)")
            else:
                status["check"] = f"not started: {guard.left():.0f} s left, estimate {a.check_estimate_s:.0f} s"
        if check is not None and check.poll() is not None:
            status["check"] = "done" if check.returncode == 0 else f"failed (rc {check.returncode})"
            check = None
        if guard.must_stop():
            for j, (p, _) in running.items():
                _stop(p)
                status[j] = "stopped by the time guard (resumable from its last checkpoint)"
            if check is not None:
                _stop(check)
                status["check"] = "stopped by the time guard"
            todo_left = {j: "not started (time guard)" for j in todo}
            status.update(todo_left)
            _log(f"time guard: {guard.left():.0f} s left, stopped {sorted(running)}")
            break
        time.sleep(a.poll_s)
    status.setdefault("check", "done (earlier run)" if check_json.is_file() else "not run (final model missing)")
    return status, (json.loads(check_json.read_text()) if check_json.is_file() else None)


def _stop(p: subprocess.Popen[bytes]) -> None:
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def collect(runs: Path, jobs: list[str], passes: list[int]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """lopo.json content and rules 1-2 per pass (None unless every fold has scores)."""
    from sarco_core.train.lopo import SliceScore, summary

    folds = [j for j in jobs if j != "final"]
    got = {j: json.loads((runs / j / "scores.json").read_text()) for j in folds if finished(runs, j)}
    rep: dict[str, Any] = {"folds_done": sorted(got), "folds_missing": sorted(set(folds) - set(got))}
    for p in passes:
        rows = [r for s in got.values() for r in s[f"pass{p}"]]
        rep[f"pass{p}"] = {"per_slice": rows, "summary": summary([SliceScore(**r) for r in rows])}
    if rep["folds_missing"] or not got:
        return rep, None
    method = next(iter(got.values()))["method"]
    return rep, {f"pass{p}": rules_1_2(rep[f"pass{p}"]["per_slice"], method, INCUMBENT_METHOD) for p in passes}


def write_outputs(out: Path, runs: Path, verdict: dict[str, Any], lopo_rep: dict[str, Any], jobs: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "lopo.json").write_text(json.dumps(lopo_rep, indent=1))
    if (runs / "shipping_check.json").is_file():
        shutil.copy(runs / "shipping_check.json", out / "shipping_check.json")
    model = runs / "final" / "model"
    for f in ("model.pt", "model.onnx"):
        if (model / f).is_file():
            shutil.copy(model / f, out / f)
    with tarfile.open(out / "meta.tar.gz", "w:gz") as tar:
        for p in [model / "config.json", model / "model.onnx.json", runs / "final" / "validation.json"]:
            if p.is_file():
                tar.add(p, arcname=f"final/{p.name}")
        for j in jobs:
            for f in ("job.log", "scores.json", "config.used.json"):
                if (runs / j / f).is_file():
                    tar.add(runs / j / f, arcname=f"{j}/{f}")
        if (runs / "check.log").is_file():
            tar.add(runs / "check.log", arcname="check.log")
    big = {p.name: p.stat().st_size for p in out.iterdir() if p.stat().st_size > RETURN_LIMIT_BYTES}
    for name in big:  # would not come back: say so rather than lose the verdict
        (out / name).unlink()
    verdict["outputs"] = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    verdict["outputs_over_return_limit"] = big
    (out / "verdict.json").write_text(json.dumps(verdict, indent=1))


def run(a: argparse.Namespace) -> int:
    guard = TimeGuard(budget_s=a.budget_s, reserve_s=a.reserve_s)
    stage, runs, out = Path(a.stage), Path(a.runs), Path(a.out)
    runs.mkdir(parents=True, exist_ok=True)
    cfg, man = load_staged(stage, a.device, link=True)
    jobs = plan(stage, a.patients)
    _log(f"{cfg.name} {cfg.version} on {a.device}: jobs {jobs}, {a.parallel} at a time, budget {a.budget_s:.0f} s")
    from tools.device_prebuild import prebuild

    prebuild_s = prebuild(cfg)  # the phantom caches (not carried: too big), on every core
    _log(f"phantom caches ready in {prebuild_s:.0f} s")
    status, check = supervise(a, guard, jobs, runs)
    lopo_rep, r12 = collect(runs, jobs, man["passes"])
    r345 = {k: v for k, v in check["verdicts"].items()} if check else None
    every_fold = set(jobs) == set(plan(stage, []))  # --patients (a test) decides nothing
    r12_decides = r12 if every_fold else None
    verdict = {
        "candidate": f"{cfg.name} {cfg.version}",
        "rule": "models/sarco-unet-v2.1/SHIPPING_RULE.md",
        "device": a.device,
        "device_name": _device_name(a.device),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": round(guard.elapsed(), 1),
        "budget_s": a.budget_s,
        "phantom_prebuild_s": round(prebuild_s, 1),
        "jobs": status,
        "complete": r12_decides is not None and r345 is not None,
        "every_reference_patient_a_fold": every_fold,
        "rules_1_2": r12,
        "rules_3_5": r345,
        "decision": decide(r12_decides, r345),
        "note": "rule 5's CPU speed figure (python -m benchmarks) is measured on the CPU box, not here",
    }
    write_outputs(out, runs, verdict, lopo_rep, jobs)
    _log(f"verdict: {verdict['decision']['decision']} ({verdict['seconds']:.0f} s); jobs {status}")
    return 0


def _device_name(device: str) -> str:
    import platform

    if device == "cuda":
        import torch

        return torch.cuda.get_device_name(0)
    return platform.processor() or platform.machine()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.device_run", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--out", required=True)
    r.add_argument("--budget-s", type=float, default=DEFAULT_BUDGET_S)
    r.add_argument("--reserve-s", type=float, default=25.0, help="kept for writing the outputs")
    r.add_argument("--parallel", type=int, default=6)
    r.add_argument("--patients", nargs="*", default=[])
    r.add_argument("--check-seeds", type=int, default=40)
    r.add_argument("--check-variant-seeds", type=int, default=20)
    r.add_argument("--check-estimate-s", type=float, default=CHECK_ESTIMATE_S)
    r.add_argument("--poll-s", type=float, default=2.0)
    j = sub.add_parser("job")
    j.add_argument("name")
    for p in (r, j):
        p.add_argument("--stage", required=True)
        p.add_argument("--runs", required=True)
        p.add_argument("--device", default="cuda")
    a = ap.parse_args(argv)
    if a.cmd == "job":
        return job(Path(a.stage), Path(a.runs), a.name, a.device)
    return run(a)


if __name__ == "__main__":
    raise SystemExit(main())
