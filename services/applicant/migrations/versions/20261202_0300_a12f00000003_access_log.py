"""The read log: who read a talent's personal data or documents, which partner verified their code.

Revision ID: a12f00000003
Revises: a12f00000002
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.db import UTCDateTime
from servicekit.models import BigIntId

revision: str = "a12f00000003"
down_revision: str | None = "a12f00000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "talent_access_log",
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True, nullable=False),
        sa.Column("talent_id", sa.String(length=36), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=10), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=40), nullable=False),
        sa.Column("actor_region", sa.String(length=12), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("scene", sa.String(length=40), nullable=True),
        sa.Column("result", sa.String(length=40), nullable=True),
    )
    op.create_index("ix_talent_access_log_talent", "talent_access_log", ["talent_id", "at", "id"])
    op.create_index("ix_talent_access_log_at", "talent_access_log", ["at", "id"])
    op.create_index("ix_talent_access_log_actor", "talent_access_log", ["actor", "at", "id"])


def downgrade() -> None:
    op.drop_index("ix_talent_access_log_actor", table_name="talent_access_log")
    op.drop_index("ix_talent_access_log_at", table_name="talent_access_log")
    op.drop_index("ix_talent_access_log_talent", table_name="talent_access_log")
    op.drop_table("talent_access_log")
