"""Revocation status list: each talent's entry (index) in the status list offline verifiers read.

Revision ID: a19e00000002
Revises: a19e00000001
Create Date: 2026-12-02 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.db import UTCDateTime
from sqlmodel.sql.sqltypes import AutoString

revision: str = "a19e00000002"
down_revision: str | None = "a19e00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "talent_status_index",
        sa.Column("talent_id", AutoString(length=36), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["talent_id"], ["talent.id"], name=op.f("fk_talent_status_index_talent_id_talent")),
        sa.PrimaryKeyConstraint("talent_id", name=op.f("pk_talent_status_index")),
        sa.UniqueConstraint("idx", name=op.f("uq_talent_status_index_idx")),
    )


def downgrade() -> None:
    op.drop_table("talent_status_index")
