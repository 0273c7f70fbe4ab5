"""Start ``streamlit run app.py`` on a free localhost port against a temporary database, and launch
Debian's Chromium through Playwright (never ``playwright install``)."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_app(db_url: str, log_path: Path, timeout_s: float = 90.0) -> Iterator[str]:
    """Yield the base URL of a fresh app server; stop it (only this process) afterwards."""
    port = free_port()
    env = dict(os.environ, SARCO_DB_URL=db_url, SARCO_AUTHOR="e2e-tester", PYTHONUNBUFFERED="1")
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start (see {log_path})")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def launch(playwright):  # type: ignore[no-untyped-def]
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def need_chromium() -> None:
    """Skip the browser test when Debian's Chromium is absent; fail instead under CI=true."""
    import pytest

    if not Path(CHROMIUM).exists():
        msg = f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium) for the browser test"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " (CI=true)")
        pytest.skip(msg)


@contextmanager
def browser_page(playwright: Any, failure_png: Path) -> Iterator[Any]:
    """A 1400 x 1000 page (60 s default timeout) in Debian's Chromium; a full-page screenshot is saved at
    ``failure_png`` when the block raises, and the browser is closed either way."""
    browser = launch(playwright)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    try:
        yield page
    except Exception:
        page.screenshot(path=str(failure_png), full_page=True)
        raise
    finally:
        browser.close()


def zip_first_slice(folder: Path, out: Path) -> Path:
    """A zip holding the first file of ``folder`` as ``series/NAME`` (a one-slice upload, as a user would send)."""
    src = sorted(p for p in folder.iterdir() if p.is_file())[0]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(src, f"series/{src.name}")
    out.write_bytes(buf.getvalue())
    return out
