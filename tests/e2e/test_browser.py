"""Real-browser end-to-end test (Playwright + Debian's Chromium at /usr/bin/chromium).

Starts ``streamlit run app.py`` on a free port with a temporary SQLite database, uploads a zip of a real
DICOM slice (TCIA COVID-19-NY-SBU, upper lumbar level), waits for the overlay, draws a stroke with the
mouse on the canvas, saves, and checks the new version and the changed SMA in the history and on the
dashboard. Screenshots go to ``test-artifacts/e2e/`` (git-ignored). Skipped when Chromium is absent,
except under CI=true, where that is a failure.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import data_path
from tests.e2e.server import ARTIFACTS, browser_page, need_chromium, running_app, zip_first_slice

pytestmark = pytest.mark.e2e

SLICE = ("tcia_covid19_ny_sbu", "A058062", "axial")


def _metric_value(page, label: str) -> str:  # type: ignore[no-untyped-def]
    m = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return m.locator('[data-testid="stMetricValue"]').inner_text().strip()


def _cm2(text: str) -> float:
    return float(re.sub(r"[^0-9.\-]", "", text.split()[0]))


def test_upload_edit_save_dashboard(tmp_path: Path) -> None:
    need_chromium()
    from playwright.sync_api import expect, sync_playwright

    upload = zip_first_slice(data_path(*SLICE), tmp_path / "lumbar_slice.zip")
    shots = ARTIFACTS / "e2e"
    shots.mkdir(parents=True, exist_ok=True)
    db = f"sqlite:///{tmp_path / 'e2e.db'}"
    with running_app(db, shots / "server.log") as url, sync_playwright() as pw:
        with browser_page(pw, shots / "failure.png") as page:
            page.goto(url)
            page.get_by_role("heading", name="Upload & analyse").wait_for()
            page.locator('input[type="file"]').first.set_input_files(str(upload))
            page.get_by_text("Scan read:").wait_for(timeout=120_000)
            height = page.get_by_role("spinbutton", name="Height (m)")
            height.fill("1.70")
            height.press("Enter")
            page.get_by_role("button", name="Analyse").click()
            page.get_by_text("Classification — Martin 2013").wait_for(timeout=180_000)
            overlay = page.locator('[data-testid="stImage"] img').first
            expect(overlay).to_be_visible()
            auto_sma = _cm2(_metric_value(page, "SMA (cm²)"))
            assert auto_sma > 0
            page.screenshot(path=str(shots / "1_result.png"), full_page=True)

            # ---- edit: one stroke with the mouse on the canvas
            page.get_by_role("link", name="Edit mask").click()
            page.get_by_role("heading", name="Edit the mask").wait_for()
            page.wait_for_selector("canvas.upper-canvas, iframe", timeout=60_000)
            canvas = page.locator("canvas.upper-canvas").first
            if canvas.count() == 0:  # component builds before v2 render inside an iframe
                canvas = page.frame_locator("iframe").first.locator("canvas.upper-canvas").first
            canvas.wait_for()
            box = canvas.bounding_box()
            assert box is not None
            before = _cm2(_metric_value(page, "SMA now (cm²)"))
            # paint across the abdomen (mixed soft tissue) so HU-gated pixels are added
            x0, y0 = box["x"] + box["width"] * 0.40, box["y"] + box["height"] * 0.45
            page.mouse.move(x0, y0)
            page.mouse.down()
            for i in range(1, 25):
                page.mouse.move(x0 + i * 5, y0 + i * 2, steps=2)
            page.mouse.up()
            expect(page.locator('[data-testid="stMetric"]').filter(has_text="Strokes this session")).to_contain_text(
                "1", timeout=60_000
            )
            after = _cm2(_metric_value(page, "SMA now (cm²)"))
            assert after != before, "the stroke did not change SMA"
            page.screenshot(path=str(shots / "2_edit_stroke.png"), full_page=True)

            page.get_by_role("textbox", name="Comment").fill("e2e stroke")
            page.get_by_role("button", name="Save version").click()
            page.get_by_text("Saved version 2").wait_for()
            history = page.locator('[data-testid="stTable"]').first
            expect(history).to_contain_text("e2e stroke")
            expect(history).to_contain_text(f"{after:.2f}")
            expect(history).to_contain_text(f"{after - before:+.2f}".lstrip("+"))
            page.screenshot(path=str(shots / "3_saved_history.png"), full_page=True)

            # ---- dashboard shows the edited case
            page.get_by_role("link", name="Dashboard").click()
            page.get_by_role("heading", name="Cohort dashboard").wait_for()
            expect(page.locator('[data-testid="stMetric"]').filter(has_text="Edit rate")).to_contain_text("100 %")
            expect(page.get_by_text("1 edited case(s): bias")).to_contain_text(f"{after - before:+.2f} cm²")
            page.locator(".js-plotly-plot").first.wait_for()
            page.wait_for_timeout(1500)  # let the remaining charts draw
            page.screenshot(path=str(shots / "4_dashboard.png"), full_page=True)
