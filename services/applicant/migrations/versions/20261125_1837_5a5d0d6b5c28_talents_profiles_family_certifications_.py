"""Talents, profiles, family members, certifications (evidence, decisions), talent-code keys; plus the kit tables.

Revision ID: 5a5d0d6b5c28
Revises:
Create Date: 2026-11-25 18:37:49.115337
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from servicekit.db import UTCDateTime
from servicekit.migrations import create_kit_tables, drop_kit_tables

revision: str = "5a5d0d6b5c28"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_kit_tables(op)
    op.create_table(
        "talent",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("pseudonym", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("certified_until", sa.Date(), nullable=True),
        sa.Column("certified_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent")),
        sa.UniqueConstraint("pseudonym", name=op.f("uq_talent_pseudonym")),
    )
    op.create_table(
        "talent_code_key",
        sa.Column("kid", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("private_key_sealed", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("retires_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_talent_code_key")),
    )
    op.create_table(
        "talent_certification",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("talent_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("route", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("claimed_tier", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
        sa.Column("programme_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("submitted_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("certified_until", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["talent_id"], ["talent.id"], name=op.f("fk_talent_certification_talent_id_talent")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_certification")),
    )
    op.create_index(
        op.f("ix_talent_certification_queue"),
        "talent_certification",
        ["status", "region_code", "submitted_at"],
        unique=False,
    )
    op.create_index(op.f("ix_talent_certification_talent_id"), "talent_certification", ["talent_id"], unique=False)
    op.create_table(
        "talent_family_member",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("talent_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("relation", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("id_type", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("id_number_ciphertext", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("id_number_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("id_number_masked", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["talent_id"], ["talent.id"], name=op.f("fk_talent_family_member_talent_id_talent")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_family_member")),
        sa.UniqueConstraint(
            "talent_id", "id_number_hash", name=op.f("uq_talent_family_member_talent_id_id_number_hash")
        ),
    )
    op.create_index(op.f("ix_talent_family_member_talent_id"), "talent_family_member", ["talent_id"], unique=False)
    op.create_table(
        "talent_profile",
        sa.Column("talent_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("id_type", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("id_number_ciphertext", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("id_number_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("id_number_masked", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("time_zone", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("degree", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("school", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("graduated_on", sa.Date(), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("employer_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("employer_credit_code", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("employer_region_code", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("employer_industry", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("social_insurance_months", sa.Integer(), nullable=False),
        sa.Column("owns_home_in_city", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["talent_id"], ["talent.id"], name=op.f("fk_talent_profile_talent_id_talent")),
        sa.PrimaryKeyConstraint("talent_id", name=op.f("pk_talent_profile")),
        sa.UniqueConstraint("id_number_hash", name=op.f("uq_talent_profile_id_number_hash")),
    )
    op.create_table(
        "talent_certification_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certification_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("decision", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("tier", sqlmodel.sql.sqltypes.AutoString(length=1), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["certification_id"],
            ["talent_certification.id"],
            name=op.f("fk_talent_certification_decision_certification_id_talent_certification"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_certification_decision")),
    )
    op.create_index(
        op.f("ix_talent_certification_decision_certification_id"),
        "talent_certification_decision",
        ["certification_id"],
        unique=False,
    )
    op.create_table(
        "talent_certification_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certification_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("reference", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["certification_id"],
            ["talent_certification.id"],
            name=op.f("fk_talent_certification_evidence_certification_id_talent_certification"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_certification_evidence")),
    )
    op.create_index(
        op.f("ix_talent_certification_evidence_certification_id"),
        "talent_certification_evidence",
        ["certification_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("talent_certification_evidence")
    op.drop_table("talent_certification_decision")
    op.drop_table("talent_certification")
    op.drop_table("talent_family_member")
    op.drop_table("talent_profile")
    op.drop_table("talent_code_key")
    op.drop_table("talent")
    drop_kit_tables(op)
