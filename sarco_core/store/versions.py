"""Mask versions: save (with conflict detection), restore, import, re-analysis, history and the audit trail."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sarco_core.errors import GridMismatchError, StoreError
from sarco_core.store import codec, convert
from sarco_core.store.cases import CaseStore
from sarco_core.store.core import log
from sarco_core.store.provenance import AnalysisInput, as_dict
from sarco_core.store.records import AnalysisRecord, AuditEvent, MaskVersionRecord
from sarco_core.store.schema import Analysis, AuditEventRow, MaskVersion


class VersionStore(CaseStore):
    """Version and audit operations (see :class:`sarco_core.store.Store`)."""

    def versions(self, case_id: int) -> list[MaskVersionRecord]:
        """All versions, oldest first, each with its SMA change vs its parent."""
        with self._tx() as s:
            self._case(s, case_id, allow_deleted=True)
            rows = list(
                s.scalars(select(MaskVersion).where(MaskVersion.case_id == case_id).order_by(MaskVersion.number))
            )
            by_id = {r.id: r for r in rows}
            return [convert.version_record(r, by_id.get(r.parent_id) if r.parent_id else None) for r in rows]

    def latest_version(self, case_id: int) -> MaskVersionRecord:
        with self._tx() as s:
            self._case(s, case_id, allow_deleted=True)
            row = self._latest(s, case_id)
            if row is None:
                raise StoreError(f"Case {case_id} has no mask version.")
            return self._version_rec(s, row)

    def get_version(self, version_id: int) -> MaskVersionRecord:
        with self._tx() as s:
            row = s.get(MaskVersion, version_id)
            if row is None:
                raise StoreError(f"There is no mask version with id {version_id}. Reload the case.")
            return self._version_rec(s, row)

    def get_mask(self, version_id: int) -> np.ndarray:
        """The 2-D uint8 label map of a version (checksum-verified)."""
        with self._tx() as s:
            row = s.get(MaskVersion, version_id)
            if row is None:
                raise StoreError(f"There is no mask version with id {version_id}. Reload the case.")
            if not row.mask_zlib:
                raise StoreError(f"The masks of case {row.case_id} were purged.")
            return codec.decode_mask(
                row.mask_zlib, (row.n_rows, row.n_cols), row.sha256, what=f"version {row.number} of case {row.case_id}"
            )

    def analyses(self, case_id: int) -> list[AnalysisRecord]:
        with self._tx() as s:
            rows = s.scalars(select(Analysis).where(Analysis.case_id == case_id).order_by(Analysis.id))
            return [convert.analysis_record(r) for r in rows]

    def get_analysis(self, analysis_id: int) -> AnalysisRecord:
        with self._tx() as s:
            row = s.get(Analysis, analysis_id)
            if row is None:
                raise StoreError(f"There is no analysis with id {analysis_id}.")
            return convert.analysis_record(row)

    def _append(
        self,
        case_id: int,
        labels: np.ndarray,
        *,
        parent_version_id: int | None,
        check_parent: bool,
        author: str,
        comment: str,
        source: str,
        slice_index: int | None = None,
        analysis: dict[str, Any] | None = None,
        l3_auto_index: int | None = None,
        audit_action: str,
        audit_details: dict[str, Any] | None = None,
    ) -> MaskVersionRecord:
        try:
            with self._tx() as s:
                case = self._case(s, case_id)
                latest = self._latest(s, case_id)
                if check_parent:
                    self._conflict(s, case, latest, parent_version_id)
                if analysis is not None:
                    if slice_index is None:
                        raise StoreError("A new analysis needs its slice index.")
                    an_id: int | None = self._add_analysis(s, case, analysis, slice_index, author, l3_auto_index).id
                    self._update_patient(case, analysis)
                else:
                    base = s.get(MaskVersion, parent_version_id) if parent_version_id is not None else latest
                    an_id = base.analysis_id if base is not None else None
                    if slice_index is None:
                        slice_index = base.slice_index if base is not None else 0
                row = self._add_version(
                    s,
                    case,
                    labels,
                    parent=latest,
                    analysis_id=an_id,
                    slice_index=slice_index,
                    author=author,
                    comment=comment,
                    source=source,
                )
                self._audit(
                    s,
                    audit_action,
                    author,
                    case_id,
                    version=row.number,
                    version_id=row.id,
                    parent_version=latest.number if latest else None,
                    source=source,
                    sma_cm2=row.sma_cm2,
                    comment=comment,
                    **(audit_details or {}),
                )
                rec = self._version_rec(s, row)
        except IntegrityError:
            self._race_lost(case_id, parent_version_id)
            raise  # unreachable: _race_lost always raises
        log.info("case %d: version %d (%s) by %s", case_id, rec.number, source, rec.author)
        return rec

    def save_version(
        self,
        case_id: int,
        labels: np.ndarray,
        *,
        parent_version_id: int,
        author: str,
        comment: str = "",
        source: str = "edit",
    ) -> MaskVersionRecord:
        """Save an edited 2-D mask of the measured slice as a new immutable version (atomic).

        Refused with :class:`ConflictError` when the case's latest version is not ``parent_version_id``
        (someone saved in between); nothing already saved changes and the caller keeps its edit.
        """
        return self._append(
            case_id,
            labels,
            parent_version_id=parent_version_id,
            check_parent=True,
            author=author,
            comment=comment,
            source=source,
            audit_action="save_version",
        )

    def restore_version(
        self,
        case_id: int,
        version_id: int,
        *,
        author: str,
        comment: str = "",
        parent_version_id: int | None = None,
    ) -> MaskVersionRecord:
        """Restore an old version by saving its mask as a new version (history is never rewritten)."""
        old = self.get_version(version_id)
        if old.case_id != case_id:
            raise StoreError(f"Version id {version_id} belongs to another case; reload the case.")
        mask = self.get_mask(version_id)
        with self._tx() as s:
            an_id = s.get(MaskVersion, version_id).analysis_id  # type: ignore[union-attr]
        text = comment or f"restored version {old.number}"
        try:
            with self._tx() as s:
                case = self._case(s, case_id)
                latest = self._latest(s, case_id)
                if parent_version_id is not None:
                    self._conflict(s, case, latest, parent_version_id)
                row = self._add_version(
                    s,
                    case,
                    mask,
                    parent=latest,
                    analysis_id=an_id,
                    slice_index=old.slice_index,
                    author=author,
                    comment=text,
                    source="restore",
                )
                self._audit(
                    s,
                    "restore",
                    author,
                    case_id,
                    version=row.number,
                    version_id=row.id,
                    restored_version=old.number,
                    sma_cm2=row.sma_cm2,
                    comment=text,
                )
                return self._version_rec(s, row)
        except IntegrityError:
            self._race_lost(case_id, parent_version_id)
            raise

    def add_analysis(
        self,
        case_id: int,
        analysis: AnalysisInput,
        labels: np.ndarray,
        slice_index: int,
        actor: str,
        *,
        l3_auto_index: int | None = None,
        parent_version_id: int | None = None,
        comment: str = "",
    ) -> MaskVersionRecord:
        """Record a re-analysis (e.g. an L3 override) and its automatic mask as a new version."""
        a = as_dict(analysis)
        return self._append(
            case_id,
            labels,
            parent_version_id=parent_version_id,
            check_parent=parent_version_id is not None,
            author=actor,
            comment=comment or f"automatic mask (re-analysis at slice {slice_index})",
            source="auto",
            slice_index=int(slice_index),
            analysis=a,
            l3_auto_index=l3_auto_index,
            audit_action="analyse",
        )

    def import_mask(
        self,
        case_id: int,
        labels: np.ndarray,
        *,
        source_name: str,
        author: str,
        slice_index: int | None = None,
        comment: str = "",
    ) -> MaskVersionRecord:
        """Keep a researcher's manual mask (2-D of the measured slice, or 3-D on the image grid) as a version.

        For a 3-D mask the measured slice (or ``slice_index``) is taken; if it is empty there, the error names
        the slices that do hold labels.
        """
        arr = np.asarray(labels)
        latest = self.latest_version(case_id)
        idx = latest.slice_index if slice_index is None else int(slice_index)
        if arr.ndim == 3 and arr.shape[0] > 1:
            case = self.get_case(case_id)
            if arr.shape != case.shape:
                raise GridMismatchError(
                    f"The imported mask's grid {arr.shape} differs from the case image's {case.shape} "
                    "(slices, rows, cols). Export the mask from the same series."
                )
            if not arr[idx].any():
                filled = [int(i) for i in np.nonzero(arr.reshape(arr.shape[0], -1).any(axis=1))[0]]
                raise StoreError(
                    f"The imported mask is empty on slice {idx} (the measured slice); it has labels on slices "
                    f"{filled[:20]}. Pass the slice to import, or re-measure the case on that slice first."
                )
            arr = arr[idx]
        return self._append(
            case_id,
            arr,
            parent_version_id=None,
            check_parent=False,
            author=author,
            comment=comment or f"imported from {source_name}",
            source="import",
            slice_index=idx,
            audit_action="import",
            audit_details={"source_name": str(source_name)},
        )

    # ------------------------------------------------------------------ audit
    def log_export(self, case_id: int, *, actor: str, kind: str, version_id: int | None = None, **details: Any) -> None:
        """Record that a case was exported (NIfTI, DICOM-SEG, PNG, PDF, CSV ...)."""
        with self._tx() as s:
            self._case(s, case_id, allow_deleted=True)
            self._audit(s, "export", actor, case_id, kind=kind, version_id=version_id, **details)

    def audit(self, case_id: int | None = None) -> list[AuditEvent]:
        """Audit events, oldest first (all cases, or one)."""
        with self._tx() as s:
            q = select(AuditEventRow).order_by(AuditEventRow.time, AuditEventRow.id)
            if case_id is not None:
                q = q.where(AuditEventRow.case_id == case_id)
            return [convert.audit_record(r) for r in s.scalars(q)]
