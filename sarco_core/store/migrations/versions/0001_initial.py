"""Initial schema: cases, analyses, mask_versions, audit_events.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UID = sa.String(64)
SHA = sa.String(64)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("patient_id_hash", SHA, nullable=True),
        sa.Column("study_uid", UID, nullable=True),
        sa.Column("series_uid", UID, nullable=True),
        sa.Column("frame_of_reference_uid", UID, nullable=True),
        sa.Column("sop_class_uid", UID, nullable=True),
        sa.Column("sop_uids_json", sa.Text(), nullable=False),
        sa.Column("input_sha256", SHA, nullable=True),
        sa.Column("input_kind", sa.String(32), nullable=False),
        sa.Column("n_slices", sa.Integer(), nullable=False),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("n_cols", sa.Integer(), nullable=False),
        sa.Column("geometry_json", sa.Text(), nullable=False),
        sa.Column("meta_json", sa.Text(), nullable=False),
        sa.Column("image_npz", sa.LargeBinary(), nullable=False),
        sa.Column("image_sha256", SHA, nullable=False),
        sa.Column("image_nbytes", sa.Integer(), nullable=False),
        sa.Column("sex", sa.String(1), nullable=True),
        sa.Column("height_m", sa.Float(), nullable=True),
        sa.Column("weight_kg", sa.Float(), nullable=True),
        sa.Column("age_years", sa.Float(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", TS, nullable=True),
        sa.Column("deleted_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
    )
    op.create_index("ix_cases_label", "cases", ["label"])
    op.create_index("ix_cases_patient_id_hash", "cases", ["patient_id_hash"])

    op.create_table(
        "analyses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("software_version", sa.String(32), nullable=False),
        sa.Column("method", sa.String(32), nullable=True),
        sa.Column("model_name", sa.String(128), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=True),
        sa.Column("model_sha256", SHA, nullable=True),
        sa.Column("rule", sa.String(64), nullable=True),
        sa.Column("hu_gates_json", sa.Text(), nullable=False),
        sa.Column("input_sha256", SHA, nullable=True),
        sa.Column("slice_index", sa.Integer(), nullable=False),
        sa.Column("l3_auto_index", sa.Integer(), nullable=True),
        sa.Column("l3_overridden", sa.Boolean(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("qc_flags_json", sa.Text(), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_analyses_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_analyses"),
    )
    op.create_index("ix_analyses_case_id", "analyses", ["case_id"])

    op.create_table(
        "mask_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("analysis_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("author", sa.String(128), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("slice_index", sa.Integer(), nullable=False),
        sa.Column("z_mm", sa.Float(), nullable=True),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("n_cols", sa.Integer(), nullable=False),
        sa.Column("mask_zlib", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", SHA, nullable=False),
        sa.Column("sma_cm2", sa.Float(), nullable=False),
        sa.Column("imat_cm2", sa.Float(), nullable=False),
        sa.Column("sat_cm2", sa.Float(), nullable=True),
        sa.Column("vat_cm2", sa.Float(), nullable=True),
        sa.Column("muscle_hu_mean", sa.Float(), nullable=True),
        sa.Column("muscle_pixels", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_mask_versions_case_id_cases"),
        sa.ForeignKeyConstraint(["parent_id"], ["mask_versions.id"], name="fk_mask_versions_parent_id_mask_versions"),
        sa.ForeignKeyConstraint(["analysis_id"], ["analyses.id"], name="fk_mask_versions_analysis_id_analyses"),
        sa.PrimaryKeyConstraint("id", name="pk_mask_versions"),
        sa.UniqueConstraint("case_id", "number", name="uq_mask_versions_case_number"),
    )
    op.create_index("ix_mask_versions_case_id", "mask_versions", ["case_id"])

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("time", TS, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("details_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_audit_events_case_id_cases"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_time", "audit_events", ["time"])
    op.create_index("ix_audit_events_case_id", "audit_events", ["case_id"])


def downgrade() -> None:
    op.drop_table("audit_events")
    op.drop_table("mask_versions")
    op.drop_table("analyses")
    op.drop_table("cases")
