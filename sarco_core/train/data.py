"""Training data: phantom slices (exact labels) and real slices with teacher pseudo-labels, cached at the
model's pixel size in a git-ignored folder (``data_cache/``), never under ``totalsegmentator/``."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path

import numpy as np

from sarco_core.segment.model.prep import resample_labels, resample_slice
from sarco_core.train.coarse import coarse_copy, draw_coarse_mm
from sarco_core.train.config import TrainConfig, TrainConfigError
from sarco_core.train.phantoms import phantom_sample

log = logging.getLogger("sarco.train")
FORBIDDEN = "totalsegmentator"


@dataclass
class SliceSet:
    """Slices at the model pixel size: HU (float32 arrays of varying shape), labels (uint8 or None), names."""

    hu: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray | None] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    native_mm: list[float] = field(default_factory=list)  # native pixel size of each slice; 0.0 = not recorded

    def __len__(self) -> int:
        return len(self.hu)

    def add(
        self, hu: np.ndarray, labels: np.ndarray | None, name: str, confidence: float = 1.0, native_mm: float = 0.0
    ) -> None:
        self.hu.append(hu.astype(np.float32))
        self.labels.append(None if labels is None else labels.astype(np.uint8))
        self.names.append(name)
        self.confidence.append(float(confidence))
        self.native_mm.append(float(native_mm))

    def native(self, i: int, default_mm: float) -> float:
        """Native pixel size of slice ``i`` (``default_mm`` where a set built before it was recorded)."""
        v = self.native_mm[i]
        return v if v > 0 else default_mm

    def labelled(self) -> list[int]:
        return [i for i, lab in enumerate(self.labels) if lab is not None]

    def save(self, path: Path) -> None:
        arrs: dict[str, np.ndarray] = {}
        for i, (h, lab) in enumerate(zip(self.hu, self.labels, strict=True)):
            arrs[f"hu_{i}"] = np.round(h).astype(np.int16)
            if lab is not None:
                arrs[f"lab_{i}"] = lab
        arrs["names"] = np.array(self.names)
        arrs["confidence"] = np.array(self.confidence, dtype=np.float64)
        if any(v > 0 for v in self.native_mm):  # sets built without it stay byte-identical
            arrs["native_mm"] = np.array(self.native_mm, dtype=np.float64)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial.npz")
        np.savez_compressed(tmp, **arrs)  # type: ignore[arg-type]
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> SliceSet:
        z = np.load(path)
        s = cls()
        names = [str(n) for n in z["names"]]
        conf = z["confidence"]
        nat = z["native_mm"] if "native_mm" in z.files else np.zeros(len(names))
        for i, n in enumerate(names):
            lab = z[f"lab_{i}"] if f"lab_{i}" in z.files else None
            s.add(z[f"hu_{i}"].astype(np.float32), lab, n, float(conf[i]), float(nat[i]))
        return s


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------- phantom
# (native HU, native labels or None, row_mm, col_mm, name) -> (HU, labels or None) on the model grid
ToGrid = Callable[[np.ndarray, "np.ndarray | None", float, float, str], "tuple[np.ndarray, np.ndarray | None]"]


# (row_mm, col_mm, name) -> the native pixel size a slice is recorded with (the pixel-size input channel)
NativeOf = Callable[[float, float, str], float]


def native_plain(rmm: float, cmm: float, name: str) -> float:
    return float(np.sqrt(rmm * cmm))


def native_coarse(coarse_mm: tuple[float, float], seed: int) -> NativeOf:
    """The coarse pixel size a coarse copy was re-acquired at (:func:`to_coarse_grid`, same draw)."""

    def f(rmm: float, cmm: float, name: str) -> float:
        return max(native_plain(rmm, cmm, name), draw_coarse_mm(name, seed, coarse_mm))

    return f


def to_model_grid(pixel_mm: float) -> ToGrid:
    """Plain resampling to the model's pixel size (HU bilinear, labels by one-hot vote)."""

    def f(
        hu: np.ndarray, lab: np.ndarray | None, rmm: float, cmm: float, name: str
    ) -> tuple[np.ndarray, np.ndarray | None]:
        return resample_slice(hu, rmm, cmm, pixel_mm), None if lab is None else resample_labels(lab, rmm, cmm, pixel_mm)

    return f


def to_coarse_grid(pixel_mm: float, coarse_mm: tuple[float, float], seed: int) -> ToGrid:
    """Re-acquired at a coarse pixel size drawn per slice, labelled by the gated-area convention
    (:mod:`sarco_core.train.coarse`), then on the model grid."""

    def f(
        hu: np.ndarray, lab: np.ndarray | None, rmm: float, cmm: float, name: str
    ) -> tuple[np.ndarray, np.ndarray | None]:
        return coarse_copy(hu, lab, rmm, cmm, draw_coarse_mm(name, seed, coarse_mm), pixel_mm)

    return f


def build_phantoms(
    seeds: range,
    pixel_mm: float,
    *,
    hard_fraction: float = 0.0,
    levels: tuple[str, ...] = (),
    variant_fraction: float = 0.0,
    to_grid: ToGrid | None = None,
    native_of: NativeOf = native_plain,
) -> SliceSet:
    s = SliceSet()
    to_grid = to_grid or to_model_grid(pixel_mm)
    for seed in seeds:
        hu, lab, rmm, cmm = phantom_sample(
            seed, hard_fraction=hard_fraction, levels=levels, variant_fraction=variant_fraction
        )
        name = f"phantom:{seed}"
        s.add(*to_grid(hu, lab, rmm, cmm, name), name, native_mm=native_of(rmm, cmm, name))
    return s


def source_digest(*globs: str, root: Path | None = None) -> str:
    """sha256 (12 hex) over the source files of ``sarco_core`` (or ``root``) matching ``globs`` (names and
    contents): cache keys change when the teacher or the phantom code changes, so stale pseudo-labels are never
    reused."""
    root = root or Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    files = sorted({p for g in globs for p in root.glob(g)})
    if not files:
        raise TrainConfigError(f"no source files match {globs} under {root}: is sarco_core installed from source?")
    for p in files:
        h.update(str(p.relative_to(root)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


TEACHER_SOURCES = ("segment/teacher*.py", "metrics.py")
PHANTOM_SOURCES = ("phantom/*.py",)


# ---------------------------------------------------------------------------------------------- real
def real_sources(cfg: TrainConfig) -> list[Path]:
    """Files / series folders matched by ``data.real_globs`` (sorted), refusing the validation patient."""
    root = cfg.resolve(cfg.shared_data)
    out: list[Path] = []
    for g in cfg.data.real_globs:
        for p in sorted(glob(str(root / g))):
            if FORBIDDEN in p:
                raise TrainConfigError(f"{p} is under {FORBIDDEN}/ (the validation patient): never train on it.")
            if any(x in p for x in cfg.data.real_exclude):
                continue
            out.append(Path(p))
    return out


def build_real(
    cfg: TrainConfig,
    sources: list[Path],
    with_teacher: bool,
    to_grid: ToGrid | None = None,
    native_of: NativeOf = native_plain,
) -> SliceSet:
    """Load every slice with sarco_core.io.load; teacher pseudo-labels when asked."""
    from sarco_core.io.loader import load

    s = SliceSet()
    teacher = None
    if with_teacher:
        from sarco_core.segment import teacher as teacher_mod

        teacher = teacher_mod.segment_slice
    to_grid = to_grid or to_model_grid(cfg.arch.pixel_size_mm)
    for src in sources:
        vol = load(src)
        if not vol.is_hu:
            continue
        sp = vol.spacing_mm
        for k in range(vol.n_slices):
            hu = np.asarray(vol.hu[k], dtype=np.float32)
            name = f"{src.relative_to(cfg.resolve(cfg.shared_data))}#{k}"
            lab = None
            conf = 0.0
            if teacher is not None:
                t0 = time.time()
                lab, conf, _flags, _cues = teacher(hu, sp.row, sp.col)
                log.info("teacher %s conf %.2f (%.1f s)", name, conf, time.time() - t0)
            s.add(*to_grid(hu, lab, sp.row, sp.col, name), name, conf, native_of(sp.row, sp.col, name))
    return s


def load_references(folder: Path, pixel_mm: float) -> dict[str, np.ndarray]:
    """Reference muscle masks of real slices on the model grid, keyed like the real slices (``REL#k``):
    ``folder/index.json`` = {"slices": [{"name", "ct", "k", "mask", "row_mm", "col_mm"}, ...]} with 1-bit PNG masks
    (written by ``python -m tools.blinded_tool export``)."""
    from PIL import Image

    idx = folder / "index.json"
    if not idx.is_file():
        raise TrainConfigError(
            f"data.reference_dir {folder} has no index.json: export the references first "
            "(python -m tools.blinded_tool export --pass 1 --out DIR)."
        )
    out: dict[str, np.ndarray] = {}
    for e in json.loads(idx.read_text())["slices"]:
        with Image.open(folder / e["mask"]) as im:
            m = np.array(im.convert("1"), dtype=np.uint8)
        out[f"{e['ct']}#{int(e['k'])}"] = resample_labels(m, float(e["row_mm"]), float(e["col_mm"]), pixel_mm, 2) == 1
    return out


def with_reference_muscle(teacher: np.ndarray | None, muscle: np.ndarray) -> np.ndarray:
    """Teacher labels (SAT / VAT kept) with the muscle class taken from a reference mask: reference muscle is 1;
    teacher muscle the reference rejects becomes background. Without teacher labels: muscle vs background."""
    lab = np.zeros(muscle.shape, np.uint8) if teacher is None else teacher.copy()
    if lab.shape != muscle.shape:
        raise TrainConfigError(f"a reference mask on the model grid is {muscle.shape}, its slice {lab.shape}.")
    lab[(lab == 1) & ~muscle] = 0
    lab[muscle] = 1
    return lab


@dataclass
class Datasets:
    phantom_train: SliceSet
    phantom_val: SliceSet
    real_train: SliceSet  # pseudo-labels (None where unlabelled / below the teacher-confidence floor)
    real_val: SliceSet
    # sha256 (12 hex) of the code that built the cached sets (part of their cache keys): teacher, phantom
    sources: dict[str, str] = field(default_factory=dict)
    # coarse-pixel copies of the train sets (``data.coarse_fraction`` > 0; empty otherwise)
    phantom_coarse: SliceSet = field(default_factory=SliceSet)
    real_coarse: SliceSet = field(default_factory=SliceSet)


def prepare(cfg: TrainConfig) -> Datasets:
    """Build or load the cached slice sets for ``cfg``."""
    cache = cfg.resolve(cfg.cache_dir)
    px = cfg.arch.pixel_size_mm
    d = cfg.data

    def cached(name: str, key: str, build: object) -> SliceSet:
        path = cache / f"{name}-{key}.npz"
        if path.exists():
            return SliceSet.load(path)
        t0 = time.time()
        s = build()  # type: ignore[operator]
        s.save(path)
        log.info("built %s (%d slices) in %.0f s -> %s", name, len(s), time.time() - t0, path)
        return SliceSet.load(path)  # exactly what a later (resumed) run reads

    pt_key: list[object] = [d.phantom_train_seeds, px]
    if d.phantom_hard_fraction > 0 or d.phantom_levels:  # old configs keep their cache key
        pt_key += [d.phantom_hard_fraction, list(d.phantom_levels), source_digest(*PHANTOM_SOURCES)]
    if d.phantom_variant_fraction > 0:  # configs without variants keep their cache key
        pt_key += ["variants", d.phantom_variant_fraction, source_digest(*PHANTOM_SOURCES)]
    native_tag = ["native_mm"] if cfg.arch.pixel_channel else []  # sets that record the native pixel size
    pt = cached(
        "phantom",
        _key(*pt_key, *native_tag),
        lambda: build_phantoms(
            range(*d.phantom_train_seeds),
            px,
            hard_fraction=d.phantom_hard_fraction,
            levels=d.phantom_levels,
            variant_fraction=d.phantom_variant_fraction,
        ),
    )
    coarse = d.coarse_fraction > 0
    coarse_key = [list(d.coarse_mm), cfg.seed, source_digest("train/coarse.py"), *native_tag] if coarse else []
    to_coarse = to_coarse_grid(px, d.coarse_mm, cfg.seed)
    pc = SliceSet()
    if coarse:
        pc = cached(
            "phantom_coarse",
            _key(*pt_key, *coarse_key),
            lambda: build_phantoms(
                range(*d.phantom_train_seeds),
                px,
                hard_fraction=d.phantom_hard_fraction,
                levels=d.phantom_levels,
                variant_fraction=d.phantom_variant_fraction,
                to_grid=to_coarse,
                native_of=native_coarse(d.coarse_mm, cfg.seed),
            ),
        )
    pv = cached(
        "phantom", _key(d.phantom_val_seeds, px, *native_tag), lambda: build_phantoms(range(*d.phantom_val_seeds), px)
    )
    sources = {}
    if len(pt_key) > 2:
        sources["phantom_code_sha256"] = str(pt_key[-1])
    srcs = real_sources(cfg)
    with_teacher = d.pseudo_labels == "teacher"
    rt, rv, rc = SliceSet(), SliceSet(), SliceSet()

    def split(allr: SliceSet, train: SliceSet, val: SliceSet) -> None:
        """Held-out patients to ``val``; labels dropped for SSL-only slices and below the confidence floor;
        ``exclude_patients`` (a leave-one-patient-out fold's test patient) dropped entirely; reference masks
        (``reference_dir``) replace the teacher's muscle where a slice has one."""
        for i in range(len(allr)):
            if any(p in allr.names[i] for p in d.exclude_patients):
                continue
            is_val = any(v in allr.names[i] for v in d.real_val_patients)
            lab = allr.labels[i]
            if any(re.search(rx, allr.names[i]) for rx in d.unlabelled_regex):
                lab = None
            if lab is not None and allr.confidence[i] < d.min_teacher_confidence:
                lab = None
            if refs is not None and allr.names[i] in refs:
                lab = with_reference_muscle(lab, refs[allr.names[i]])
            (val if is_val else train).add(allr.hu[i], lab, allr.names[i], allr.confidence[i], allr.native_mm[i])

    refs = load_references(cfg.resolve(d.reference_dir), px) if d.reference_dir else None
    if srcs:
        key: list[object] = [[str(p) for p in srcs], px, d.pseudo_labels, *native_tag]
        if with_teacher:  # pseudo-labels are rebuilt whenever the teacher's code changes
            key.append(source_digest(*TEACHER_SOURCES))
            sources["teacher_code_sha256"] = str(key[-1])
        allr = cached("real", _key(*key), lambda: build_real(cfg, srcs, with_teacher))
        split(allr, rt, rv)
        if coarse:
            allc = cached(
                "real_coarse",
                _key(*key, *coarse_key),
                lambda: build_real(cfg, srcs, with_teacher, to_coarse, native_coarse(d.coarse_mm, cfg.seed)),
            )
            split(allc, rc, SliceSet())
    log.info(
        "data: phantom train %d, phantom val %d, real train %d (%d labelled), real val %d, coarse copies %d + %d",
        len(pt),
        len(pv),
        len(rt),
        len(rt.labelled()),
        len(rv),
        len(pc),
        len(rc),
    )
    return Datasets(pt, pv, rt, rv, sources, pc, rc)
