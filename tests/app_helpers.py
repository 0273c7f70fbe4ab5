"""Shared helpers of the app tests: a small phantom series as a DICOM zip, a seeded store, AppTest factory."""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from sarco_core.volume import Volume

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
TIMEOUT_S = 180


@dataclass(frozen=True)
class Phantom:
    volume: Volume
    zip_bytes: bytes
    l3_mid_index: int


@lru_cache(maxsize=1)
def phantom_series() -> Phantom:
    """A seeded phantom abdomen (T11-S1, 87 slices of 128², 3.2 mm pixels) written as a DICOM series zip."""
    from sarco_core.io.dicom_write import write_dicom_series
    from sarco_core.phantom.volume import phantom_volume

    pv = phantom_volume(seed=0, size=128, pixel_mm=3.2)
    with tempfile.TemporaryDirectory() as d:
        paths = write_dicom_series(pv.volume, Path(d) / "series", patient_sex="F")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for p in paths:
                zf.write(p, f"series/{p.name}")
    return Phantom(volume=pv.volume, zip_bytes=buf.getvalue(), l3_mid_index=pv.l3_mid_index)


def app(page: str | None = None, case_id: int | None = None) -> AppTest:
    """An AppTest of the whole app (router + sidebar), optionally on ``page`` with ``case_id`` open."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    if case_id is not None:
        at.session_state["case_id"] = case_id
    at.run()
    if page is not None:
        at.switch_page(page).run()
    return at


def seed_case(
    store: object,
    *,
    seed: int = 0,
    height_m: float | None = 1.70,
    weight_kg: float | None = 70.0,
    sex: str | None = "F",
    label: str | None = None,
) -> int:
    """Analyse a small phantom with the real pipeline and store it as a case; returns its id."""
    from sarco_core.analyze import analyze
    from sarco_core.phantom.volume import phantom_volume

    pv = phantom_volume(seed=seed, size=128, pixel_mm=3.2, slice_mm=6.0)
    res = analyze(pv.volume, height_m=height_m, weight_kg=weight_kg, sex=sex, slice_index=pv.l3_mid_index)
    rec = store.create_case(  # type: ignore[attr-defined]
        pv.volume,
        analysis=res,
        labels=res.labels,
        slice_index=res.l3.index,
        actor="seed",
        label=label or f"phantom-{seed}",
    )
    return int(rec.id)


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return str(m.value)
    raise KeyError(f"no metric {label!r}; have {[m.label for m in at.metric]}")


def cm2(text: str) -> float:
    return float(text.split()[0])


def gated_count(hu: np.ndarray, pixels: np.ndarray, lo: float = -29, hi: float = 150) -> int:
    return int((pixels & (hu >= lo) & (hu <= hi)).sum())
