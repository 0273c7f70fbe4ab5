"""Take the user-guide screenshots (docs/img/ui_*.png) from the running app with Playwright + Debian Chromium,
signed in as an illustrative admin account (sign-in, upload, browse, edit, history, case page, dashboard, conflict).

Not a test: ``python -m tests.e2e.make_screenshots``. Uses a temporary database and the shared real data:
the TotalSegmentator abdomen (NIfTI) and the six upper-lumbar TCIA COVID-19-NY-SBU slices. Heights and
weights typed in here are illustrative inputs, not the patients' values (the files carry none).
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

from PIL import Image

from tests.e2e.server import REPO, launch, running_app

DATA = REPO.parent / "shared" / "data"
OUT = REPO / "docs" / "img"
MAX_BYTES = 300_000
GUIDE_PW = "guide-screenshots"


def _open_case_id(page) -> int:  # type: ignore[no-untyped-def]
    """The open case's id, from the page address (``?case=N``)."""
    from urllib.parse import parse_qs, urlparse

    return int(parse_qs(urlparse(page.url).query)["case"][0])


def save_png(raw: bytes, name: str, width: int = 1200) -> None:
    """Downscale and palette-quantise until the PNG is under 300 KB."""
    img = Image.open(io.BytesIO(raw)).convert("RGB")
    while True:
        im = img
        if im.width > width:
            im = im.resize((width, round(im.height * width / im.width)), Image.Resampling.LANCZOS)
        q = im.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
        buf = io.BytesIO()
        q.save(buf, format="PNG", optimize=True)
        if buf.tell() <= MAX_BYTES or width < 500:
            break
        width = int(width * 0.85)
    (OUT / name).write_bytes(buf.getvalue())
    print(f"{name}: {buf.tell() // 1024} KB, {q.width}x{q.height}")


def settle(page, extra_ms: int = 600) -> None:  # type: ignore[no-untyped-def]
    """Wait until Streamlit has finished the current run (no stale elements, no running indicator)."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-stale=\"true\"]') && "
        '!document.querySelector(\'[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]\')',
        timeout=120_000,
    )
    page.wait_for_timeout(extra_ms)


def upload(page, path: Path, height: str | None, weight: str | None, sex: str | None = None) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Upload & analyse").click()
    page.get_by_role("heading", name="Upload & analyse").wait_for()
    page.locator('input[type="file"]').first.set_input_files(str(path))
    page.get_by_text("Scan read:").wait_for(timeout=120_000)
    for label, value in (("Height (m)", height), ("Weight (kg)", weight)):
        if value:
            box = page.get_by_role("spinbutton", name=label)
            box.fill(value)
            box.press("Enter")
            page.wait_for_timeout(400)
    if sex:
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Sex").click()
        page.get_by_role("option", name=sex, exact=True).click()
        settle(page)
    page.get_by_role("button", name="Analyse").click()
    page.get_by_text("Classification —").first.wait_for(timeout=180_000)
    settle(page)


def stroke(page, fx: float, fy: float, dx: float, dy: float, n: int = 20) -> None:  # type: ignore[no-untyped-def]
    canvas = page.locator("canvas.upper-canvas").first
    canvas.wait_for()
    canvas.scroll_into_view_if_needed()  # the page may keep the previous page's scroll position
    page.wait_for_timeout(300)
    box = canvas.bounding_box()
    x0, y0 = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, n + 1):
        page.mouse.move(x0 + i * dx, y0 + i * dy, steps=2)
    page.mouse.up()
    page.wait_for_timeout(1500)
    settle(page)


def main() -> int:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    nifti = DATA / "totalsegmentator" / "example_ct.nii.gz"
    slices = [
        sorted((DATA / "tcia_covid19_ny_sbu" / p / "axial").iterdir())[i]
        for p in ("A027284", "A058062", "A062055")
        for i in (0, 1)
    ]
    tmp = Path(tempfile.mkdtemp())
    db = f"sqlite:///{tmp / 'guide.db'}"
    from sarco_core.store import Store

    store = Store.open(db)
    store.add_user("admin", role="admin", password=GUIDE_PW)  # illustrative account of the guide's screenshots
    store.close()
    with running_app(db, tmp / "server.log") as url, sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1050})
        page.set_default_timeout(180_000)
        page.goto(url)
        page.get_by_role("heading", name="sarco — sign in").wait_for()
        page.get_by_role("textbox", name="User name").fill("admin")
        page.get_by_role("textbox", name="Password").fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text("Wrong user name or password").wait_for()
        settle(page)
        save_png(page.screenshot(), "ui_sign_in.png")
        page.get_by_role("textbox", name="Password").fill(GUIDE_PW)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Upload & analyse").wait_for()
        page.get_by_text("Model ready").wait_for()
        settle(page)
        save_png(page.screenshot(), "ui_upload_empty.png")

        # clinician: one abdomen CT
        upload(page, nifti, "1.75", "80", "M")
        page.get_by_role("button", name="Analyse").scroll_into_view_if_needed()
        page.mouse.wheel(0, 450)
        settle(page)
        save_png(page.screenshot(), "ui_upload_result.png")

        # browse: sagittal with levels; step to another slice
        page.get_by_role("link", name="Browse").click()
        page.get_by_role("heading", name="Browse slices").wait_for()
        settle(page, 1500)
        save_png(page.screenshot(), "ui_browse.png")

        # labeller: a stroke, then save
        page.get_by_role("link", name="Edit mask").click()
        page.get_by_role("heading", name="Edit the mask").wait_for()
        stroke(page, 0.62, 0.72, 3, 1)
        save_png(page.screenshot(), "ui_edit.png")
        page.get_by_role("textbox", name="Comment").fill("added missed psoas edge")
        page.get_by_role("button", name="Save version").click()
        page.get_by_text("Saved version").wait_for()
        settle(page)
        page.get_by_role("heading", name="Version history").scroll_into_view_if_needed()
        page.mouse.wheel(0, 250)
        settle(page)
        save_png(page.screenshot(), "ui_history.png")

        # the case page: every export of the chosen version
        page.get_by_role("link", name="Case", exact=True).click()
        page.get_by_role("heading", level=1, name="Case #1:").wait_for()
        settle(page, 1200)
        save_png(page.screenshot(), "ui_case_page.png")
        page.get_by_role("button", name="Report (PDF)").scroll_into_view_if_needed()
        page.mouse.wheel(0, 200)
        settle(page)
        save_png(page.screenshot(), "ui_case_exports.png")

        # a conflicting save: someone else saves while the strokes are being drawn
        page.get_by_role("link", name="Edit mask").click()
        page.get_by_role("heading", name="Edit the mask").wait_for()
        settle(page)
        for _ in range(3):  # a stroke drawn during a rerun of the busy shared machine can be lost: check it landed
            stroke(page, 0.55, 0.70, 3, 1, 20)
            if "Strokes this session" in page.content() and not page.get_by_text("Nothing to save").count():
                metric = page.locator('[data-testid="stMetric"]').filter(has_text="Strokes this session").last
                if metric.inner_text().strip().endswith(("1", "2", "3")):
                    break
        s2 = Store.open(db)
        cid = _open_case_id(page)
        latest = s2.versions(cid)[-1]
        other = s2.get_mask(latest.id)
        other[other == 3] = 0
        s2.save_version(cid, other, parent_version_id=latest.id, author="colleague", comment="VAT cleared")
        s2.close()
        page.get_by_role("textbox", name="Comment").fill("psoas boundary")
        settle(page)
        page.get_by_role("button", name="Save version").click()
        try:
            page.get_by_text("was saved by colleague").wait_for(timeout=30_000)
        except Exception:
            settle(page)
            page.get_by_role("button", name="Save version").click()
            try:
                page.get_by_text("was saved by colleague").wait_for(timeout=60_000)
            except Exception:
                page.screenshot(path=str(REPO / "test-artifacts" / "screenshot_failure.png"), full_page=True)
                raise
        page.get_by_role("button", name="Reload the newest version and reapply my strokes").scroll_into_view_if_needed()
        page.mouse.wheel(0, 150)
        settle(page)
        save_png(page.screenshot(), "ui_conflict.png")
        # researcher: a few more cases, then the dashboard
        for i, p in enumerate(slices):
            upload(page, p, f"{1.60 + 0.05 * i:.2f}", f"{60 + 5 * i}")
            if i in (1, 4):
                page.get_by_role("link", name="Edit mask").click()
                page.get_by_role("heading", name="Edit the mask").wait_for()
                settle(page)
                stroke(page, 0.40, 0.45, 4, 2, 20)
                page.get_by_role("textbox", name="Comment").fill("boundary fix")
                settle(page)
                page.get_by_role("button", name="Save version").click()
                try:
                    try:
                        page.get_by_text("editing on top of version 2").wait_for(timeout=30_000)
                    except Exception:  # a click during a rerun of the busy shared machine can be lost: once more
                        settle(page)
                        page.get_by_role("button", name="Save version").click()
                        page.get_by_text("editing on top of version 2").wait_for(timeout=60_000)
                except Exception:
                    page.screenshot(path=str(REPO / "test-artifacts" / "screenshot_failure.png"), full_page=True)
                    raise
        page.get_by_role("link", name="Dashboard").click()
        page.get_by_role("heading", name="Cohort dashboard").wait_for()
        page.locator(".js-plotly-plot").first.wait_for()
        settle(page, 2500)
        save_png(page.screenshot(), "ui_dashboard.png")
        page.get_by_role("heading", name="Review queue").scroll_into_view_if_needed()
        settle(page, 1500)
        save_png(page.screenshot(), "ui_dashboard_queue.png")

        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
