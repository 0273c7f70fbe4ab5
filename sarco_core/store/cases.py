"""Cases: create (a de-identified image copy, its analysis and version 1), read, list, soft delete and purge."""

from __future__ import annotations

import json
import secrets
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sarco_core.cutoffs import normalise_sex, validate_height_m, validate_weight_kg
from sarco_core.errors import StoreError
from sarco_core.store import codec, convert
from sarco_core.store.core import StoreCore, log, now_utc
from sarco_core.store.provenance import AnalysisInput, as_dict, extract
from sarco_core.store.records import CaseRecord, CaseSummary
from sarco_core.store.schema import Analysis, Case, MaskVersion
from sarco_core.volume import Volume


def _given(analysis: dict[str, Any], key: str, header: Any) -> Any:
    """A patient value as resolved by the analysis (its top-level key, even None), else the header."""
    if key in analysis:
        return analysis[key]
    return header


class CaseStore(StoreCore):
    """Case operations (see :class:`sarco_core.store.Store`)."""

    def _insert_case(
        self,
        s: Session,
        volume: Volume,
        *,
        label: str | None,
        input_sha256: str | None,
        sex: str | None,
        height_m: float | None,
        weight_kg: float | None,
        age_years: Any,
    ) -> Case:
        """Add the case row with a de-identified copy of ``volume`` (refuses a label already in use)."""
        meta = volume.meta
        blob, geometry, meta_d = codec.encode_volume(volume)
        created = now_utc()
        code = (label or "").strip()[:128] or f"case-{created:%Y%m%d}-{secrets.token_hex(3)}"
        sops = list(meta.sop_uids) if len(meta.sop_uids) == volume.n_slices else []
        taken = s.scalar(select(func.count()).select_from(Case).where(Case.label == code, ~Case.deleted))
        if taken:
            raise StoreError(f"A case labelled {code!r} already exists; choose another case code.")
        case = Case(
            created_at=created,
            label=code,
            patient_id_hash=meta.patient_id_hash,
            study_uid=meta.study_uid,
            series_uid=meta.series_uid,
            frame_of_reference_uid=meta.frame_of_reference_uid,
            sop_class_uid=meta.sop_class_uid,
            sop_uids_json=json.dumps(sops),
            input_sha256=input_sha256,
            input_kind=meta.kind,
            n_slices=volume.shape[0],
            n_rows=volume.shape[1],
            n_cols=volume.shape[2],
            geometry_json=json.dumps(geometry),
            meta_json=codec.dumps(meta_d),
            image_npz=blob,
            image_sha256=codec.sha256_hex(blob),
            image_nbytes=len(blob),
            sex=sex,
            height_m=height_m,
            weight_kg=weight_kg,
            age_years=None if age_years is None else float(age_years),
            deleted=False,
        )
        s.add(case)
        s.flush()
        with self._lock:
            self._cache[case.image_sha256] = volume
        return case

    def create_case(
        self,
        volume: Volume,
        *,
        analysis: AnalysisInput,
        labels: np.ndarray,
        slice_index: int,
        actor: str,
        label: str | None = None,
        sex: str | None = None,
        height_m: float | None = None,
        weight_kg: float | None = None,
        age_years: float | None = None,
        input_sha256: str | None = None,
        l3_auto_index: int | None = None,
    ) -> CaseRecord:
        """Store a de-identified copy of ``volume``, its analysis and version 1 (the automatic mask).

        ``label`` is a case code chosen by the user (never a patient name or ID) or generated.
        Patient data default to the analysis JSON, then to the image header.
        """
        volume.require_hu("Storing a case for measurement")
        a = as_dict(analysis)
        meta = volume.meta
        sex = normalise_sex(sex if sex is not None else _given(a, "sex", meta.patient_sex))
        height_m = validate_height_m(height_m if height_m is not None else _given(a, "height_m", meta.patient_height_m))
        weight_kg = validate_weight_kg(
            weight_kg if weight_kg is not None else _given(a, "weight_kg", meta.patient_weight_kg)
        )
        age = age_years if age_years is not None else _given(a, "age_years", meta.patient_age_years)
        if not 0 <= int(slice_index) < volume.n_slices:
            raise StoreError(f"Slice {slice_index} is outside the image's slices 0..{volume.n_slices - 1}.")
        codec.normalise_mask2d(labels, (volume.shape[1], volume.shape[2]))
        with self._tx() as s:
            case = self._insert_case(
                s,
                volume,
                label=label,
                input_sha256=input_sha256 or extract(a).input_sha256,
                sex=sex,
                height_m=height_m,
                weight_kg=weight_kg,
                age_years=age,
            )
            code = case.label
            blob_len = case.image_nbytes
            an = self._add_analysis(s, case, a, int(slice_index), actor, l3_auto_index)
            v = self._add_version(
                s,
                case,
                labels,
                parent=None,
                analysis_id=an.id,
                slice_index=int(slice_index),
                author=actor,
                comment="automatic mask",
                source="auto",
            )
            self._audit(
                s,
                "create",
                actor,
                case.id,
                label=code,
                input_kind=meta.kind,
                shape=list(volume.shape),
                image_nbytes=blob_len,
            )
            self._audit(
                s,
                "analyse",
                actor,
                case.id,
                analysis_id=an.id,
                method=an.method,
                slice_index=an.slice_index,
                l3_overridden=an.l3_overridden,
                version=v.number,
                sma_cm2=v.sma_cm2,
            )
            case_id = case.id
        log.info("created case %s (id %d)", code, case_id)
        return self.get_case(case_id)

    def get_case(self, case_id: int) -> CaseRecord:
        with self._tx() as s:
            c = self._case(s, case_id, allow_deleted=True)
            latest = self._latest(s, case_id)
            an = s.scalars(select(Analysis).where(Analysis.case_id == case_id).order_by(Analysis.id.desc())).first()
            n = s.scalar(select(func.count()).select_from(MaskVersion).where(MaskVersion.case_id == case_id)) or 0
            meta = json.loads(c.meta_json)
            geo = json.loads(c.geometry_json)
            sp = geo.get("spacing_mm") or [None, 0.0, 0.0]
            return CaseRecord(
                id=c.id,
                label=c.label,
                created_at=convert.utc(c.created_at),
                input_kind=c.input_kind,
                input_sha256=c.input_sha256,
                patient_id_hash=c.patient_id_hash,
                study_uid=c.study_uid,
                series_uid=c.series_uid,
                frame_of_reference_uid=c.frame_of_reference_uid,
                sop_class_uid=c.sop_class_uid,
                n_sop_uids=len(json.loads(c.sop_uids_json)),
                shape=(c.n_slices, c.n_rows, c.n_cols),
                spacing_mm=(sp[0], float(sp[1]), float(sp[2])),
                image_sha256=c.image_sha256,
                sex=c.sex,
                height_m=c.height_m,
                weight_kg=c.weight_kg,
                age_years=c.age_years,
                deleted=bool(c.deleted),
                deleted_reason=c.deleted_reason,
                meta=meta,
                latest_analysis=convert.analysis_record(an) if an else None,
                latest_version=self._version_rec(s, latest) if latest else None,
                n_versions=int(n),
            )

    def list_cases(self, include_deleted: bool = False) -> list[CaseSummary]:
        with self._tx() as s:
            q = select(Case).order_by(Case.id)
            if not include_deleted:
                q = q.where(~Case.deleted)
            cases = list(s.scalars(q))
            out = []
            for c in cases:
                vs = list(
                    s.execute(
                        select(MaskVersion.number, MaskVersion.sma_cm2, MaskVersion.source)
                        .where(MaskVersion.case_id == c.id)
                        .order_by(MaskVersion.number)
                    )
                )
                last = vs[-1] if vs else None
                out.append(
                    CaseSummary(
                        id=c.id,
                        label=c.label,
                        created_at=convert.utc(c.created_at),
                        input_kind=c.input_kind,
                        deleted=bool(c.deleted),
                        n_versions=len(vs),
                        latest_sma_cm2=last[1] if last else None,
                        edited=bool(last and last[2] != "auto"),
                        sex=c.sex,
                        patient_id_hash=c.patient_id_hash,
                    )
                )
            return out

    def find_duplicates(self, patient_id_hash: str | None) -> list[CaseSummary]:
        """Live cases whose salted patient-ID hash equals ``patient_id_hash`` (empty when it is None)."""
        if not patient_id_hash:
            return []
        return [c for c in self.list_cases() if c.patient_id_hash == patient_id_hash]

    def load_volume(self, case_id: int) -> Volume:
        """The stored image copy, checksum-verified (a corrupt copy raises :class:`StoreError`)."""
        with self._tx() as s:
            return self._volume(self._case(s, case_id, allow_deleted=True))

    def delete_case(self, case_id: int, *, actor: str, reason: str) -> None:
        """Soft delete (kept in the database and the audit trail; hidden from lists and the cohort)."""
        with self._tx() as s:
            c = self._case(s, case_id)
            c.deleted, c.deleted_at, c.deleted_reason = True, now_utc(), str(reason or "")
            self._audit(s, "delete", actor, case_id, label=c.label, reason=str(reason or ""))

    def purge_case(self, case_id: int, *, actor: str) -> None:
        """Erase a deleted case's image copy and masks for good (the case row and audit trail remain)."""
        with self._tx() as s:
            c = self._case(s, case_id, allow_deleted=True)
            if not c.deleted:
                raise StoreError(f"Case {c.label} must be deleted before it can be purged.")
            c.image_npz, c.image_sha256, c.image_nbytes, c.sop_uids_json = b"", "", 0, "[]"
            for v in s.scalars(select(MaskVersion).where(MaskVersion.case_id == case_id)):
                v.mask_zlib = b""
            self._audit(s, "purge", actor, case_id, label=c.label)
