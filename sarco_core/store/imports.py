"""Expert reference masks from ``sarco import-masks --store``: a case per imported slice, version source
``imported:<format>``. An imported version is never replaced: later analyses and edits add versions."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select

if TYPE_CHECKING:
    from sarco_core.masks.records import ImportedCase, ImportReport

from sarco_core.errors import StoreError
from sarco_core.store.core import log
from sarco_core.store.records import MaskVersionRecord, ReferenceSlice, is_reference_source
from sarco_core.store.schema import Case
from sarco_core.store.versions import VersionStore


class ImportStore(VersionStore):
    """Keeping imported reference masks (see :class:`sarco_core.store.Store`)."""

    def add_imported(self, case: ImportedCase, *, actor: str) -> MaskVersionRecord:
        """Store ``case`` (its one CT slice, de-identified, and the expert mask as a version).

        A live case with the same label whose image holds the same slice (an analysed series, or an earlier
        import) gets a new version on that slice; a label already used by another image is refused (nothing is
        overwritten).
        """
        vol, m = case.volume, case.mask
        vol.require_hu("Storing an imported case")
        details = {
            "format": m.format.value,
            "mask_file": m.mask_path.rsplit("/", 1)[-1],
            "mask_sha256": m.sha256,
            "value_map": None if m.value_map is None else m.value_map.name,
            "value_map_pairs": None if m.value_map is None else [list(p) for p in m.value_map.pairs],
            "source_slice_index": m.slice_index,
            "z_mm": m.z_mm,
        }
        with self._tx() as s:
            existing = s.scalars(select(Case).where(Case.label == m.case_id, ~Case.deleted)).first()
            existing_id = existing.id if existing is not None else None
        if existing_id is not None:
            old = self.load_volume(existing_id)
            j = old.index_of_z(m.z_mm)
            if old.shape[1:] != vol.shape[1:] or not np.array_equal(old.hu[j], vol.hu[0]):
                raise StoreError(
                    f"A case labelled {m.case_id!r} already exists with another image; give this case another "
                    "case_id (or delete the old case first)."
                )
            return self._append(
                existing_id,
                m.labels,
                parent_version_id=None,
                check_parent=False,
                author=actor,
                comment=f"imported {m.format.value} reference mask",
                source=m.source,
                slice_index=j,
                audit_action="import",
                audit_details=details,
            )
        p = case.patient
        with self._tx() as s:
            row = self._insert_case(
                s,
                vol,
                label=m.case_id,
                input_sha256=None,
                sex=p.sex,
                height_m=p.height_m,
                weight_kg=p.weight_kg,
                age_years=None,
            )
            self._audit(
                s,
                "create",
                actor,
                row.id,
                label=row.label,
                input_kind=vol.meta.kind,
                shape=list(vol.shape),
                image_nbytes=row.image_nbytes,
            )
            v = self._add_version(
                s,
                row,
                m.labels,
                parent=None,
                analysis_id=None,
                slice_index=0,
                author=actor,
                comment=f"imported {m.format.value} reference mask",
                source=m.source,
            )
            self._audit(
                s,
                "import",
                actor,
                row.id,
                version=v.number,
                version_id=v.id,
                source=m.source,
                sma_cm2=v.sma_cm2,
                **details,
            )
            rec = self._version_rec(s, v)
        log.info("imported case %s (%s)", m.case_id, m.source)
        return rec

    def reference_slices(self, *, label_glob: str | None = None) -> list[ReferenceSlice]:
        """Per live case (labels matching ``label_glob``, fnmatch, when given), its latest reference version
        (:func:`~sarco_core.store.records.is_reference_source`: edit, import, imported:<format>) with that slice's
        HU; cases with none are left out. Oldest case first."""
        out: list[ReferenceSlice] = []
        for c in self.list_cases():
            if label_glob and not fnmatch.fnmatchcase(c.label, label_glob):
                continue
            refs = [v for v in self.versions(c.id) if is_reference_source(v.source)]
            if not refs:
                continue
            v = refs[-1]
            with self._tx() as s:
                row = self._case(s, c.id)
                hu, row_mm, col_mm, _ = self._slice(row, v.slice_index)
                height_m, weight_kg, sex = row.height_m, row.weight_kg, row.sex
            out.append(
                ReferenceSlice(
                    case_id=c.id,
                    label=c.label,
                    patient_id_hash=c.patient_id_hash,
                    version=v,
                    hu=np.asarray(hu),
                    mask=self.get_mask(v.id),
                    row_mm=row_mm,
                    col_mm=col_mm,
                    height_m=height_m,
                    weight_kg=weight_kg,
                    sex=sex,
                )
            )
        return out

    def imported_versions(self) -> list[MaskVersionRecord]:
        """Every imported reference version of live cases (latest first per case), for validate / finetune."""
        out: list[MaskVersionRecord] = []
        for c in self.list_cases():
            vs = [v for v in self.versions(c.id) if v.source.startswith("imported:")]
            out.extend(reversed(vs))
        return out


def store_report(store: ImportStore, report: ImportReport, *, actor: str) -> ImportReport:
    """Keep every ok case of ``report`` in ``store``; a row the store refuses becomes an error row (the others
    are kept). Returns the report with ``store_case_id`` filled in."""
    from dataclasses import replace

    from sarco_core.errors import SarcoError
    from sarco_core.masks.records import ImportReport as Report
    from sarco_core.masks.records import RowStatus

    out = []
    for o in report.outcomes:
        if o.case is None:
            out.append(o)
            continue
        try:
            v = store.add_imported(o.case, actor=actor)
        except SarcoError as exc:
            out.append(replace(o, status=RowStatus.ERROR, case=None, reason=f"not kept in the case store: {exc}"))
        else:
            out.append(replace(o, store_case_id=v.case_id))
    return Report(outcomes=tuple(out))
