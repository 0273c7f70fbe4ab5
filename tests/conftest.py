"""Shared test helpers. Real data is read from ../shared/data (or $SARCO_SHARED_DATA): tests skip with a
reason where it is absent, but fail when CI=true (CI always has it)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# AppTest sessions run as on the README's localhost-only server (local single-user mode when no users exist),
# wherever pytest is started from (.streamlit/config.toml is read from the working directory).
os.environ.setdefault("STREAMLIT_SERVER_ADDRESS", "localhost")

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SARCO_SHARED_DATA", REPO.parent / "shared" / "data"))


def data_path(*parts: str) -> Path:
    """Path inside the shared data folder; skip (or fail under CI=true) when it is absent."""
    p = DATA.joinpath(*parts)
    if not p.exists():
        msg = f"shared test data not found: {p}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " (CI=true: the shared data must be present)")
        pytest.skip(msg)
    return p


@pytest.fixture
def shared() -> Path:
    return data_path()


@pytest.fixture(autouse=True)
def _isolated_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's real database or salt from tests."""
    d = tmp_path_factory.mktemp("sarco_home")
    monkeypatch.setenv("SARCO_HOME", str(d))
    if "SARCO_TEST_PG_URL" not in os.environ:
        monkeypatch.setenv("SARCO_DB_URL", f"sqlite:///{d / 'sarco.db'}")


@pytest.fixture(autouse=True)
def _keep_main_module() -> Iterator[None]:
    """Streamlit's AppTest leaves ``sys.modules["__main__"]`` pointing at app.py; a later test that starts
    processes with multiprocessing's spawn (a local Dask cluster) would then run app.py in each new worker.
    Put the test runner's own ``__main__`` back after every test."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main
