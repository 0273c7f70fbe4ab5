"""Browser tests of the app as a team uses it (Playwright + Debian's Chromium): sign-in (a wrong password is
refused; a sign-in and the open case survive a reload), roles (a researcher cannot edit, a labeller cannot
delete), every export of a case made by ``sarco batch`` downloads from its case page, and a conflicting save
is refused at the click with the strokes and the comment kept, then reapplied on the newest version; a comment
typed before someone else saves and before the first stroke is kept and saved with the version.

One server for the module (users and a batch case made before it starts); each test opens a fresh browser
context. Skipped without Chromium, except under CI=true.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import ARTIFACTS, launch, need_chromium, running_app

pytestmark = pytest.mark.e2e
PW = "team password 1"


@pytest.fixture(scope="module")
def team_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, int]]:
    need_chromium()
    from sarco_core.batch import BatchOptions, run_batch
    from sarco_core.store import Store
    from tests.app_helpers import phantom_series

    tmp = tmp_path_factory.mktemp("team")
    db = f"sqlite:///{tmp / 'team.db'}"
    (tmp / "in").mkdir()
    (tmp / "in" / "ph.zip").write_bytes(phantom_series().zip_bytes)
    run_batch(tmp / "in", tmp / "out.csv", options=BatchOptions(workers=0, method="threshold", store_url=db))
    store = Store.open(db)
    cid = store.list_cases()[0].id
    for name, role in (("res", "researcher"), ("lab", "labeller")):
        store.add_user(name, role=role, password=PW)
    store.close()
    shots = ARTIFACTS / "e2e_team"
    shots.mkdir(parents=True, exist_ok=True)
    with running_app(db, shots / "server.log") as url:
        yield url, db, cid


@pytest.fixture
def page(team_app: tuple[str, str, int]) -> Iterator:  # type: ignore[type-arg]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        p = ctx.new_page()
        p.set_default_timeout(20_000)
        try:
            yield p
        except Exception:
            raise
        finally:
            browser.close()


def _sign_in(page, url: str, name: str, password: str, path: str = "") -> None:  # type: ignore[no-untyped-def]
    page.goto(url + path)
    page.get_by_role("heading", name="sarco — sign in").wait_for()
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def _idle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the app has finished its current run (Streamlit's running indicator is gone)."""
    from playwright.sync_api import expect

    page.wait_for_timeout(300)
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=30_000)


def _shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(ARTIFACTS / "e2e_team" / f"{name}.png"), full_page=True)


def test_wrong_password_refused_and_sign_in_and_case_survive_reload(page, team_app) -> None:  # type: ignore[no-untyped-def]
    url, _, cid = team_app
    try:
        _sign_in(page, url, "res", "not the password", f"/case?case={cid}")
        page.get_by_text("Wrong user name or password").wait_for()
        page.get_by_role("textbox", name="Password").fill(PW)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", level=1, name=f"Case #{cid}:").wait_for()
        page.reload()
        page.get_by_role("heading", level=1, name=f"Case #{cid}:").wait_for()  # still signed in, same case
        assert f"case={cid}" in page.url
        page.get_by_text("Signed in as res").wait_for()
    except Exception:
        _shot(page, "failure_sign_in")
        raise


def test_researcher_cannot_edit_and_downloads_every_export(page, team_app, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, _, cid = team_app
    try:
        _sign_in(page, url, "res", PW, f"/case?case={cid}")
        page.get_by_role("heading", level=1, name=f"Case #{cid}:").wait_for()
        assert page.get_by_role("link", name="Edit mask").count() == 0
        assert page.get_by_role("button", name="Restore as new version").count() == 0
        magic = {"Report (PDF)": b"%PDF-", "DICOM-SEG": b"", "Mask (NIfTI)": b"\x1f\x8b", "Overlay (PNG)": b"\x89PNG"}
        for label, head in magic.items():
            with page.expect_download(timeout=30_000) as dl:
                page.get_by_role("button", name=label).click()
            path = tmp_path / dl.value.suggested_filename
            dl.value.save_as(path)
            data = path.read_bytes()
            assert data.startswith(head) and len(data) > 100, label
            if label == "DICOM-SEG":
                assert data[128:132] == b"DICM"
        _shot(page, "researcher_case_page")
    except Exception:
        _shot(page, "failure_researcher")
        raise


def test_labeller_cannot_delete_and_conflict_is_shown_at_the_click(page, team_app) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from sarco_core.store import Store

    url, db, cid = team_app
    try:
        _sign_in(page, url, "lab", PW, f"/case?case={cid}")
        page.get_by_role("heading", level=1, name=f"Case #{cid}:").wait_for()
        assert page.get_by_text("Delete this case").count() == 0
        page.get_by_role("link", name="Edit mask").click()
        page.get_by_role("heading", name="Edit the mask").wait_for()
        canvas = page.locator("canvas.upper-canvas").first
        canvas.wait_for()
        box = canvas.bounding_box()
        assert box is not None
        x0, y0 = box["x"] + box["width"] * 0.40, box["y"] + box["height"] * 0.45
        page.mouse.move(x0, y0)
        page.mouse.down()
        for i in range(1, 20):
            page.mouse.move(x0 + i * 5, y0 + i * 2, steps=2)
        page.mouse.up()
        # during a rerun Streamlit keeps the previous run's elements (stale) beside the new ones: take the last
        strokes = page.locator('[data-testid="stMetric"]').filter(has_text="Strokes this session").last
        expect(strokes).to_contain_text("1")
        # someone else saves first
        store = Store.open(db)
        latest = store.versions(cid)[-1]
        other = store.get_mask(latest.id)
        other[other == 3] = 0
        store.save_version(cid, other, parent_version_id=latest.id, author="someone else", comment="theirs")
        store.close()
        comment = page.get_by_role("textbox", name="Comment")
        _idle(page)  # a rerun still in flight (the stroke's) re-renders the box and would drop text typed now
        comment.fill("my careful comment")
        comment.press("Tab")  # Streamlit takes a text box's value when it loses focus
        _idle(page)
        page.get_by_role("button", name="Save version").click()
        page.get_by_text("was saved by someone else at").wait_for()
        page.get_by_text("Your strokes and your comment are kept").wait_for()
        expect(comment).to_have_value("my careful comment")
        expect(strokes).to_contain_text("1")
        _shot(page, "conflict_at_click")
        page.get_by_role("button", name="Reload the newest version and reapply my strokes").click()
        page.get_by_text("Your strokes are now on top of version").wait_for()
        expect(page.get_by_role("textbox", name="Comment")).to_have_value("my careful comment")
        page.get_by_role("button", name="Save version").click()
        page.get_by_text("Saved version").wait_for()
        v = Store.open(db).versions(cid)[-1]
        assert (v.author, v.comment) == ("lab", "my careful comment")
    except Exception:
        _shot(page, "failure_labeller")
        raise


def test_comment_typed_before_a_newer_version_and_the_first_stroke_is_saved(page, team_app) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    from sarco_core.store import Store

    url, db, cid = team_app
    try:
        _sign_in(page, url, "lab", PW, f"/case?case={cid}")
        page.get_by_role("heading", level=1, name=f"Case #{cid}:").wait_for()
        page.get_by_role("link", name="Edit mask").click()
        page.get_by_role("heading", name="Edit the mask").wait_for()
        canvas = page.locator("canvas.upper-canvas").first
        canvas.wait_for()
        _idle(page)
        page.get_by_role("textbox", name="Comment").fill("typed before the first stroke")
        # someone else saves before any stroke: the stroke's rerun moves the page to their version
        store = Store.open(db)
        latest = store.versions(cid)[-1]
        other = store.get_mask(latest.id)
        other[other == 2] = 0
        theirs = store.save_version(cid, other, parent_version_id=latest.id, author="someone else", comment="theirs")
        store.close()
        box = canvas.bounding_box()
        assert box is not None
        x0, y0 = box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.70  # away from the other test's stroke
        page.mouse.move(x0, y0)
        page.mouse.down()
        for i in range(1, 20):
            page.mouse.move(x0 + i * 5, y0 - i * 2, steps=2)
        page.mouse.up()
        strokes = page.locator('[data-testid="stMetric"]').filter(has_text="Strokes this session").last
        expect(strokes).to_contain_text("1")
        page.get_by_text(f"editing on top of version {theirs.number}").wait_for()
        _idle(page)
        expect(page.get_by_role("textbox", name="Comment")).to_have_value("typed before the first stroke")
        page.get_by_role("button", name="Save version").click()
        page.get_by_text(f"Saved version {theirs.number + 1}").wait_for()
        v = Store.open(db).versions(cid)[-1]
        assert (v.author, v.parent_id, v.comment) == ("lab", theirs.id, "typed before the first stroke")
        expect(page.get_by_role("textbox", name="Comment")).to_have_value("")  # saved: the next edit starts empty
    except Exception:
        _shot(page, "failure_comment_first")
        raise
