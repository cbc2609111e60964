"""Trusted facts: provenance of decision-relevant facts, change requests, sealed identity corrections.

Revision ID: a12f00000001
Revises: 562d41dfc5c8
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.db import UTCDateTime
from sqlmodel.sql.sqltypes import AutoString

revision: str = "a12f00000001"
down_revision: str | None = "562d41dfc5c8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "talent_fact_provenance",
        sa.Column("talent_id", AutoString(length=36), nullable=False),
        sa.Column("fact", AutoString(length=40), nullable=False),
        sa.Column("source", AutoString(length=20), nullable=False),
        sa.Column("confirmed_by", AutoString(length=64), nullable=True),
        sa.Column("confirmed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("basis", AutoString(length=80), nullable=True),
        sa.ForeignKeyConstraint(["talent_id"], ["talent.id"], name=op.f("fk_talent_fact_provenance_talent_id_talent")),
        sa.PrimaryKeyConstraint("talent_id", "fact", name=op.f("pk_talent_fact_provenance")),
    )
    op.create_table(
        "talent_change_request",
        sa.Column("id", AutoString(length=36), nullable=False),
        sa.Column("talent_id", AutoString(length=36), nullable=False),
        sa.Column("region_code", AutoString(length=12), nullable=False),
        sa.Column("status", AutoString(length=20), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", AutoString(length=64), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["talent_id"], ["talent.id"], name=op.f("fk_talent_change_request_talent_id_talent")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_change_request")),
    )
    op.create_index(
        op.f("ix_talent_change_request_queue"),
        "talent_change_request",
        ["status", "region_code", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_talent_change_request_talent_id"), "talent_change_request", ["talent_id"], unique=False)
    op.create_table(
        "talent_change_request_evidence",
        sa.Column("change_request_id", AutoString(length=36), nullable=False),
        sa.Column("document_id", AutoString(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_request_id"],
            ["talent_change_request.id"],
            name=op.f("fk_talent_change_request_evidence_change_request_id_talent_change_request"),
        ),
        sa.PrimaryKeyConstraint("change_request_id", "document_id", name=op.f("pk_talent_change_request_evidence")),
    )
    op.create_index(
        op.f("ix_talent_change_request_evidence_document_id"),
        "talent_change_request_evidence",
        ["document_id"],
        unique=False,
    )
    op.create_table(
        "talent_identity_correction",
        sa.Column("id", AutoString(length=36), nullable=False),
        sa.Column("talent_id", AutoString(length=36), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("before_sealed", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("corrected_by", AutoString(length=64), nullable=False),
        sa.Column("corrected_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["talent_id"], ["talent.id"], name=op.f("fk_talent_identity_correction_talent_id_talent")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_identity_correction")),
    )
    op.create_index(
        op.f("ix_talent_identity_correction_talent_id"), "talent_identity_correction", ["talent_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_talent_identity_correction_talent_id"), table_name="talent_identity_correction")
    op.drop_table("talent_identity_correction")
    op.drop_index(op.f("ix_talent_change_request_evidence_document_id"), table_name="talent_change_request_evidence")
    op.drop_table("talent_change_request_evidence")
    op.drop_index(op.f("ix_talent_change_request_talent_id"), table_name="talent_change_request")
    op.drop_index(op.f("ix_talent_change_request_queue"), table_name="talent_change_request")
    op.drop_table("talent_change_request")
    op.drop_table("talent_fact_provenance")
