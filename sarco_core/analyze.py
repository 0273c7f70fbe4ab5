"""The whole pipeline for one scan: load → L3 → segment → measure → classify (the ``sarco analyze`` object).

``analyze`` keeps the volume and the measured slice's labels on the result (not in JSON) so a viewer can show
the overlay, and ``reanalyze`` re-runs from the L3 step on another slice ("use this slice as L3") without
reloading. No global state besides a small cache of segmenters by method name.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sarco_core import __version__, cutoffs
from sarco_core.enums import QCFlag, ValueSource
from sarco_core.image_qc import image_flags
from sarco_core.l3 import L3Result, find_l3
from sarco_core.l3.find import override
from sarco_core.metrics import DEFAULT_GATES, HUGates, MaskKind, SliceMetrics, measure_slice
from sarco_core.patient import Patient
from sarco_core.segment.base import SegmentationResult, SliceSegmenter
from sarco_core.segment.registry import cached_segmenter
from sarco_core.volume import Volume

Progress = Callable[[str, float], None]
L3_LOW_CONFIDENCE = 0.6


@dataclass(frozen=True)
class InputInfo:
    kind: str
    n_slices: int
    sha256: str
    name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n_slices": self.n_slices, "sha256": self.sha256, "name": self.name}


SCHEMA_VERSION = 2  # of AnalysisResult.to_dict(); 1 = the same JSON without "schema_version" (read unchanged)


@dataclass(frozen=True)
class AnalysisResult:
    """Everything ``sarco analyze`` reports, plus the volume and the labels of the measured slice (immutable:
    :func:`reanalyze` and :func:`dataclasses.replace` give new results)."""

    input: InputInfo
    l3: L3Result
    segmentation: SegmentationResult
    metrics: SliceMetrics
    height_m: float | None
    weight_kg: float | None
    sex: str | None
    sources: dict[str, str]
    rule: str
    classification: cutoffs.Classification
    confidence: float
    qc_flags: list[str]
    timings_s: dict[str, float]
    gates: HUGates = DEFAULT_GATES
    volume: Volume | None = field(default=None, repr=False)
    labels: np.ndarray | None = field(default=None, repr=False)  # labels of slice l3.index (rows × cols)

    @property
    def smi_cm2_m2(self) -> float | None:
        return cutoffs.smi_cm2_m2(self.metrics.sma_cm2, self.height_m)

    def to_dict(self) -> dict[str, Any]:
        """The ``sarco analyze --json`` object."""
        seg = self.segmentation
        _, rule = cutoffs.get_rule(self.rule)
        r = lambda v: None if v is None else round(float(v), 3)  # noqa: E731
        return {
            "input": self.input.to_dict(),
            "l3": self.l3.to_record(),
            "segmentation": {
                "method": seg.method,
                "model": seg.model.to_dict() if seg.model else None,
                "confidence": r(seg.confidence),
                "qc_flags": list(seg.qc_flags),
            },
            "sma_cm2": r(self.metrics.sma_cm2),
            "smi_cm2_m2": r(self.smi_cm2_m2),
            "muscle_hu_mean": r(self.metrics.muscle_hu_mean),
            "imat_cm2": r(self.metrics.imat_cm2),
            "sat_cm2": r(self.metrics.sat_cm2),
            "vat_cm2": r(self.metrics.vat_cm2),
            "height_m": self.height_m,
            "weight_kg": self.weight_kg,
            "sex": self.sex,
            "sources": dict(self.sources),
            "classification": self.classification.to_dict(),
            "confidence": r(self.confidence),
            "qc_flags": list(self.qc_flags),
            "provenance": {
                "software_version": __version__,
                "hu_gates": self.gates.to_dict(),
                "cutoff_rule": {"key": self.rule, "name": rule.name, "citation": rule.citation},
            },
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
            "schema_version": SCHEMA_VERSION,
        }


# ---------------------------------------------------------------------------------------------- input
def _sha_paths(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    files: list[Path] = []
    for p in paths:
        files.extend(sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p])
    for f in sorted(files):
        h.update(f.name.encode() + b"\0")
        with f.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def input_sha256(source: Any, volume: Volume | None = None) -> str:
    """SHA-256 of the input bytes (files: names + contents in name order); of the HU array for a Volume."""
    if isinstance(source, Volume):
        h = hashlib.sha256(str(source.hu.shape).encode())
        h.update(np.ascontiguousarray(source.hu).tobytes())
        return h.hexdigest()
    if isinstance(source, bytes):
        return hashlib.sha256(source).hexdigest()
    if isinstance(source, str | Path):
        return _sha_paths([Path(source)])
    items = list(source)
    if items and all(isinstance(i, tuple) for i in items):
        h = hashlib.sha256()
        for name, data in sorted(items):
            h.update(str(name).encode() + b"\0" + bytes(data))
        return h.hexdigest()
    return _sha_paths([Path(i) for i in items])


def _load(source: Any) -> tuple[Volume, InputInfo]:
    from sarco_core.io.loader import load

    vol = source if isinstance(source, Volume) else load(source)
    # the input's file name is never recorded: names often carry the patient's name or ID (issue 17)
    return vol, InputInfo(vol.meta.kind, vol.n_slices, input_sha256(source, vol), None)


# ---------------------------------------------------------------------------------------------- pipeline
def _measure_and_classify(
    volume: Volume,
    info: InputInfo,
    l3: L3Result,
    *,
    patient: Patient,
    rule: str | None,
    method: str | None,
    segmenter: SliceSegmenter | None,
    progress: Progress,
    timings: dict[str, float],
    gates: HUGates = DEFAULT_GATES,
) -> AnalysisResult:
    rule_key, _ = cutoffs.get_rule(rule)
    h, w, s, sources, notes = patient.height_m, patient.weight_kg, patient.sex, dict(patient.sources), patient.notes
    progress("segment", 0.5)
    t = time.perf_counter()
    # the shared cache is keyed by the active model's folder: a promotion or rollback takes effect at once
    seg_impl = segmenter if segmenter is not None else cached_segmenter(method)
    seg = seg_impl.segment(volume, [l3.index])[0]
    timings["segment"] = time.perf_counter() - t
    progress("measure", 0.8)
    t = time.perf_counter()
    labels = np.asarray(seg.labels)
    sp = volume.spacing_mm
    kind: MaskKind = "labels" if int(labels.max(initial=0)) > 1 else "binary"
    metrics = measure_slice(
        volume.hu[l3.index],
        labels,
        row_mm=sp.row,
        col_mm=sp.col,
        kind=kind,
        gates=gates,
        index=l3.index,
        z_mm=float(volume.z_mm[l3.index]),
    )
    timings["measure"] = time.perf_counter() - t
    t = time.perf_counter()
    cls = cutoffs.assess(
        sma_cm2=metrics.sma_cm2 if metrics.muscle_pixels else None,
        muscle_hu=metrics.muscle_hu_mean,
        sex=s,
        height_m=h,
        weight_kg=w,
        rule=rule_key,
    ).classification
    timings["classify"] = time.perf_counter() - t
    flags: list[str] = []
    single = volume.n_slices == 1  # nothing to compare a single slice with: no "check on the Browse page"
    if l3.confidence < L3_LOW_CONFIDENCE and not single:
        flags.append(QCFlag.L3_LOW_CONFIDENCE)
    if l3.method == "user-selected" and l3.looks_lumbar is False:
        flags.append(QCFlag.L3_USER_SELECTED_NOT_LUMBAR)
    if single and l3.looks_lumbar is None:
        flags.append(QCFlag.L3_LEVEL_NOT_CHECKED)
    if l3.levels_disagree:
        flags.append(QCFlag.L3_LEVELS_DISAGREE)
    flags += image_flags(volume, l3.index)
    flags += [f for f in seg.qc_flags if f not in flags]
    if notes:
        l3 = replace(l3, warnings=[*l3.warnings, *notes])
    progress("done", 1.0)
    return AnalysisResult(
        input=info,
        l3=l3,
        segmentation=seg,
        metrics=metrics,
        height_m=h,
        weight_kg=w,
        sex=s,
        sources=sources,
        rule=rule_key,
        classification=cls,
        confidence=float(min(l3.confidence, seg.confidence)),
        qc_flags=flags,
        timings_s=timings,
        gates=gates,
        volume=volume,
        labels=labels,
    )


def analyze(
    source: Volume | str | Path | bytes | Sequence[Any],
    *,
    height_m: float | None = None,
    weight_kg: float | None = None,
    sex: str | None = None,
    rule: str | None = None,
    slice_index: int | None = None,
    method: str | None = None,
    segmenter: SliceSegmenter | None = None,
    progress: Progress | None = None,
    patient: Patient | None = None,
) -> AnalysisResult:
    """Load → L3 (or ``slice_index``) → segment → measure → classify one scan.

    Patient values given as arguments win over the DICOM header (``sources`` says which was used). Invalid
    arguments (e.g. a height in centimetres) raise :class:`~sarco_core.errors.PatientDataError` before any work.
    ``patient`` (values resolved before, :meth:`Patient.known`) replaces the three patient arguments.
    """
    if patient is not None and (height_m, weight_kg, sex) != (None, None, None):
        raise ValueError("Pass either patient= or height_m/weight_kg/sex, not both.")
    prog: Progress = progress or (lambda stage, frac: None)
    cutoffs.validate_height_m(height_m)
    cutoffs.validate_weight_kg(weight_kg)
    cutoffs.normalise_sex(sex)
    cutoffs.get_rule(rule)
    timings: dict[str, float] = {}
    prog("load", 0.0)
    t = time.perf_counter()
    volume, info = _load(source)
    volume.require_hu("Body-composition analysis")
    timings["load"] = time.perf_counter() - t
    prog("l3", 0.2)
    t = time.perf_counter()
    l3 = find_l3(volume, override_index=slice_index)
    timings["l3"] = time.perf_counter() - t
    who = patient or Patient.resolve(volume, height_m=height_m, weight_kg=weight_kg, sex=sex)
    return _measure_and_classify(
        volume,
        info,
        l3,
        patient=who,
        rule=rule,
        method=method,
        segmenter=segmenter,
        progress=prog,
        timings=timings,
    )


def reanalyze(
    result: AnalysisResult,
    *,
    slice_index: int | None = None,
    height_m: float | None = None,
    weight_kg: float | None = None,
    sex: str | None = None,
    rule: str | None = None,
    method: str | None = None,
    segmenter: SliceSegmenter | None = None,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Re-run from the L3 step on the kept volume: ``slice_index`` = "use this slice as L3" (None: keep the
    slice). The automatic L3 result is kept (not recomputed). Patient values default to the previous ones."""
    if result.volume is None:
        raise ValueError("This result holds no volume; call analyze() again.")
    vol = result.volume
    timings: dict[str, float] = {"load": 0.0}
    t = time.perf_counter()
    l3 = result.l3 if slice_index is None else override(vol, result.l3, int(slice_index))
    timings["l3"] = time.perf_counter() - t
    keep = {k: v == ValueSource.ARGUMENT for k, v in result.sources.items()}
    who = Patient.resolve(
        vol,
        height_m=height_m if height_m is not None else (result.height_m if keep["height"] else None),
        weight_kg=weight_kg if weight_kg is not None else (result.weight_kg if keep["weight"] else None),
        sex=sex if sex is not None else (result.sex if keep["sex"] else None),
    )
    return _measure_and_classify(
        vol,
        result.input,
        l3,
        patient=who,
        rule=rule or result.rule,
        method=method or result.segmentation.method,
        segmenter=segmenter,
        progress=progress or (lambda stage, frac: None),
        timings=timings,
        gates=result.gates,
    )
