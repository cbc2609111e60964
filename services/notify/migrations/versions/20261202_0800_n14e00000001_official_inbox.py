"""Officials' inbox: notify_official_case, the cases notify has seen with their owner (首问负责制), status and
stage deadline. The officials' messages are notify_notification rows addressed to the official's account id.

Revision ID: n14e00000001
Revises: 8882347a791f
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.db import UTCDateTime

revision: str = "n14e00000001"
down_revision: str | None = "8882347a791f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notify_official_case",
        sa.Column("case_type", sa.String(20), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("officer_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("waiting", sa.Boolean(), nullable=False),
        sa.Column("stage_due_at", UTCDateTime(), nullable=True),
        sa.Column("status_as_of", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("case_type", "case_id", name="pk_notify_official_case"),
    )
    op.create_index("ix_notify_official_case_officer", "notify_official_case", ["officer_id", "waiting"])


def downgrade() -> None:
    op.drop_index("ix_notify_official_case_officer", table_name="notify_official_case")
    op.drop_table("notify_official_case")
