"""Reference cases from the case store (``sarco finetune/validate --from-store``).

Each live case contributes its latest reference version (a labeller's saved edit, a manual import, or a bulk
import ``imported:<format>``; see :func:`sarco_core.store.records.is_reference_source`) on that version's slice.
Cases are grouped by patient through the store's salted patient-ID hash, so a split by patient never puts two
scans of one patient on both sides; a case whose input carried no patient ID is its own patient (said in the
summary, since two such cases may still be one person).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sarco_core.errors import InvalidMaskError, ManifestError, SarcoError
from sarco_core.validate.cases import ReferenceCase, load_cases

if TYPE_CHECKING:
    from sarco_core.store import Store
    from sarco_core.store.records import ReferenceSlice

PATIENT_KEY_HEX = 16  # hex digits of the salted hash kept as the patient pseudonym (64 bits: no collisions here)


def store_patient_id(ref: ReferenceSlice) -> str:
    """The patient a store case belongs to, for grouping (the one owner of this rule): a pseudonym from the
    store's salted patient-ID hash, else the case itself."""
    if ref.patient_id_hash:
        return f"patient-{ref.patient_id_hash[:PATIENT_KEY_HEX]}"
    return f"case-{ref.label}"


@dataclass(frozen=True)
class StoreCohort:
    """The reference cases taken from a store, and what was left out and why."""

    cases: tuple[ReferenceCase, ...]
    picked: tuple[tuple[str, int, str], ...]  # (case label, version number, version source) per case
    skipped: tuple[tuple[str, str], ...]  # (case label, reason)
    n_without_patient_id: int
    store_url: str

    @property
    def n_patients(self) -> int:
        return len({c.patient_id for c in self.cases})

    def origin(self) -> dict[str, Any]:
        """What a model's training-data summary records about this cohort (no patient hashes)."""
        return {
            "from": "case store",
            "store": self.store_url,
            "sources": dict(sorted(Counter(src for _, _, src in self.picked).items())),
            "versions": [f"{label} v{n}" for label, n, _ in self.picked],
            "cases_without_patient_id": self.n_without_patient_id,
            "skipped": [f"{label}: {why}" for label, why in self.skipped],
        }

    def describe(self) -> str:
        """One line for the CLI."""
        srcs = ", ".join(f"{k} {v}" for k, v in self.origin()["sources"].items())
        text = f"{len(self.cases)} reference cases of {self.n_patients} patients from {self.store_url} ({srcs})"
        if self.n_without_patient_id:
            text += (
                f"; {self.n_without_patient_id} case(s) had no patient ID and count as their own patient "
                "(two such cases of one person could land on both sides of the split)"
            )
        if self.skipped:
            text += f"; skipped {len(self.skipped)}: " + "; ".join(f"{a} ({b})" for a, b in self.skipped)
        return text


def cases_from_store(store: Store, *, label_glob: str | None = None) -> StoreCohort:
    """The store's reference cases (see module docstring); a case whose mask cannot serve (no muscle, image not
    in HU) is skipped with its reason. Raises :class:`InvalidMaskError` when none is left."""
    cases: list[ReferenceCase] = []
    picked: list[tuple[str, int, str]] = []
    skipped: list[tuple[str, str]] = []
    no_pid = 0
    for ref in store.reference_slices(label_glob=label_glob):
        try:
            case = ReferenceCase.of(
                case_id=ref.label,
                hu=ref.hu,
                reference=ref.mask,
                spacing_mm=(ref.row_mm, ref.col_mm),
                patient_id=store_patient_id(ref),
                height_m=ref.height_m,
                weight_kg=ref.weight_kg,
                sex=ref.sex,
            )
        except SarcoError as exc:
            skipped.append((ref.label, str(exc)))
            continue
        cases.append(case)
        picked.append((ref.label, ref.version.number, ref.version.source))
        no_pid += ref.patient_id_hash is None
    if not cases:
        which = f" whose label matches {label_glob!r}" if label_glob else ""
        extra = f" ({len(skipped)} skipped: {skipped[0][1]})" if skipped else ""
        raise InvalidMaskError(
            f"The case store {store.display_url} holds no case{which} with a reference mask (a saved edit or an "
            f"imported mask){extra}. Import masks with `sarco import-masks ... --store`, or correct and save "
            "masks in the app."
        )
    return StoreCohort(
        cases=tuple(cases),
        picked=tuple(picked),
        skipped=tuple(skipped),
        n_without_patient_id=no_pid,
        store_url=store.display_url,
    )


def resolve_cohort(
    cohort: str | Path | None, *, from_store: bool, label_glob: str | None = None, db_url: str | None = None
) -> tuple[list[ReferenceCase], StoreCohort | None]:
    """The reference cases of a command: from an import set / manifest (``cohort``) or the case store."""
    if from_store == (cohort is not None):
        raise ManifestError(
            "Give either a cohort (an import set folder or a CSV manifest) or --from-store, not "
            + ("both." if from_store else "neither.")
        )
    if not from_store:
        if label_glob:
            raise ManifestError("--cases selects store cases; use it with --from-store.")
        return load_cases(str(cohort)), None
    from sarco_core.store import Store

    with Store.open(db_url) as store:
        sc = cases_from_store(store, label_glob=label_glob)
    return list(sc.cases), sc
