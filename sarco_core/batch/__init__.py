"""Cohort runs: ``analyze`` over many cases on Dask, resumable, into a CSV and the app's database.

``run_batch(input_dir, out_csv, manifest=..., options=BatchOptions(...))``; see ``docs/scale.md``.
"""

from sarco_core.batch.cases import MANIFEST_COLUMNS, BatchCase, ManifestError, cohort, discover, read_manifest
from sarco_core.batch.runner import BatchOptions, BatchSummary, Progress, run_batch
from sarco_core.batch.table import CaseRecord, flatten, record_row

__all__ = [
    "MANIFEST_COLUMNS",
    "BatchCase",
    "BatchOptions",
    "BatchSummary",
    "CaseRecord",
    "ManifestError",
    "Progress",
    "cohort",
    "discover",
    "flatten",
    "read_manifest",
    "record_row",
    "run_batch",
]
