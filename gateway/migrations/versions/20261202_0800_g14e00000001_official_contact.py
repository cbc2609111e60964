"""Officials' display name and office phone: gw_account.display_name and gw_account.office_phone.

Both travel in an official's access token, so the services can name the officer of a case (首问负责制).

Revision ID: g14e00000001
Revises: g13e00000001
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "g14e00000001"
down_revision: str | None = "g13e00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("gw_account") as batch:
        batch.add_column(sa.Column("display_name", sa.String(100), nullable=True))
        batch.add_column(sa.Column("office_phone", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gw_account") as batch:
        batch.drop_column("office_phone")
        batch.drop_column("display_name")
