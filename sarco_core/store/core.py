"""Store core: opening and migrating the database, transactions, the image cache and the helpers every part
of the store shares (audit rows, measured mask versions, analyses, conflict checks). Cases: :mod:`.cases`."""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Self

import numpy as np
from alembic.util import CommandError
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sarco_core import __version__
from sarco_core.cutoffs import normalise_sex, validate_height_m, validate_weight_kg
from sarco_core.errors import ConflictError, StoreError
from sarco_core.metrics import HUGates, measure_slice
from sarco_core.store import codec, convert
from sarco_core.store.db import default_db_url, make_engine, migrate, redact_url
from sarco_core.store.provenance import extract, scrub
from sarco_core.store.records import (
    IMPORTED_PREFIX,
    MASK_SOURCES,
    MaskVersionRecord,
)
from sarco_core.store.schema import Analysis, AuditEventRow, Case, MaskVersion
from sarco_core.volume import Volume

log = logging.getLogger("sarco_core.store")


def now_utc() -> datetime:
    return datetime.now(UTC)


def _who(name: str | None) -> str:
    return (str(name or "").strip() or "anonymous")[:128]


class StoreCore:
    """Base of :class:`sarco_core.store.Store`; every method runs in its own transaction."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._cache: OrderedDict[str, Volume] = OrderedDict()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, url: str | None = None) -> Self:
        """Open (creating and migrating to the newest schema) the database at ``url`` or ``default_db_url()``."""
        url = url or default_db_url()
        engine = make_engine(url)
        try:
            migrate(engine)
        except OperationalError as exc:
            raise StoreError(
                f"Cannot open the case database {redact_url(url)} ({exc.orig}). Check SARCO_DB_URL, that the "
                "server is running and that you may write there."
            ) from None
        except CommandError as exc:
            engine.dispose()
            raise StoreError(
                f"The case database {redact_url(url)} has a schema this version of sarco does not know ({exc}); "
                "it was probably written by a newer sarco. Upgrade sarco, or point SARCO_DB_URL elsewhere."
            ) from None
        return cls(engine, url)

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with self._sessions() as s:
            try:
                with s.begin():
                    yield s
            except OperationalError as exc:
                raise StoreError(
                    f"The case database is busy or unavailable ({exc.orig}); nothing was changed. Try again."
                ) from None

    # ------------------------------------------------------------------ helpers
    def _case(self, s: Session, case_id: int, *, allow_deleted: bool = False) -> Case:
        row = s.get(Case, case_id)
        if row is None:
            raise StoreError(f"There is no case with id {case_id}. Reload the case list.")
        if row.deleted and not allow_deleted:
            raise StoreError(f"Case {row.label} was deleted ({row.deleted_reason or 'no reason given'}).")
        return row

    def _latest(self, s: Session, case_id: int) -> MaskVersion | None:
        q = select(MaskVersion).where(MaskVersion.case_id == case_id).order_by(MaskVersion.number.desc()).limit(1)
        return s.scalars(q).first()

    def _audit(self, s: Session, action: str, actor: str, case_id: int | None, **details: Any) -> None:
        s.add(
            AuditEventRow(
                time=now_utc(), actor=_who(actor), action=action, case_id=case_id, details_json=codec.dumps(details)
            )
        )

    def _volume(self, case: Case) -> Volume:
        with self._lock:
            v = self._cache.get(case.image_sha256)
            if v is not None:
                self._cache.move_to_end(case.image_sha256)
                return v
        if not case.image_sha256:
            raise StoreError(f"The image of case {case.label} was purged; the case cannot be reopened.")
        vol = codec.decode_volume(
            case.image_npz,
            case.image_sha256,
            json.loads(case.geometry_json),
            json.loads(case.meta_json),
            json.loads(case.sop_uids_json),
            case_label=case.label,
        )
        with self._lock:
            self._cache[case.image_sha256] = vol
            while len(self._cache) > 2:
                self._cache.popitem(last=False)
        return vol

    def _gates(self, s: Session, analysis_id: int | None) -> HUGates:
        a = s.get(Analysis, analysis_id) if analysis_id is not None else None
        if a is None:
            return HUGates()
        return HUGates(**{k: tuple(v) for k, v in json.loads(a.hu_gates_json).items()})

    def _slice(self, case: Case, k: int) -> tuple[np.ndarray, float, float, float]:
        """(HU of canonical slice k, row mm, col mm, z mm): from the cached volume, else that slice alone."""
        if not 0 <= k < case.n_slices:
            raise StoreError(f"Slice {k} is outside this case's slices 0..{case.n_slices - 1}.")
        with self._lock:
            vol = self._cache.get(case.image_sha256)
        geo = json.loads(case.geometry_json)
        if not json.loads(case.meta_json).get("is_hu", True):
            raise StoreError(f"Case {case.label}'s image is not in HU, so masks cannot be measured.")
        aff = np.asarray(geo["affine"], dtype=float)
        if vol is not None:
            hu = vol.hu[k]
        elif not case.image_sha256:
            raise StoreError(f"The image of case {case.label} was purged; the case cannot be reopened.")
        else:
            hu = codec.decode_hu_slice(case.image_npz, k, case_label=case.label)
        normal = aff[:3, 0] / (np.linalg.norm(aff[:3, 0]) or 1.0)
        normal = -normal if normal[2] < 0 else normal
        z = float((aff[:3, 3] + k * aff[:3, 0]) @ normal)
        return hu, float(np.linalg.norm(aff[:3, 1])), float(np.linalg.norm(aff[:3, 2])), z

    def _add_version(
        self,
        s: Session,
        case: Case,
        labels: np.ndarray,
        *,
        parent: MaskVersion | None,
        analysis_id: int | None,
        slice_index: int,
        author: str,
        comment: str,
        source: str,
    ) -> MaskVersion:
        if source not in MASK_SOURCES and not source.startswith(IMPORTED_PREFIX):
            raise ValueError(f"source must be one of {MASK_SOURCES} or {IMPORTED_PREFIX}<format>")
        hu, row_mm, col_mm, z = self._slice(case, slice_index)
        mask = codec.normalise_mask2d(labels, (case.n_rows, case.n_cols))
        m = measure_slice(
            hu, mask, row_mm=row_mm, col_mm=col_mm, gates=self._gates(s, analysis_id), index=slice_index, z_mm=z
        )
        blob, sha = codec.encode_mask(mask)
        row = MaskVersion(
            case_id=case.id,
            number=(parent.number + 1) if parent is not None else 1,
            parent_id=parent.id if parent is not None else None,
            analysis_id=analysis_id,
            created_at=now_utc(),
            author=_who(author),
            comment=str(comment or ""),
            source=source,
            slice_index=int(slice_index),
            z_mm=m.z_mm,
            n_rows=mask.shape[0],
            n_cols=mask.shape[1],
            mask_zlib=blob,
            sha256=sha,
            sma_cm2=m.sma_cm2,
            imat_cm2=m.imat_cm2,
            sat_cm2=m.sat_cm2,
            vat_cm2=m.vat_cm2,
            muscle_hu_mean=m.muscle_hu_mean,
            muscle_pixels=m.muscle_pixels,
        )
        s.add(row)
        s.flush()
        return row

    def _add_analysis(
        self,
        s: Session,
        case: Case,
        analysis: dict[str, Any],
        slice_index: int,
        actor: str,
        l3_auto_index: int | None,
    ) -> Analysis:
        p = extract(analysis)
        auto = l3_auto_index if l3_auto_index is not None else p.l3_auto_index
        over = p.l3_overridden if p.l3_overridden is not None else (auto is not None and auto != slice_index)
        row = Analysis(
            case_id=case.id,
            created_at=now_utc(),
            actor=_who(actor),
            software_version=__version__,
            method=p.method,
            model_name=p.model_name,
            model_version=p.model_version,
            model_sha256=p.model_sha256,
            rule=p.rule,
            hu_gates_json=json.dumps(p.gates.to_dict()),
            input_sha256=p.input_sha256 or case.input_sha256,
            slice_index=int(slice_index),
            l3_auto_index=auto,
            l3_overridden=bool(over),
            confidence=p.confidence,
            qc_flags_json=json.dumps(list(p.qc_flags)),
            result_json=codec.dumps(scrub(analysis)),
        )
        s.add(row)
        s.flush()
        return row

    def _update_patient(self, case: Case, analysis: dict[str, Any]) -> None:
        """A re-analysis with new patient values (top-level sex/height_m/weight_kg) updates the case."""
        if "sex" in analysis:
            case.sex = normalise_sex(analysis["sex"])
        if "height_m" in analysis:
            case.height_m = validate_height_m(analysis["height_m"])
        if "weight_kg" in analysis:
            case.weight_kg = validate_weight_kg(analysis["weight_kg"])

    def _version_rec(self, s: Session, row: MaskVersion) -> MaskVersionRecord:
        parent = s.get(MaskVersion, row.parent_id) if row.parent_id is not None else None
        return convert.version_record(row, parent)

    def _conflict(self, s: Session, case: Case, latest: MaskVersion | None, parent_version_id: int | None) -> None:
        if latest is not None and latest.id == parent_version_id:
            return
        opened = s.get(MaskVersion, parent_version_id) if parent_version_id is not None else None
        if opened is None or opened.case_id != case.id:
            raise StoreError(f"Version id {parent_version_id} is not a version of case {case.label}; reload the case.")
        assert latest is not None
        when = convert.utc(latest.created_at).strftime("%Y-%m-%d %H:%M:%S UTC")
        err = ConflictError(
            f"Case {case.label} was changed by {latest.author} at {when} (version {latest.number}) after you "
            f"opened version {opened.number}; reload to see their edit, then re-apply yours."
        )
        err.latest_version_id = latest.id  # type: ignore[attr-defined]
        err.latest_number = latest.number  # type: ignore[attr-defined]
        raise err

    def _race_lost(self, case_id: int, parent_version_id: int | None) -> None:
        """A concurrent save took the same version number: report it as a conflict."""
        if parent_version_id is None:
            raise ConflictError(
                "Someone else saved this case at the same moment; nothing of theirs or yours was lost. Try again."
            )
        with self._tx() as s:
            case = self._case(s, case_id, allow_deleted=True)
            self._conflict(s, case, self._latest(s, case_id), parent_version_id)
        raise ConflictError("Someone else saved this case at the same moment; reload it, then re-apply your edit.")
