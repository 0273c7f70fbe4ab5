"""ORM row -> record conversion (kept apart so the Store methods stay short)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sarco_core.store.records import AnalysisRecord, AuditEvent, MaskVersionRecord
from sarco_core.store.schema import Analysis, AuditEventRow, MaskVersion


def utc(dt: datetime | None) -> datetime:
    """Aware UTC datetime (SQLite hands back naive ones)."""
    if dt is None:
        return datetime.fromtimestamp(0, UTC)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def version_record(row: MaskVersion, parent: MaskVersion | None) -> MaskVersionRecord:
    return MaskVersionRecord(
        id=row.id,
        case_id=row.case_id,
        number=row.number,
        parent_id=row.parent_id,
        parent_number=parent.number if parent is not None else None,
        analysis_id=row.analysis_id,
        created_at=utc(row.created_at),
        author=row.author,
        comment=row.comment,
        source=row.source,
        slice_index=row.slice_index,
        z_mm=row.z_mm,
        sma_cm2=row.sma_cm2,
        imat_cm2=row.imat_cm2,
        sat_cm2=row.sat_cm2,
        vat_cm2=row.vat_cm2,
        muscle_hu_mean=row.muscle_hu_mean,
        muscle_pixels=row.muscle_pixels,
        sha256=row.sha256,
        sma_change_cm2=None if parent is None else row.sma_cm2 - parent.sma_cm2,
    )


def analysis_record(row: Analysis) -> AnalysisRecord:
    return AnalysisRecord(
        id=row.id,
        case_id=row.case_id,
        created_at=utc(row.created_at),
        actor=row.actor,
        software_version=row.software_version,
        method=row.method,
        model_name=row.model_name,
        model_version=row.model_version,
        model_sha256=row.model_sha256,
        rule=row.rule,
        hu_gates=json.loads(row.hu_gates_json),
        input_sha256=row.input_sha256,
        slice_index=row.slice_index,
        l3_auto_index=row.l3_auto_index,
        l3_overridden=bool(row.l3_overridden),
        confidence=row.confidence,
        qc_flags=tuple(json.loads(row.qc_flags_json)),
        result=json.loads(row.result_json),
    )


def audit_record(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        time=utc(row.time),
        actor=row.actor,
        action=row.action,
        case_id=row.case_id,
        details=json.loads(row.details_json),
    )
