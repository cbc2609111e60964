"""Cross-city cost settlement (成本结算): the usage store, issued months and their statements; the service's
rule book (the kit's table `rule_version`) with version 1 of the price table (data/settlement_prices.v1.json).

Revision ID: b19e00000001
Revises: b16e00000001
Create Date: 2026-12-02 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from benefits.rules import RULES
from servicekit.db import UTCDateTime
from servicekit.migrations import create_rule_versions, drop_rule_versions

revision: str = "b19e00000001"
down_revision: str | None = "b16e00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_rule_versions(op, RULES)
    op.create_table(
        "settlement_usage",
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("partner", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("partner_kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("scene", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("issuing_city", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("privileges", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("occurred_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("settled_month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_settlement_usage")),
    )
    with op.batch_alter_table("settlement_usage") as batch_op:
        batch_op.create_index("ix_settlement_usage_unsettled", ["settled_month", "month"], unique=False)
    op.create_table(
        "settlement_month",
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("prices_version", sa.Integer(), nullable=False),
        sa.Column("statements", sa.Integer(), nullable=False),
        sa.Column("verifications", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("issued_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("issued_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_settlement_month")),
    )
    op.create_table(
        "settlement_statement",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("partner", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("issuing_city", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["month"], ["settlement_month.month"], name=op.f("fk_settlement_statement_month_settlement_month")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_statement")),
        sa.UniqueConstraint(
            "month", "partner", "issuing_city", name=op.f("uq_settlement_statement_month_partner_issuing_city")
        ),
    )
    with op.batch_alter_table("settlement_statement") as batch_op:
        batch_op.create_index(batch_op.f("ix_settlement_statement_partner"), ["partner"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("settlement_statement") as batch_op:
        batch_op.drop_index(batch_op.f("ix_settlement_statement_partner"))
    op.drop_table("settlement_statement")
    op.drop_table("settlement_month")
    with op.batch_alter_table("settlement_usage") as batch_op:
        batch_op.drop_index("ix_settlement_usage_unsettled")
    op.drop_table("settlement_usage")
    drop_rule_versions(op)
