"""The applicant's rules as versioned data: the kit's table `rule_version`, and version 1 of the rule sets
tiers, points and privileges (data/tiers.json, points.json, privileges.json; see applicant.rules).

Revision ID: 562d41dfc5c8
Revises: 5a5d0d6b5c28
Create Date: 2026-12-01 23:38:05.164534
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from applicant.rules import RULES
from servicekit.db import UTCDateTime, utcnow

revision: str = "562d41dfc5c8"
down_revision: str | None = "5a5d0d6b5c28"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    rule_version = op.create_table(
        "rule_version",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.PrimaryKeyConstraint("name", "version", name=op.f("pk_rule_version")),
    )
    # Version 1 of every rule set: the seed files the rule sets name. A seed file is never edited (a new default
    # is a new version stored by a new migration), so this one always loads the same documents.
    op.bulk_insert(rule_version, RULES.seed_rows(utcnow()))


def downgrade() -> None:
    op.drop_table("rule_version")
