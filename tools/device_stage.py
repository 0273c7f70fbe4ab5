"""Stage everything a device (GPU) training run needs into one git-ignored folder, here, on the CPU:
``python -m tools.device_stage CONFIG --stage device_stage/v21 [--link /tmp/sarco-v21-shared] [--wheels DIR]``.

The device machine gets the repository's tracked files and the paths named in ``carry`` (64 MiB in all), not
``../shared/data``, and cannot download anything. So this step writes, under ``--stage``:

* ``train.json``: CONFIG with its data paths pointed at the staged folder (``cache_dir``, ``reference_dir``) and
  ``shared_data`` at ``--link``, an absolute path that is a symbolic link on both machines (here to the real shared
  data, there to ``skeleton/``): the real-slice cache key holds the absolute source paths, so the same link path
  gives the same key, and the cache built here is found there;
* ``cache/``: the real-slice training caches (teacher pseudo-labels, plain and coarse copies), built by
  :func:`sarco_core.train.data.prepare` exactly as a training run builds them (:func:`build_real_caches`); the
  phantom caches are built on the device (too big to carry, and they need no data);
* ``skeleton/``: an empty file (or folder) per real source the config's globs match, so the globs match the same
  paths there; their content is never read, because every cache is found (the device job refuses to build one);
* ``reference/pN/``: the blinded reference masks of every pass (``tools.blinded_tool export``);
* ``refslices/``: each reference slice's CT slice (HU, spacing) as ``.npz``, so the LOPO scores need no DICOM
  reader there (``check`` proves the labels are the same as from the DICOM);
* ``manifest.json``: what was staged, how long it took and how big it is, against the carry limit.

Wheels (``--wheels``, e.g. ``device_stage/wheels``) are fetched with ``pip download`` for CPython 3.12 manylinux
x86-64 (:data:`WHEELS`). Nothing under ``totalsegmentator/`` is staged (``real_sources`` refuses it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from sarco_core.train.config import TrainConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]
CARRY_LIMIT_BYTES = 64 * 2**20  # the device's limit on the working tree plus carried paths (device README)
RETURN_LIMIT_BYTES = 16 * 2**20  # one file back from $OUT
PASSES = (1, 2)  # blinded reference passes (validation/reviewed/blinded/passN)
# packages the device image lacks (KINDS.md) that training, LOPO and the shipping check import: the network
# library, and nibabel (sarco_core.phantom imports sarco_core.io.nifti; the CPU smoke run with the missing
# packages blocked failed there without it). pydicom, pylibjpeg and highdicom are not needed: the staged reference
# slices replace the DICOM. timm is in the image too, but carried at the version tested here (smp 0.6.0 needs
# timm >= 0.9)
WHEELS = ("segmentation-models-pytorch==0.6.0", "timm==1.0.31", "nibabel==5.4.2")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")


def tree_bytes(files: list[Path]) -> int:
    return sum(p.stat().st_size for p in files if p.is_file() and not p.is_symlink())


def folder_bytes(folder: Path) -> int:
    return tree_bytes([p for p in folder.rglob("*")]) if folder.exists() else 0


def git_tree_bytes(root: Path = ROOT) -> int:
    """Bytes of the tracked files (what travels besides ``carry``; untracked-not-ignored files come on top)."""
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return tree_bytes([root / n for n in out.decode().split("\0") if n])


def carry_check(parts: dict[str, int], limit: int = CARRY_LIMIT_BYTES) -> dict[str, Any]:
    """Sizes of what travels against the limit: ``over_bytes`` > 0 says by how much it is too big."""
    total = int(sum(parts.values()))
    return {
        "parts_bytes": dict(parts),
        "total_bytes": total,
        "limit_bytes": limit,
        "fits": total <= limit,
        "over_bytes": max(0, total - limit),
        "headroom_bytes": max(0, limit - total),
    }


def staged_config(raw: dict[str, Any], stage: Path, link: str) -> dict[str, Any]:
    """CONFIG's JSON with its data paths on the staged folder (``stage`` relative to the repository root)."""
    d: dict[str, Any] = json.loads(json.dumps(raw))
    rel = stage.resolve().relative_to(ROOT)
    d["shared_data"] = link
    d["cache_dir"] = str(rel / "cache")
    if d.get("data", {}).get("reference_dir"):
        d["data"]["reference_dir"] = str(rel / "reference" / f"p{PASSES[0]}")
    d["run_dir"] = "device_runs/unstaged"  # every job sets its own
    return d


def point_link(link: Path, target: Path) -> None:
    """Make ``link`` a symbolic link to ``target`` (replacing an older link; never a real folder)."""
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        raise TrainConfigError(f"{link} exists and is not a symbolic link: choose another --link path.")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target.resolve(), target_is_directory=True)


def write_skeleton(sources: list[Path], link: Path, out: Path) -> int:
    """An empty stand-in under ``out`` for every real source (a file for a file, a folder for a folder)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for src in sources:
        dst = out / src.relative_to(link)
        if src.is_dir():
            dst.mkdir(parents=True, exist_ok=True)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.touch()
    return len(sources)


def write_refslices(index: Path, shared: Path, out: Path) -> list[str]:
    """Each reference slice's HU slice and (slice, row, col) spacing as ``out/<name>.npz``."""
    from sarco_core.io import load

    out.mkdir(parents=True, exist_ok=True)
    names = []
    for e in json.loads(index.read_text())["slices"]:
        vol = load(shared / e["ct"])
        sp = vol.spacing_mm
        hu = np.asarray(vol.hu[int(e["k"])], np.float32)
        np.savez_compressed(out / f"{e['name']}.npz", hu=hu, spacing_mm=np.array([sp.slice or 1.0, sp.row, sp.col]))
        names.append(e["name"])
    return names


def staged_volume(refslices: Path, name: str) -> Any:
    """The one-slice volume of a staged reference slice (index 0)."""
    from sarco_core.volume import Volume

    z = np.load(refslices / f"{name}.npz")
    sp = tuple(float(v) for v in z["spacing_mm"])
    return Volume.from_array(hu=z["hu"][None].astype(np.float32), spacing_mm=(sp[0], sp[1], sp[2]))


def fetch_wheels(folder: Path, wheels: tuple[str, ...] = WHEELS) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    plats = [a for p in PLATFORMS for a in ("--platform", p)]
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version"]
    cmd += ["3.12", "--implementation", "cp", *plats, "-d", str(folder), *wheels]
    subprocess.run(cmd, check=True)
    return sorted(p.name for p in folder.glob("*.whl"))


def build_real_caches(cfg: Any, out: Path) -> dict[str, int]:
    """Only the real-slice caches (teacher pseudo-labels need the DICOM, which stays here) into ``out``: the
    phantom caches are too big to carry (800 train phantoms at 1.25 mm: 84 MB compressed) and need no data, so the
    device builds them (``tools.device_run``, in parallel). :func:`prepare` runs on a scratch cache folder with
    the phantom builder stubbed (empty sets, deleted with the scratch folder); the real keys do not depend on the
    cache folder, so the moved files are found where the staged config looks."""
    import dataclasses

    from sarco_core.train import data

    scratch = out.parent / (out.name + ".scratch")
    shutil.rmtree(scratch, ignore_errors=True)
    orig = data.build_phantoms
    data.build_phantoms = lambda *a, **k: data.SliceSet()  # type: ignore[assignment,misc]
    try:
        data.prepare(dataclasses.replace(cfg, cache_dir=str(scratch.resolve())))
    finally:
        data.build_phantoms = orig  # type: ignore[assignment]
    out.mkdir(parents=True, exist_ok=True)
    moved = {}
    for f in sorted(scratch.glob("real*.npz")):
        moved[f.name] = f.stat().st_size
        f.replace(out / f.name)
    shutil.rmtree(scratch)
    return moved


def stage(config: Path, out: Path, link: Path, wheels: Path | None) -> dict[str, Any]:
    from sarco_core.train.data import real_sources
    from tools.blinded_tool import export

    src_cfg = load_config(config)
    shared = src_cfg.resolve(src_cfg.shared_data)
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    t = time.time()
    for p in PASSES:
        export(p, out / "reference" / f"p{p}")
    times["references_s"] = round(time.time() - t, 1)
    point_link(link, shared)  # here: the real shared data (the device job points it at skeleton/)
    (out / "train.json").write_text(json.dumps(staged_config(src_cfg.raw, out, str(link)), indent=2) + "\n")
    cfg = load_config(out / "train.json")
    t = time.time()
    build_real_caches(cfg, out / "cache")
    times["real_caches_s"] = round(time.time() - t, 1)
    n_skel = write_skeleton(real_sources(cfg), link, out / "skeleton")
    t = time.time()
    refs = write_refslices(out / "reference" / f"p{PASSES[0]}" / "index.json", shared, out / "refslices")
    times["refslices_s"] = round(time.time() - t, 1)
    whl = fetch_wheels(wheels) if wheels else []
    parts = {"git_tree": git_tree_bytes(), str(out.resolve().relative_to(ROOT)): folder_bytes(out)}
    if wheels:
        parts[str(wheels.resolve().relative_to(ROOT))] = folder_bytes(wheels)
    caches = {p.name: p.stat().st_size for p in sorted((out / "cache").glob("*.npz"))}
    man = {
        "config": str(config),
        "link": str(link),
        "passes": list(PASSES),
        "refslices": refs,
        "skeleton_sources": n_skel,
        "caches_bytes": caches,
        "wheels": whl,
        "times": times,
        "carry": carry_check(parts),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    (out / "manifest.json").write_text(json.dumps(man, indent=1) + "\n")
    return man


def check(out: Path) -> dict[str, Any]:
    """Here, after staging: the skeleton globs the same sources as the data (same cache keys there) and the
    staged reference slices give the incumbent's labels exactly as the DICOM does."""
    from sarco_core.io import load
    from sarco_core.segment.model import Segmenter
    from sarco_core.train.data import real_sources

    cfg = load_config(out / "train.json")
    link = Path(cfg.shared_data)
    shared = link.resolve()
    here = [str(p) for p in real_sources(cfg)]
    point_link(link, out / "skeleton")
    there = [str(p) for p in real_sources(cfg)]  # what the device's globs see: the cache key's source list
    point_link(link, shared)
    seg = Segmenter.from_dir(ROOT / "models" / "sarco-unet-v1")
    rows = {}
    for e in json.loads((out / "reference" / f"p{PASSES[0]}" / "index.json").read_text())["slices"]:
        a = np.asarray(seg.segment(load(shared / e["ct"]), [int(e["k"])])[0].labels)
        b = np.asarray(seg.segment(staged_volume(out / "refslices", e["name"]), [0])[0].labels)
        rows[e["name"]] = float((a == b).mean()) if a.shape == b.shape else 0.0
    same = here == there
    return {"skeleton_sources_same": same, "equal_label_share": rows, "all_equal": same and min(rows.values()) == 1}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.device_stage", description=__doc__.split("\n")[0])
    ap.add_argument("config")
    ap.add_argument("--stage", required=True, help="git-ignored output folder, e.g. device_stage/v21")
    ap.add_argument("--link", default="/tmp/sarco-v21-shared", help="absolute path of the shared-data link")
    ap.add_argument("--wheels", default=None, help="folder for the wheels (e.g. device_stage/wheels)")
    ap.add_argument("--check", action="store_true", help="only compare staged and DICOM reference slices")
    a = ap.parse_args(argv)
    out = Path(a.stage)
    if a.check:
        rep = check(out)
    else:
        rep = stage(Path(a.config), out, Path(a.link), Path(a.wheels) if a.wheels else None)
    print(json.dumps(rep, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
