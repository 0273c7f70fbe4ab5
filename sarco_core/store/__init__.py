"""Case store (SQLAlchemy 2 + Alembic): cases with a de-identified image copy, analyses with provenance,
immutable mask versions and an audit trail. SQLite by default (``default_db_url()``), PostgreSQL via
``SARCO_DB_URL``. The UI only ever sees the typed records below."""

from sarco_core.store.api import COHORT_COLUMNS, Store
from sarco_core.store.db import current_revision, default_db_url, head_revision, migrate, redact_url
from sarco_core.store.records import (
    AnalysisRecord,
    AuditEvent,
    CaseRecord,
    CaseSummary,
    MaskComparison,
    MaskVersionRecord,
    ReferenceSlice,
)

__all__ = [
    "COHORT_COLUMNS",
    "AnalysisRecord",
    "AuditEvent",
    "CaseRecord",
    "CaseSummary",
    "MaskComparison",
    "MaskVersionRecord",
    "ReferenceSlice",
    "Store",
    "current_revision",
    "default_db_url",
    "head_revision",
    "migrate",
    "redact_url",
]
