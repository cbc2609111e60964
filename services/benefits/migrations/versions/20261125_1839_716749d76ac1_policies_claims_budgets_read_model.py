"""Benefits' tables (policies, the talents' read model, claims, history, objections, budgets), the kit
tables, and version 1 of the default policy catalogue (data/policies.v1.json).

Revision ID: 716749d76ac1
Revises:
Create Date: 2026-11-25 18:39:34.817388
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from benefits.catalogue import SEED_V1, seed_rows
from servicekit.db import UTCDateTime, utcnow
from servicekit.migrations import create_kit_tables, drop_kit_tables

revision: str = "716749d76ac1"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_kit_tables(op)
    op.create_table(
        "benefit_budget",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("committed_fen", sa.BigInteger(), nullable=False),
        sa.Column("committed_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_budget")),
        sa.UniqueConstraint("policy_code", "year", name=op.f("uq_benefit_budget_policy_code_year")),
    )
    op.create_table(
        "benefit_claim",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("talent_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("policy_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("auto_grant_key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("period_key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
        sa.Column("amount_fen", sa.BigInteger(), nullable=True),
        sa.Column("months", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("talent_pseudonym", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("submitted_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("stage_due_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("city_approvals", sa.Integer(), nullable=False),
        sa.Column("publicized_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("publicity_ended_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("budget_committed", sa.Boolean(), nullable=False),
        sa.Column("payment_reference", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("disbursed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_claim")),
        sa.UniqueConstraint("auto_grant_key", name=op.f("uq_benefit_claim_auto_grant_key")),
        sa.UniqueConstraint("payment_reference", name=op.f("uq_benefit_claim_payment_reference")),
        sa.UniqueConstraint("period_key", name=op.f("uq_benefit_claim_period_key")),
    )
    with op.batch_alter_table("benefit_claim", schema=None) as batch_op:
        batch_op.create_index("ix_benefit_claim_queue", ["status", "region_code", "submitted_at"], unique=False)
        batch_op.create_index("ix_benefit_claim_talent", ["talent_id", "policy_code"], unique=False)

    policy_table = op.create_table(
        "benefit_policy",
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("name_en", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("auto_grant", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("change_reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("code", "version", name=op.f("pk_benefit_policy")),
    )
    with op.batch_alter_table("benefit_policy", schema=None) as batch_op:
        batch_op.create_index("ix_benefit_policy_current", ["code", "current"], unique=False)

    op.create_table(
        "benefit_talent",
        sa.Column("talent_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("pseudonym", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("status_as_of", UTCDateTime(timezone=True), nullable=True),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("certified_until", sa.Date(), nullable=True),
        sa.Column("certified_region_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("profile_as_of", UTCDateTime(timezone=True), nullable=True),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("degree", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("graduated_on", sa.Date(), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("employer_region_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("employer_in_shortage_catalogue", sa.Boolean(), nullable=False),
        sa.Column("social_insurance_months", sa.Integer(), nullable=False),
        sa.Column("owns_home_in_city", sa.Boolean(), nullable=False),
        sa.Column("works_in_city", sa.Boolean(), nullable=False),
        sa.Column("housing_voucher_used", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("talent_id", name=op.f("pk_benefit_talent")),
    )
    op.create_table(
        "benefit_talent_lease",
        sa.Column("lease_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("talent_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("started", sa.Boolean(), nullable=False),
        sa.Column("ended", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("lease_id", name=op.f("pk_benefit_talent_lease")),
    )
    with op.batch_alter_table("benefit_talent_lease", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_benefit_talent_lease_talent_id"), ["talent_id"], unique=False)

    op.create_table(
        "benefit_claim_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("from_status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("to_status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["benefit_claim.id"], name=op.f("fk_benefit_claim_history_claim_id_benefit_claim")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_claim_history")),
    )
    with op.batch_alter_table("benefit_claim_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_benefit_claim_history_claim_id"), ["claim_id"], unique=False)

    op.create_table(
        "benefit_claim_objection",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("claim_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("raised_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("raised_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["benefit_claim.id"], name=op.f("fk_benefit_claim_objection_claim_id_benefit_claim")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_claim_objection")),
    )
    with op.batch_alter_table("benefit_claim_objection", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_benefit_claim_objection_claim_id"), ["claim_id"], unique=False)

    # The default catalogue, loaded from the versioned seed file named here (a later catalogue is a new
    # file and a new migration, so this one always loads the same rows).
    op.bulk_insert(policy_table, seed_rows(SEED_V1, utcnow()))


def downgrade() -> None:
    with op.batch_alter_table("benefit_claim_objection", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_benefit_claim_objection_claim_id"))

    op.drop_table("benefit_claim_objection")
    with op.batch_alter_table("benefit_claim_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_benefit_claim_history_claim_id"))

    op.drop_table("benefit_claim_history")
    with op.batch_alter_table("benefit_talent_lease", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_benefit_talent_lease_talent_id"))

    op.drop_table("benefit_talent_lease")
    op.drop_table("benefit_talent")
    with op.batch_alter_table("benefit_policy", schema=None) as batch_op:
        batch_op.drop_index("ix_benefit_policy_current")

    op.drop_table("benefit_policy")
    with op.batch_alter_table("benefit_claim", schema=None) as batch_op:
        batch_op.drop_index("ix_benefit_claim_talent")
        batch_op.drop_index("ix_benefit_claim_queue")

    op.drop_table("benefit_claim")
    op.drop_table("benefit_budget")
    drop_kit_tables(op)
