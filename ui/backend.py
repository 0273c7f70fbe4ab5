"""The app's one doorway into ``sarco_core``: cached store, volumes and segmenter, plus thin wrappers.

Caching: the store and the segmenter are process-wide (``st.cache_resource``: the model loads once per
process); a case's volume is cached by (database URL, case id, image checksum) so browsing never re-reads
the database; uploads are loaded once per file set (keyed by their SHA-256).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from sarco_core import settings
from sarco_core.volume import Volume

if TYPE_CHECKING:
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from sarco_core.analyze import AnalysisResult
    from sarco_core.patient import Patient
    from sarco_core.segment.base import SliceSegmenter
    from sarco_core.store import Store
    from sarco_core.store.records import MaskVersionRecord

log = logging.getLogger("sarco.app")


# ---------------------------------------------------------------- store
def db_url() -> str:
    from sarco_core.store import default_db_url

    return default_db_url()


def db_url_display() -> str:
    from sarco_core.store.db import redact_url

    return redact_url(db_url())


@st.cache_resource(show_spinner=False)
def _store(url: str) -> Store:
    from sarco_core.store import Store

    return Store.open(url)


def _redact(url: str) -> str:
    from sarco_core.store.db import redact_url

    return redact_url(url)


def store() -> Store:
    """The process-wide :class:`sarco_core.store.Store` for ``$SARCO_DB_URL`` (opened and migrated once)."""
    return _store(db_url())


# ---------------------------------------------------------------- segmenter
_SEG_LOCK = threading.Lock()
_WARMED: set[tuple[str | None, str | None]] = set()  # segmenter keys loaded and warmed in this process


@dataclass
class _Preload:
    """State of the background model load (module-private: set by the loading thread, read by the sidebar)."""

    thread: threading.Thread | None = None
    error: str | None = None
    seconds: float | None = None
    name: str | None = None


_PRELOAD = _Preload()


def _warm(seg: SliceSegmenter) -> None:
    """One full analysis (L3 search, segmentation, measurement, classification) of a tiny seeded phantom, so
    the first real analysis pays neither the model's nor the pipeline's first-call set-up."""
    from sarco_core.analyze import analyze
    from sarco_core.phantom.volume import phantom_volume

    pv = phantom_volume(seed=0, size=64, pixel_mm=6.0)
    analyze(pv.volume, height_m=1.7, weight_kg=70.0, sex="F", segmenter=seg)


def segmenter(method: str | None = None) -> SliceSegmenter:
    """The process-wide segmenter of ``method`` (the core's shared cache, keyed by the registry's active model
    folder, so a promotion or rollback made with `sarco models` is picked up without restarting the app), warmed
    up once per model; a caller during the preload waits for it."""
    from sarco_core.segment.registry import cached_segmenter, segmenter_key

    key = segmenter_key(method)
    with _SEG_LOCK:
        if key in _WARMED:
            return cached_segmenter(method)
        t0 = time.perf_counter()
        seg = cached_segmenter(method)
        try:
            _warm(seg)
        except Exception as exc:  # the warm-up is an optimisation only
            log.warning("segmenter warm-up failed: %s", exc)
        _WARMED.add(key)
        if method is None:
            _PRELOAD.seconds = time.perf_counter() - t0
            _PRELOAD.name = f"{seg.method} {getattr(seg.model, 'name', '') or ''}".strip()
        log.info("segmenter: %s loaded in %.1f s", key, time.perf_counter() - t0)
    return seg


def _default_loaded() -> bool:
    return any(k[0] is None for k in _WARMED)


def _preload_body() -> None:
    try:
        segmenter(None)
    except Exception as exc:  # shown in the status line; the analysis itself reports it as a clear error
        _PRELOAD.error = str(exc)


def preload_segmenter() -> None:
    """Start loading the model in a background thread (once per server process) when the app starts.

    ``SARCO_PRELOAD_MODEL=0`` turns this off (the model then loads on the first analysis; used by the
    first-overlay benchmark to measure the difference)."""
    if not settings.preload_model():
        return
    with _SEG_LOCK:
        if _PRELOAD.thread is not None or _default_loaded():
            return
        t = threading.Thread(target=_preload_body, name="sarco-model-preload", daemon=True)
        _PRELOAD.thread = t
    t.start()


def model_ready() -> bool:
    return _default_loaded() or bool(_PRELOAD.error)


def model_status() -> str:
    """One line for the sidebar: loading / ready (with load time) / failed."""
    if _PRELOAD.error:
        return f"Model: failed to load ({_PRELOAD.error})"
    if _default_loaded():
        secs = _PRELOAD.seconds
        return f"Model ready: {_PRELOAD.name}" + (f" (loaded in {secs:.1f} s)" if secs is not None else "")
    return "Model loading in the background… (the first analysis waits for it)"


# ---------------------------------------------------------------- volumes
def files_key(files: Sequence[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, data in sorted(files, key=lambda f: f[0]):
        h.update(name.encode())
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()


@st.cache_resource(show_spinner=False, max_entries=4)
def _load_upload(key: str, _files: Callable[[], Sequence[tuple[str, bytes]]]) -> Volume:
    from sarco_core.io import load

    files = list(_files())
    if len(files) == 1:
        name, data = files[0]
        return load([(name, data)])
    return load(files)


def load_upload(
    files: Sequence[tuple[str, bytes]] | Callable[[], Sequence[tuple[str, bytes]]], key: str | None = None
) -> Volume:
    """Load an upload (list of (name, bytes)); raises :class:`~sarco_core.errors.SarcoError` on bad input.

    ``key`` identifies the upload (e.g. the uploader's file ids) so large uploads are not re-hashed on every
    rerun; by default it is the SHA-256 of names and contents."""
    if callable(files):
        getter = files
    else:
        pairs = list(files)

        def getter() -> Sequence[tuple[str, bytes]]:
            return pairs

    return _load_upload(key or files_key(getter()), getter)


def upload_key(uploaded: Sequence[UploadedFile]) -> str:
    """A cheap identity of the uploader's current files (ids and sizes; no hashing of the bytes)."""
    return "upload:" + "|".join(f"{getattr(f, 'file_id', '')}:{f.name}:{getattr(f, 'size', 0)}" for f in uploaded)


@st.cache_resource(show_spinner="Opening the case…", max_entries=8)
def _case_volume(url: str, case_id: int, image_sha256: str) -> Volume:
    return _store(url).load_volume(case_id)


def case_volume(case_id: int) -> Volume:
    rec = store().get_case(case_id)
    return _case_volume(db_url(), int(case_id), rec.image_sha256)


# ---------------------------------------------------------------- analysis
ProgressFn = Callable[[str, float], None]


def run_analysis(
    volume: Volume,
    *,
    height_m: float | None,
    weight_kg: float | None,
    sex: str | None,
    rule: str | None,
    slice_index: int | None = None,
    progress: ProgressFn | None = None,
    patient: Patient | None = None,
) -> AnalysisResult:
    """Run L3 → segment → measure → classify with the cached segmenter; returns the AnalysisResult.
    ``patient``: a :class:`sarco_core.patient.Patient` resolved before (then height/weight/sex must be None)."""
    from sarco_core.analyze import analyze

    def _cb(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(str(stage), float(fraction))

    return analyze(
        volume,
        height_m=height_m,
        weight_kg=weight_kg,
        sex=sex,
        rule=rule,
        slice_index=slice_index,
        segmenter=segmenter(None),
        progress=_cb,
        patient=patient,
    )


def stamp_input(result: AnalysisResult, files: Sequence[tuple[str, bytes]]) -> AnalysisResult:
    """The result with the checksum of the uploaded bytes (the analysis ran on the already loaded volume); results
    are immutable, so this returns a new one. The file names are never recorded: they often carry the patient's
    name or ID."""
    from dataclasses import replace

    from sarco_core.analyze import input_sha256

    return replace(result, input=replace(result.input, sha256=input_sha256(list(files)), name=None))


def duplicate_cases(volume: Volume, files: Sequence[tuple[str, bytes]]) -> list[int]:
    """Live cases holding the same upload (same input checksum) or the same DICOM series (Series Instance UID
    and number of images): the app then says "already case N"."""
    from sarco_core.analyze import input_sha256

    s = store()
    sha = input_sha256(list(files))
    series = volume.meta.series_uid
    n_sop = len(volume.meta.sop_uids)
    out = []
    for c in s.list_cases(include_deleted=False):
        rec = s.get_case(c.id)
        if rec.input_sha256 == sha or (series and rec.series_uid == series and rec.n_sop_uids == n_sop):
            out.append(int(c.id))
    return out


def labels_2d(result: AnalysisResult) -> np.ndarray:
    """The measured slice's label map from an AnalysisResult."""
    v = result.labels if result.labels is not None else result.segmentation.labels
    return np.asarray(v, dtype=np.uint8)


def create_case(volume: Volume, result: AnalysisResult, *, label: str, actor: str) -> int:
    """Store the volume, its analysis and version 1 (automatic mask); returns the case id.

    The label is made unique by a numeric suffix when a case of that name exists."""
    from sarco_core.errors import StoreError

    s = store()
    idx = int(result.l3.index)
    taken = {c.label for c in s.list_cases(include_deleted=False)}
    code, n = label, 2
    while code in taken:
        code = f"{label} ({n})"
        n += 1
    for _ in range(3):
        try:
            rec = s.create_case(
                volume,
                analysis=result,
                labels=labels_2d(result),
                slice_index=idx,
                actor=actor,
                label=code,
                l3_auto_index=result.l3.auto_index,
                input_sha256=result.input.sha256,
            )
            return int(rec.id)
        except StoreError as exc:
            if "already exists" not in str(exc):
                raise
            code = f"{label} ({n})"
            n += 1
    raise StoreError(f"Could not find a free case label for {label!r}; type another label and analyse again.")


def reanalyse_at(case_id: int, slice_index: int, *, actor: str, parent_version_id: int | None) -> MaskVersionRecord:
    """Re-segment and re-measure ``case_id`` at ``slice_index`` (L3 override) and record it as a new
    analysis with its automatic mask (a new version). Returns the new version record. The case's patient values
    keep the sources recorded by the previous analysis (a header height stays "dicom")."""
    from sarco_core.patient import Patient

    s = store()
    case = s.get_case(case_id)
    vol = case_volume(case_id)
    prev = case.latest_analysis
    rule = prev.rule if prev is not None else None
    auto_idx = (
        prev.l3_auto_index
        if prev is not None and prev.l3_auto_index is not None
        else (prev.slice_index if prev is not None else None)
    )
    prev_sources = (prev.result.get("sources") if prev is not None else None) or {}
    who = Patient.known(
        height_m=case.height_m,
        weight_kg=case.weight_kg,
        sex=case.sex,
        sources=prev_sources if isinstance(prev_sources, dict) else {},
    )
    result = run_analysis(
        vol,
        height_m=None,
        weight_kg=None,
        sex=None,
        rule=rule,
        slice_index=int(slice_index),
        patient=who,
    )
    return s.add_analysis(
        case_id,
        result,
        labels_2d(result),
        int(slice_index),
        actor,
        l3_auto_index=auto_idx,
        parent_version_id=parent_version_id,
        comment=f"L3 set by hand to slice {slice_index} (automatic choice: {auto_idx})",
    )


@st.cache_resource(show_spinner=False)
def _announced(url: str) -> bool:
    msg = f"sarco: case database at {_redact(url)}"
    log.info(msg)
    print(msg, flush=True)
    return True


def announce_db() -> None:
    """Print the database URL once per process (server log) — the sidebar footer shows it too."""
    _announced(db_url())
