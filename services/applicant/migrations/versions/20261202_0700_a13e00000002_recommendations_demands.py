"""Employer recommendations (举荐) and demand declarations (人才需求申报); the recommendation a certification cites.

Revision ID: a13e00000002
Revises: a13e00000001
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.db import UTCDateTime
from sqlmodel.sql.sqltypes import AutoString

revision: str = "a13e00000002"
down_revision: str | None = "a13e00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ONE_FILED = sa.text("status = 'filed'")


def upgrade() -> None:
    op.create_table(
        "talent_recommendation",
        sa.Column("id", AutoString(length=36), nullable=False),
        sa.Column("talent_id", AutoString(length=36), nullable=False),
        sa.Column("employer_credit_code", AutoString(length=18), nullable=False),
        sa.Column("employer_name", AutoString(length=200), nullable=False),
        sa.Column("claimed_tier", AutoString(length=1), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", AutoString(length=20), nullable=False),
        sa.Column("certification_id", AutoString(length=36), nullable=True),
        sa.Column("filed_by", AutoString(length=64), nullable=False),
        sa.Column("filed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["talent_id"], ["talent.id"], name=op.f("fk_talent_recommendation_talent_id_talent")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_recommendation")),
    )
    op.create_index(
        op.f("ix_talent_recommendation_employer"),
        "talent_recommendation",
        ["employer_credit_code", "filed_at", "id"],
        unique=False,
    )
    op.create_index(op.f("ix_talent_recommendation_talent_id"), "talent_recommendation", ["talent_id"], unique=False)
    op.create_index(
        op.f("uq_talent_recommendation_filed"),
        "talent_recommendation",
        ["talent_id", "employer_credit_code"],
        unique=True,
        sqlite_where=_ONE_FILED,
        postgresql_where=_ONE_FILED,
    )
    op.create_table(
        "talent_demand",
        sa.Column("id", AutoString(length=36), nullable=False),
        sa.Column("employer_credit_code", AutoString(length=18), nullable=False),
        sa.Column("employer_name", AutoString(length=200), nullable=False),
        sa.Column("region_code", AutoString(length=12), nullable=False),
        sa.Column("title", AutoString(length=100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("shortage_category", AutoString(length=40), nullable=False),
        sa.Column("degree", AutoString(length=20), nullable=True),
        sa.Column("salary_band", AutoString(length=20), nullable=True),
        sa.Column("status", AutoString(length=20), nullable=False),
        sa.Column("declared_by", AutoString(length=64), nullable=False),
        sa.Column("declared_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_by", AutoString(length=64), nullable=True),
        sa.Column("closed_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_demand")),
    )
    op.create_index(
        op.f("ix_talent_demand_employer"), "talent_demand", ["employer_credit_code", "declared_at", "id"], unique=False
    )
    op.create_index(op.f("ix_talent_demand_public"), "talent_demand", ["status", "declared_at", "id"], unique=False)
    with op.batch_alter_table("talent_certification") as batch:
        batch.add_column(sa.Column("recommendation_id", AutoString(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("talent_certification") as batch:
        batch.drop_column("recommendation_id")
    op.drop_index(op.f("ix_talent_demand_public"), table_name="talent_demand")
    op.drop_index(op.f("ix_talent_demand_employer"), table_name="talent_demand")
    op.drop_table("talent_demand")
    op.drop_index(op.f("uq_talent_recommendation_filed"), table_name="talent_recommendation")
    op.drop_index(op.f("ix_talent_recommendation_talent_id"), table_name="talent_recommendation")
    op.drop_index(op.f("ix_talent_recommendation_employer"), table_name="talent_recommendation")
    op.drop_table("talent_recommendation")
