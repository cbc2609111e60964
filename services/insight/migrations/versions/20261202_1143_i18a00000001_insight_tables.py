"""Insight's tables (state rows of talents by pseudonym, certification cases, claims, policy budgets, rounds,
offers, leases, code verifications, employers' demand) and the kit tables.

Revision ID: i18a00000001
Revises:
Create Date: 2026-12-02 11:43:21
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from servicekit.db import UTCDateTime
from servicekit.migrations import create_kit_tables, drop_kit_tables

revision: str = "i18a00000001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "insight_certification",
        sa.Column("certification_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("route", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("submitted_at", UTCDateTime(), nullable=True),
        sa.Column("county_decided_at", UTCDateTime(), nullable=True),
        sa.Column("city_decided_at", UTCDateTime(), nullable=True),
        sa.Column("county_escalated", sa.Boolean(), nullable=False),
        sa.Column("city_escalated", sa.Boolean(), nullable=False),
        sa.Column("county_hours", sa.Integer(), nullable=True),
        sa.Column("city_hours", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("status_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("certification_id", name=op.f("pk_insight_certification")),
    )
    op.create_table(
        "insight_claim",
        sa.Column("claim_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("pseudonym", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("policy_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("submitted_on", sa.Date(), nullable=True),
        sa.Column("submitted_at", UTCDateTime(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("status_at", UTCDateTime(), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("amount_at", UTCDateTime(), nullable=True),
        sa.Column("paid_fen", sa.BigInteger(), nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("county_decided_at", UTCDateTime(), nullable=True),
        sa.Column("city_decided_at", UTCDateTime(), nullable=True),
        sa.Column("county_escalated", sa.Boolean(), nullable=False),
        sa.Column("city_escalated", sa.Boolean(), nullable=False),
        sa.Column("county_hours", sa.Integer(), nullable=True),
        sa.Column("city_hours", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_insight_claim")),
    )
    with op.batch_alter_table("insight_claim", schema=None) as batch_op:
        batch_op.create_index("ix_insight_claim_policy_year", ["policy_code", "year"], unique=False)
    op.create_table(
        "insight_demand",
        sa.Column("demand_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("shortage_category", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.Column("declared_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("demand_id", name=op.f("pk_insight_demand")),
    )
    op.create_table(
        "insight_lease",
        sa.Column("lease_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("lease_id", name=op.f("pk_insight_lease")),
    )
    op.create_table(
        "insight_offer",
        sa.Column("offer_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("round_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("offer_id", name=op.f("pk_insight_offer")),
    )
    op.create_table(
        "insight_policy_budget",
        sa.Column("policy_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("yearly_budget_fen", sa.BigInteger(), nullable=True),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("policy_code", name=op.f("pk_insight_policy_budget")),
    )
    op.create_table(
        "insight_round",
        sa.Column("round_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=True),
        sa.Column("unit_count", sa.Integer(), nullable=False),
        sa.Column("application_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("round_id", name=op.f("pk_insight_round")),
    )
    op.create_table(
        "insight_talent",
        sa.Column("pseudonym", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("degree", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("shortage", sa.Boolean(), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=True),
        sa.Column("profile_at", UTCDateTime(), nullable=True),
        sa.Column("route", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=True),
        sa.Column("route_at", UTCDateTime(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("certified_on", sa.Date(), nullable=True),
        sa.Column("status_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("pseudonym", name=op.f("pk_insight_talent")),
    )
    with op.batch_alter_table("insight_talent", schema=None) as batch_op:
        batch_op.create_index("ix_insight_talent_status_tier", ["status", "tier"], unique=False)
    op.create_table(
        "insight_verification",
        sa.Column("verification_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scene", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("partner_kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("issuing_city", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.PrimaryKeyConstraint("verification_id", name=op.f("pk_insight_verification")),
    )
    with op.batch_alter_table("insight_verification", schema=None) as batch_op:
        batch_op.create_index("ix_insight_verification_day", ["day"], unique=False)
    create_kit_tables(op)


def downgrade() -> None:
    drop_kit_tables(op)
    op.drop_table("insight_verification")
    op.drop_table("insight_talent")
    op.drop_table("insight_round")
    op.drop_table("insight_policy_budget")
    op.drop_table("insight_offer")
    op.drop_table("insight_lease")
    op.drop_table("insight_demand")
    op.drop_table("insight_claim")
    op.drop_table("insight_certification")
