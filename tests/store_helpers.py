"""Shared fixtures for the store and export tests: small synthetic volumes with exactly known areas."""

from __future__ import annotations

import gzip
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from sarco_core.volume import SourceMeta, Volume

ROWS, COLS = 40, 48
SPACING = (3.0, 0.7, 0.9)  # slice, row, col (mm): anisotropic pixels on purpose


FAT = (slice(4, 36), slice(4, 44))
MUSCLE = (slice(8, 30), slice(8, 30))  # off-centre on purpose, so any flip of the pixel order shows


def synthetic_volume(n_slices: int = 6, *, seed: int = 0, meta: SourceMeta | None = None) -> Volume:
    """Air background, a fat ring (-100 HU), muscle block (50 HU) with some fatty (-60 HU) pixels."""
    rng = np.random.default_rng(seed)
    hu = np.full((n_slices, ROWS, COLS), -1000, np.int16)
    hu[(slice(None), *FAT)] = -100  # subcutaneous fat
    hu[(slice(None), *MUSCLE)] = 50  # muscle compartment
    block = hu[(slice(None), *MUSCLE)]
    block[rng.random(block.shape) < 0.1] = -60  # IMAT pixels inside the muscle compartment
    return Volume.from_array(hu=hu, spacing_mm=SPACING, z0_mm=-120.0, meta=meta)


def auto_labels() -> np.ndarray:
    lab = np.zeros((ROWS, COLS), np.uint8)
    lab[FAT] = 2
    lab[MUSCLE] = 1
    return lab


def expected_sma_cm2(volume: Volume, labels: np.ndarray, k: int) -> float:
    """Direct numpy computation: muscle label within -29..150 HU times pixel area."""
    hu = volume.hu[k]
    n = int(((labels == 1) & (hu >= -29) & (hu <= 150)).sum())
    return n * SPACING[1] * SPACING[2] / 100.0


def stored_bytes(path: Path) -> bytes:
    """The bytes a saved file holds once opened: gzip decompressed, every member of a zip joined, else as is
    (for searching exports and stores for identifiers)."""
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(path) as zf:
            return b"".join(zf.read(n) for n in zf.namelist())
    return data


def _reset_pg(url: str) -> None:
    from sqlalchemy import create_engine, text

    from sarco_core.store.schema import Base

    eng = create_engine(url)
    with eng.begin() as c:
        Base.metadata.drop_all(c)
        c.execute(text("DROP TABLE IF EXISTS alembic_version"))
    eng.dispose()


def backends() -> list[str]:
    out = ["sqlite"]
    if os.environ.get("SARCO_TEST_PG_URL"):
        out.append("postgresql")
    return out


@pytest.fixture(params=backends())
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh empty database: SQLite in tmp_path, or the PostgreSQL of SARCO_TEST_PG_URL (wiped)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cases.db'}"
    else:
        url = os.environ["SARCO_TEST_PG_URL"]
        _reset_pg(url)
        yield url
        _reset_pg(url)
