"""Named officers of certifications (首问负责制): officer_id, officer_name and officer_phone on
talent_certification.

Revision ID: a14e00000001
Revises: a13e00000002
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a14e00000001"
down_revision: str | None = "a13e00000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("talent_certification") as batch:
        batch.add_column(sa.Column("officer_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("officer_name", sa.String(100), nullable=True))
        batch.add_column(sa.Column("officer_phone", sa.String(32), nullable=True))
        batch.create_index("ix_talent_certification_officer_id", ["officer_id"])


def downgrade() -> None:
    with op.batch_alter_table("talent_certification") as batch:
        batch.drop_index("ix_talent_certification_officer_id")
        batch.drop_column("officer_phone")
        batch.drop_column("officer_name")
        batch.drop_column("officer_id")
