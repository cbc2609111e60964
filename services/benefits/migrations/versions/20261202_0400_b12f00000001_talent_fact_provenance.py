"""The talent read model learns where each decision fact came from (for policies that require confirmed facts).

Revision ID: b12f00000001
Revises: 716749d76ac1
Create Date: 2026-12-02 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b12f00000001"
down_revision: str | None = "716749d76ac1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("benefit_talent") as batch:
        batch.add_column(sa.Column("provenance", sa.JSON(), server_default="{}", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("benefit_talent") as batch:
        batch.drop_column("provenance")
