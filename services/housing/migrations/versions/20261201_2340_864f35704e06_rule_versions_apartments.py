"""Housing's rules as versioned data: the kit's table `rule_version`, and version 1 of the rule set apartments
(data/rules.json: rents by tier, lease term, renewals, unit sizes, the offer clock, the decline bar; see
housing.rules).

Revision ID: 864f35704e06
Revises: e2602b696680
Create Date: 2026-12-01 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from housing.rules import RULES
from servicekit.db import UTCDateTime, utcnow

revision: str = "864f35704e06"
down_revision: str | None = "e2602b696680"
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
    # Version 1: the seed file the rule set names. A seed file is never edited (a new default is a new version
    # stored by a new migration), so this migration always loads the same document.
    op.bulk_insert(rule_version, RULES.seed_rows(utcnow()))


def downgrade() -> None:
    op.drop_table("rule_version")
