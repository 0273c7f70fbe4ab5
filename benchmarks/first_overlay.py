"""First overlay after the app starts, measured in a real browser (Playwright + Debian's Chromium).

``python -m benchmarks.first_overlay [--slices 120] [--no-preload-too]``: starts ``streamlit run app.py`` on a
free localhost port with an empty temporary database, waits until the sidebar says the model is ready, then
uploads (1) a zip of one real upper-lumbar CT slice (TCIA COVID-19-NY-SBU A058062) and (2) a zipped 120-slice
512² DICOM series (the benchmark's series, ``benchmarks.inputs``), and times each from the click on
**Analyse** to the result card's overlay. With ``--no-preload-too`` it repeats the single slice on a fresh
server started with ``SARCO_PRELOAD_MODEL=0`` (the model then loads on the first analysis), which gives the
ratio of the fix. Prints one figure per line; targets: ≤ 3 s (single slice), ≤ 5 s (120-slice zip).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, machine

SLICE_DIR = REPO.parent / "shared" / "data" / "tcia_covid19_ny_sbu" / "A058062" / "axial"
TARGETS_S = {"single slice": 3.0, "120-slice zip": 5.0}


def _first_overlay(page, url: str, path: Path, *, wait_model: bool) -> float:  # type: ignore[no-untyped-def]
    page.goto(url)
    page.get_by_role("heading", name="Upload & analyse").wait_for()
    if wait_model:
        page.get_by_text("Model ready").wait_for(timeout=300_000)
    page.locator('input[type="file"]').first.set_input_files(str(path))
    page.get_by_text("Scan read:").wait_for(timeout=300_000)
    page.wait_for_timeout(500)
    t0 = time.perf_counter()
    page.get_by_role("button", name="Analyse").click()
    page.get_by_text("Classification —").first.wait_for(timeout=300_000)
    page.locator('[data-testid="stImage"] img').first.wait_for()
    return time.perf_counter() - t0


def run(slices: int, no_preload_too: bool) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    from benchmarks.inputs import dicom_zip
    from tests.e2e.server import launch, running_app, zip_first_slice

    tmp = Path(tempfile.mkdtemp())
    one = zip_first_slice(SLICE_DIR, tmp / "one_slice.zip")
    big, what = dicom_zip(slices, "explicit-le")
    out: dict[str, float] = {}
    with running_app(f"sqlite:///{tmp / 'a.db'}", tmp / "a.log") as url, sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(120_000)
        t0 = time.perf_counter()
        page.goto(url)
        page.get_by_text("Model ready").wait_for(timeout=300_000)
        out["model ready after the first page load (s)"] = time.perf_counter() - t0
        out["single slice"] = _first_overlay(page, url, one, wait_model=True)
        out[f"{slices}-slice zip"] = _first_overlay(page, url, big, wait_model=True)
        out["single slice, second time"] = _first_overlay(page, url, one, wait_model=True)
        browser.close()
    if no_preload_too:
        os.environ["SARCO_PRELOAD_MODEL"] = "0"
        try:
            with running_app(f"sqlite:///{tmp / 'b.db'}", tmp / "b.log") as url, sync_playwright() as pw:
                browser = launch(pw)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(300_000)
                out["single slice, model NOT preloaded"] = _first_overlay(page, url, one, wait_model=False)
                browser.close()
        finally:
            os.environ.pop("SARCO_PRELOAD_MODEL", None)
    print(f"# first overlay after start ({what})")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--slices", type=int, default=120)
    ap.add_argument("--no-preload-too", action="store_true")
    a = ap.parse_args(argv)
    m = machine()
    print(f"# {m.get('date_utc')} · {m.get('cpu')} · {m.get('cores')} cores · load {m.get('load_start')}")
    res = run(a.slices, a.no_preload_too)
    for k, v in res.items():
        tgt = TARGETS_S.get(k.replace(f"{a.slices}-slice", "120-slice"))
        verdict = "" if tgt is None else (f" (target ≤ {tgt:g} s: {'met' if v <= tgt else 'NOT met'})")
        print(f"{k}: {v:.2f} s{verdict}")
    base, fixed = res.get("single slice, model NOT preloaded"), res.get("single slice")
    if base and fixed:
        print(f"ratio not preloaded / preloaded (single slice): {base / fixed:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
