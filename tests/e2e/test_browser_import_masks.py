"""Browser check of the "Import expert mask" page: a real DICOM slice and its reviewed mask as a Slice-O-Matic
TAG, uploaded in Chromium, are shown overlaid with the measured SMA."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sarco_core.io import load
from sarco_core.masks import mask_to_tag
from sarco_core.metrics import measure_slice
from tests.conftest import data_path
from tests.e2e.server import ARTIFACTS, browser_page, need_chromium, running_app
from validation.reviewed import load_reviewed

pytestmark = pytest.mark.e2e


def test_tag_import_page_in_the_browser(tmp_path: Path) -> None:
    need_chromium()
    from playwright.sync_api import expect, sync_playwright

    ct_path, k, mask = load_reviewed("pancreas_0001_slice122", data_path())
    ct = load(ct_path)
    labels = mask.astype(np.uint8)
    tag = tmp_path / f"{ct_path.name}.tag"
    tag.write_bytes(mask_to_tag(ct, labels, k))
    sma = measure_slice(ct.hu[k], labels, row_mm=ct.spacing_mm.row, col_mm=ct.spacing_mm.col).sma_cm2
    shots = ARTIFACTS / "e2e"
    shots.mkdir(parents=True, exist_ok=True)
    with running_app(f"sqlite:///{tmp_path / 'e2e.db'}", shots / "server_import.log") as url, sync_playwright() as pw:
        with browser_page(pw, shots / "import_mask_failed.png") as page:
            page.goto(url)
            page.get_by_role("link", name="Import expert mask").click()
            page.get_by_role("heading", name="Import an expert mask").wait_for()
            inputs = page.locator('input[type="file"]')
            inputs.nth(0).set_input_files(str(ct_path))
            inputs.nth(1).set_input_files(str(tag))
            button = page.get_by_role("button", name="Import and show")
            expect(button).to_be_enabled()
            button.click()
            page.get_by_text("imported:tag").wait_for(timeout=120_000)
            expect(page.locator('[data-testid="stImage"] img').first).to_be_visible()
            m = page.locator('[data-testid="stMetric"]').filter(has_text="SMA").first
            expect(m.locator('[data-testid="stMetricValue"]')).to_have_text(f"{sma:.1f} cm²")
            sat = page.locator('[data-testid="stMetric"]').filter(has_text="SAT").first
            expect(sat.locator('[data-testid="stMetricValue"]')).to_have_text("not traced")  # muscle-only mask
            page.screenshot(path=str(shots / "import_mask_tag.png"), full_page=True)
