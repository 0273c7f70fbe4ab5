"""SQLAlchemy 2 ORM tables. Any change here needs a new Alembic revision in ``migrations/versions``
(a test checks that the migrations and this metadata agree)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

UID = String(64)
SHA = String(64)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Case(Base):
    """A de-identified case: image copy (compressed, checksummed), source UIDs, patient data as given."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    label: Mapped[str] = mapped_column(String(128), index=True)
    patient_id_hash: Mapped[str | None] = mapped_column(SHA, index=True)
    study_uid: Mapped[str | None] = mapped_column(UID)
    series_uid: Mapped[str | None] = mapped_column(UID)
    frame_of_reference_uid: Mapped[str | None] = mapped_column(UID)
    sop_class_uid: Mapped[str | None] = mapped_column(UID)
    sop_uids_json: Mapped[str] = mapped_column(Text)  # JSON list, one per canonical slice (DICOM) or []
    input_sha256: Mapped[str | None] = mapped_column(SHA)
    input_kind: Mapped[str] = mapped_column(String(32))
    n_slices: Mapped[int] = mapped_column(Integer)
    n_rows: Mapped[int] = mapped_column(Integer)
    n_cols: Mapped[int] = mapped_column(Integer)
    geometry_json: Mapped[str] = mapped_column(Text)  # affine, spacing, source axes/flips/affine
    meta_json: Mapped[str] = mapped_column(Text)  # non-identifying SourceMeta fields, warnings, is_hu
    image_npz: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))  # hu + z_mm (+ affine) as npz
    image_sha256: Mapped[str] = mapped_column(SHA)
    image_nbytes: Mapped[int] = mapped_column(Integer)
    sex: Mapped[str | None] = mapped_column(String(1))
    height_m: Mapped[float | None] = mapped_column(Float)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    age_years: Mapped[float | None] = mapped_column(Float)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_reason: Mapped[str | None] = mapped_column(Text)


class Analysis(Base):
    """One analysis run with provenance; ``result_json`` is the full analysis JSON."""

    __tablename__ = "analyses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(128))
    software_version: Mapped[str] = mapped_column(String(32))
    method: Mapped[str | None] = mapped_column(String(32))
    model_name: Mapped[str | None] = mapped_column(String(128))
    model_version: Mapped[str | None] = mapped_column(String(64))
    model_sha256: Mapped[str | None] = mapped_column(SHA)
    rule: Mapped[str | None] = mapped_column(String(64))
    hu_gates_json: Mapped[str] = mapped_column(Text)
    input_sha256: Mapped[str | None] = mapped_column(SHA)
    slice_index: Mapped[int] = mapped_column(Integer)
    l3_auto_index: Mapped[int | None] = mapped_column(Integer)
    l3_overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    confidence: Mapped[float | None] = mapped_column(Float)
    qc_flags_json: Mapped[str] = mapped_column(Text)
    result_json: Mapped[str] = mapped_column(Text)


class MaskVersion(Base):
    """An immutable 2-D label mask of the measured slice; ``(case_id, number)`` is unique."""

    __tablename__ = "mask_versions"
    __table_args__ = (UniqueConstraint("case_id", "number", name="uq_mask_versions_case_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("mask_versions.id"))
    analysis_id: Mapped[int | None] = mapped_column(ForeignKey("analyses.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    author: Mapped[str] = mapped_column(String(128))
    comment: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    slice_index: Mapped[int] = mapped_column(Integer)
    z_mm: Mapped[float | None] = mapped_column(Float)
    n_rows: Mapped[int] = mapped_column(Integer)
    n_cols: Mapped[int] = mapped_column(Integer)
    mask_zlib: Mapped[bytes] = mapped_column(LargeBinary)  # uint8 rows × cols, zlib
    sha256: Mapped[str] = mapped_column(SHA)  # of the raw uint8 mask bytes
    sma_cm2: Mapped[float] = mapped_column(Float)
    imat_cm2: Mapped[float] = mapped_column(Float)
    sat_cm2: Mapped[float | None] = mapped_column(Float)
    vat_cm2: Mapped[float | None] = mapped_column(Float)
    muscle_hu_mean: Mapped[float | None] = mapped_column(Float)
    muscle_pixels: Mapped[int] = mapped_column(Integer)


class AuditEventRow(Base):
    """Who did what to which case, when."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    details_json: Mapped[str] = mapped_column(Text)


class User(Base):
    """A person who may sign in to the app; ``password_hash`` is argon2id (never the password)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(Text)  # None: single sign-on only
    email: Mapped[str | None] = mapped_column(String(256), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class SignInSession(Base):
    """A browser sign-in that survives a page reload: the browser keeps the token, the store its SHA-256."""

    __tablename__ = "sign_in_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(SHA, unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
