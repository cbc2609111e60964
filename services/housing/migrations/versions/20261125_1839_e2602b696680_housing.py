"""The housing service's tables: talent read model, projects, units, rounds, applications, offers, leases,
plus the kit tables (outbox, processed_event, idempotency_record, scheduled_timer, audit_log).

Revision ID: e2602b696680
Revises:
Create Date: 2026-11-25 18:39:47
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from servicekit.db import UTCDateTime
from servicekit.migrations import create_kit_tables, drop_kit_tables

revision: str = "e2602b696680"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_kit_tables(op)
    op.create_table(
        "housing_project",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("supply_model", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_housing_project")),
    )
    op.create_table(
        "housing_round",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("closes_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("tier_quotas", sa.Text(), nullable=False),
        sa.Column("unit_count", sa.Integer(), nullable=False),
        sa.Column("application_count", sa.Integer(), nullable=False),
        sa.Column("seed_hex", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("seed_commitment", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("drawn_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_housing_round")),
    )
    op.create_table(
        "housing_talent",
        sa.Column("talent_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("pseudonym", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("certified_until", sa.Date(), nullable=True),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("works_in_city", sa.Boolean(), nullable=True),
        sa.Column("owns_home_in_city", sa.Boolean(), nullable=True),
        sa.Column("voucher_used", sa.Boolean(), nullable=False),
        sa.Column("decline_count", sa.Integer(), nullable=False),
        sa.Column("barred_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("status_as_of", UTCDateTime(timezone=True), nullable=True),
        sa.Column("points_as_of", UTCDateTime(timezone=True), nullable=True),
        sa.Column("profile_as_of", UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("talent_id", name=op.f("pk_housing_talent")),
    )
    op.create_table(
        "housing_application",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("round_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("talent_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("pseudonym", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("household_size", sa.Integer(), nullable=False),
        sa.Column("preferred_project_ids", sa.Text(), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("status_reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=True),
        sa.Column("lottery_number", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("selected", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["housing_round.id"], name=op.f("fk_housing_application_round_id_housing_round")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_housing_application")),
        sa.UniqueConstraint("pseudonym", name=op.f("uq_housing_application_pseudonym")),
        sa.UniqueConstraint("round_id", "talent_id", name=op.f("uq_housing_application_round_id_talent_id")),
    )
    op.create_index("ix_housing_application_queue", "housing_application", ["round_id", "status", "rank"], unique=False)
    op.create_index(op.f("ix_housing_application_talent_id"), "housing_application", ["talent_id"], unique=False)

    op.create_table(
        "housing_unit",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("project_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("unit_type", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("monthly_rent_fen", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("round_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["housing_project.id"], name=op.f("fk_housing_unit_project_id_housing_project")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_housing_unit")),
        sa.UniqueConstraint("project_id", "number", name=op.f("uq_housing_unit_project_id_number")),
    )
    op.create_index(op.f("ix_housing_unit_project_id"), "housing_unit", ["project_id"], unique=False)
    op.create_index(op.f("ix_housing_unit_round_id"), "housing_unit", ["round_id"], unique=False)

    op.create_table(
        "housing_offer",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("round_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("unit_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("application_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("talent_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("made_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["housing_application.id"],
            name=op.f("fk_housing_offer_application_id_housing_application"),
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["housing_round.id"], name=op.f("fk_housing_offer_round_id_housing_round")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["housing_unit.id"], name=op.f("fk_housing_offer_unit_id_housing_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_housing_offer")),
    )
    op.create_index(op.f("ix_housing_offer_application_id"), "housing_offer", ["application_id"], unique=False)
    op.create_index(op.f("ix_housing_offer_round_id"), "housing_offer", ["round_id"], unique=False)
    op.create_index(op.f("ix_housing_offer_talent_id"), "housing_offer", ["talent_id"], unique=False)
    op.create_index(op.f("ix_housing_offer_unit_id"), "housing_offer", ["unit_id"], unique=False)

    op.create_table(
        "housing_round_unit",
        sa.Column("round_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("unit_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["housing_round.id"], name=op.f("fk_housing_round_unit_round_id_housing_round")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["housing_unit.id"], name=op.f("fk_housing_round_unit_unit_id_housing_unit")
        ),
        sa.PrimaryKeyConstraint("round_id", "unit_id", name=op.f("pk_housing_round_unit")),
    )
    op.create_table(
        "housing_lease",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("unit_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("talent_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("offer_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("round_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
        sa.Column("list_rent_fen", sa.Integer(), nullable=False),
        sa.Column("monthly_rent_fen", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("renewals", sa.Integer(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("end_reason", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["offer_id"], ["housing_offer.id"], name=op.f("fk_housing_lease_offer_id_housing_offer")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["housing_unit.id"], name=op.f("fk_housing_lease_unit_id_housing_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_housing_lease")),
        sa.UniqueConstraint("offer_id", name=op.f("uq_housing_lease_offer_id")),
    )
    op.create_index(op.f("ix_housing_lease_talent_id"), "housing_lease", ["talent_id"], unique=False)
    op.create_index(op.f("ix_housing_lease_unit_id"), "housing_lease", ["unit_id"], unique=False)
    op.create_index(
        "uq_housing_lease_active_talent",
        "housing_lease",
        ["talent_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    )
    op.create_index(
        "uq_housing_lease_active_unit",
        "housing_lease",
        ["unit_id"],
        unique=True,
        postgresql_where=sa.text("status = 'active'"),
        sqlite_where=sa.text("status = 'active'"),
    )


def downgrade() -> None:
    op.drop_table("housing_lease")
    op.drop_table("housing_round_unit")
    op.drop_table("housing_offer")
    op.drop_table("housing_unit")
    op.drop_table("housing_application")
    op.drop_table("housing_talent")
    op.drop_table("housing_round")
    op.drop_table("housing_project")
    drop_kit_tables(op)
