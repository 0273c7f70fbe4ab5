"""Cohort table export: CSV and XLSX (openpyxl). Rows come from ``Store.cohort_rows()`` (no identifiers)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def _columns(rows: list[Mapping[str, Any]]) -> list[str]:
    from sarco_core.store.api import COHORT_COLUMNS

    cols = [c for c in COHORT_COLUMNS if any(c in r for r in rows)]
    for r in rows:
        cols += [k for k in r if k not in cols]
    return cols


def _rows(rows: Iterable[Mapping[str, Any]] | Any) -> list[Mapping[str, Any]]:
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # pandas DataFrame
        return list(rows.to_dict(orient="records"))
    return list(rows)


def _cell(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, float) and v != v:  # NaN from pandas
        return None
    if isinstance(v, list | tuple):
        return "; ".join(str(x) for x in v)
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@"):
        return "'" + v  # never let a spreadsheet run a case label as a formula
    return v


def cohort_csv(rows: Iterable[Mapping[str, Any]] | Any, path: str | Path | None = None) -> bytes:
    """UTF-8 CSV with a header row; returns the bytes (also written to ``path`` when given)."""
    rs = _rows(rows)
    cols = _columns(rs)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rs:
        w.writerow(["" if (c := _cell(r.get(k))) is None else c for k in cols])
    data = buf.getvalue().encode("utf-8")
    if path is not None:
        Path(path).write_bytes(data)
    return data


def cohort_xlsx(rows: Iterable[Mapping[str, Any]] | Any, path: str | Path | None = None) -> bytes:
    """One-sheet XLSX ("cohort") with a frozen header row; returns the bytes (also written to ``path``)."""
    from openpyxl import Workbook

    rs = _rows(rows)
    cols = _columns(rs)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "cohort"
    ws.append(cols)
    for r in rs:
        ws.append([_cell(r.get(k)) for k in cols])
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    data = buf.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data
