"""The public case store: :class:`Store` (cases, versions, audit) plus cohort tables and mask comparison."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from sarco_core import cutoffs
from sarco_core.errors import SarcoError, StoreError
from sarco_core.flags import flag_sentences
from sarco_core.metrics import HUGates, dice, gated
from sarco_core.store import convert
from sarco_core.store.imports import ImportStore
from sarco_core.store.records import MaskComparison
from sarco_core.store.schema import Analysis, Case, MaskVersion
from sarco_core.store.users import UserStore

COHORT_COLUMNS = (
    "case_id",
    "label",
    "created_at",
    "input_kind",
    "sex",
    "age_years",
    "height_m",
    "weight_kg",
    "bmi",
    "rule",
    "method",
    "model_version",
    "slice_index",
    "l3_overridden",
    "auto_sma_cm2",
    "sma_cm2",
    "sma_change_cm2",
    "smi_cm2_m2",
    "muscle_hu_mean",
    "imat_cm2",
    "sat_cm2",
    "vat_cm2",
    "confidence",
    "qc_flags",
    "edited",
    "n_versions",
    "latest_version",
    "latest_author",
    "low_smi",
    "smi_threshold",
    "low_smi_note",
    "low_muscle_hu",
    "muscle_hu_threshold",
    "latest_source",
    "auto_same_slice",
    "qc_flags_text",
)


class Store(ImportStore, UserStore):
    """SQLite/PostgreSQL case store. ``Store.open(url=None)`` creates/migrates the schema; methods return records.

    Measurements of every version are recomputed here from the stored image (HU-gated), never taken from
    the caller.
    """

    def cohort_rows(self) -> list[dict[str, Any]]:
        """One row per live case (keys: ``COHORT_COLUMNS``) for the dashboard and CSV/XLSX export."""
        rows = []
        with self._tx() as s:
            for c in s.scalars(select(Case).where(~Case.deleted).order_by(Case.id)):
                vs = list(
                    s.scalars(select(MaskVersion).where(MaskVersion.case_id == c.id).order_by(MaskVersion.number))
                )
                if not vs:
                    continue
                latest = vs[-1]
                # agreement is only meaningful against the automatic mask of the same slice
                autos = [v for v in vs if v.source == "auto" and v.slice_index == latest.slice_index]
                auto = autos[-1] if autos else None
                an = s.get(Analysis, latest.analysis_id) if latest.analysis_id else None
                rows.append(_cohort_row(c, latest, auto, an, len(vs)))
        return rows

    def cohort_frame(self) -> Any:
        """``cohort_rows()`` as a pandas DataFrame (columns in ``COHORT_COLUMNS`` order)."""
        import pandas as pd

        return pd.DataFrame(self.cohort_rows(), columns=list(COHORT_COLUMNS))

    def compare_versions(self, version_a: int, version_b: int) -> MaskComparison:
        """HU-gated Dice and SMA difference of two versions of the same case on the same slice."""
        a, b = self.get_version(version_a), self.get_version(version_b)
        if a.case_id != b.case_id:
            raise StoreError("Only versions of the same case can be compared.")
        if a.slice_index != b.slice_index:
            raise StoreError(
                f"Version {a.number} is on slice {a.slice_index} and version {b.number} on slice {b.slice_index}; "
                "masks on different slices cannot be compared."
            )
        hu = self.load_volume(a.case_id).hu[a.slice_index]
        with self._tx() as s:
            gates = self._gates(s, a.analysis_id)
        ma, mb = self.get_mask(version_a), self.get_mask(version_b)
        g = _muscle_gated(hu, ma, gates), _muscle_gated(hu, mb, gates)
        diff = b.sma_cm2 - a.sma_cm2
        return MaskComparison(
            version_a=a.number,
            version_b=b.number,
            gated_dice=dice(*g),
            sma_a_cm2=a.sma_cm2,
            sma_b_cm2=b.sma_cm2,
            sma_diff_cm2=diff,
            sma_diff_pct=(diff / a.sma_cm2 * 100.0) if a.sma_cm2 else None,
        )


def _muscle_gated(hu: Any, mask: Any, gates: HUGates) -> Any:
    return gated(hu, mask == 1, gates.muscle)


def _cohort_row(c: Case, latest: MaskVersion, auto: MaskVersion | None, an: Analysis | None, n: int) -> dict[str, Any]:
    rule_key = an.rule if an and an.rule else cutoffs.DEFAULT_RULE
    smi = cutoffs.smi_cm2_m2(latest.sma_cm2, c.height_m)
    low_smi = low_hu = smi_thr = hu_thr = None
    note = ""
    try:
        a = cutoffs.assess_stored(c, latest, rule_key)
        rule_key, cl = a.rule, a.classification
        low_smi, smi_thr, note = cl.low_smi.value, cl.low_smi.threshold, cl.low_smi.note
        low_hu, hu_thr = cl.low_muscle_hu.value, cl.low_muscle_hu.threshold
    except SarcoError as exc:
        note = f"undetermined ({exc})"
    flags = json.loads(an.qc_flags_json) if an else []
    return {
        "case_id": c.id,
        "label": c.label,
        "created_at": convert.utc(c.created_at).isoformat(),
        "input_kind": c.input_kind,
        "sex": c.sex,
        "age_years": c.age_years,
        "height_m": c.height_m,
        "weight_kg": c.weight_kg,
        "bmi": cutoffs.bmi(c.height_m, c.weight_kg),
        "rule": rule_key,
        "method": an.method if an else None,
        "model_version": an.model_version if an else None,
        "slice_index": latest.slice_index,
        "l3_overridden": bool(an.l3_overridden) if an else False,
        "auto_sma_cm2": auto.sma_cm2 if auto else None,
        "sma_cm2": latest.sma_cm2,
        "sma_change_cm2": latest.sma_cm2 - auto.sma_cm2 if auto else None,
        "smi_cm2_m2": smi,
        "muscle_hu_mean": latest.muscle_hu_mean,
        "imat_cm2": latest.imat_cm2,
        "sat_cm2": latest.sat_cm2,
        "vat_cm2": latest.vat_cm2,
        "confidence": an.confidence if an else None,
        "qc_flags": "; ".join(flags),
        "edited": (latest.sha256 != auto.sha256) if auto else latest.source != "auto",
        "n_versions": n,
        "latest_version": latest.number,
        "latest_author": latest.author,
        "low_smi": low_smi,
        "smi_threshold": smi_thr,
        "low_smi_note": note,
        "low_muscle_hu": low_hu,
        "muscle_hu_threshold": hu_thr,
        "latest_source": latest.source,
        "auto_same_slice": auto is not None,
        "qc_flags_text": " ".join(flag_sentences(flags)),
    }
