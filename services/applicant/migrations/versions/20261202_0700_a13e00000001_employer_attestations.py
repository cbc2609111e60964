"""Employer attestations: employment and social-insurance months attested at the source, and the index that
finds an employer's staff (the talents whose profile names its credit code).

Revision ID: a13e00000001
Revises: a12f00000004
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.db import UTCDateTime
from sqlmodel.sql.sqltypes import AutoString

revision: str = "a13e00000001"
down_revision: str | None = "a12f00000004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# At most one standing attestation per talent and employer.
_STANDING = sa.text("status = 'standing'")


def upgrade() -> None:
    op.create_table(
        "talent_employment_attestation",
        sa.Column("id", AutoString(length=36), nullable=False),
        sa.Column("talent_id", AutoString(length=36), nullable=False),
        sa.Column("employer_credit_code", AutoString(length=18), nullable=False),
        sa.Column("employer_name", AutoString(length=200), nullable=False),
        sa.Column("employed_since", sa.Date(), nullable=False),
        sa.Column("position", AutoString(length=100), nullable=True),
        sa.Column("social_insurance_months", sa.Integer(), nullable=False),
        sa.Column("outcome", AutoString(length=10), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", AutoString(length=12), nullable=False),
        sa.Column("attested_facts", sa.JSON(), nullable=False),
        sa.Column("mismatched_facts", sa.JSON(), nullable=False),
        sa.Column("blocking", sa.Boolean(), nullable=False),
        sa.Column("attested_by", AutoString(length=64), nullable=False),
        sa.Column("attested_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["talent_id"], ["talent.id"], name=op.f("fk_talent_employment_attestation_talent_id_talent")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_employment_attestation")),
    )
    op.create_index(
        "ix_talent_employment_attestation_talent",
        "talent_employment_attestation",
        ["talent_id", "attested_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_talent_employment_attestation_employer",
        "talent_employment_attestation",
        ["employer_credit_code", "attested_at", "id"],
        unique=False,
    )
    op.create_index(
        "uq_talent_employment_attestation_standing",
        "talent_employment_attestation",
        ["talent_id", "employer_credit_code"],
        unique=True,
        sqlite_where=_STANDING,
        postgresql_where=_STANDING,
    )
    op.create_index(
        "ix_talent_profile_employer",
        "talent_profile",
        ["employer_credit_code", "created_at", "talent_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_talent_profile_employer", table_name="talent_profile")
    op.drop_index("uq_talent_employment_attestation_standing", table_name="talent_employment_attestation")
    op.drop_index("ix_talent_employment_attestation_employer", table_name="talent_employment_attestation")
    op.drop_index("ix_talent_employment_attestation_talent", table_name="talent_employment_attestation")
    op.drop_table("talent_employment_attestation")
