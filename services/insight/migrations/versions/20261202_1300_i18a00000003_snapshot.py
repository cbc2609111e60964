"""Answers computed ahead: insight_snapshot holds the city-wide summary the worker recomputes after applied
batches, so reading it costs one row whatever the city's size (insight.snapshots).

Revision ID: i18a00000003
Revises: i18a00000002
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from servicekit.db import UTCDateTime

revision: str = "i18a00000003"
down_revision: str | None = "i18a00000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "insight_snapshot",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("as_of", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("insight_snapshot")
