"""Claim history in the reader's language.

benefit_claim_history.reason_message: a system text as {key, params} (the service's message catalogue), rendered
in each reader's language and city time; null for an official's own words and for lines written before.

Revision ID: b16e00000001
Revises: b14e00000005
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b16e00000001"
down_revision: str | None = "b14e00000005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("benefit_claim_history") as batch:
        batch.add_column(sa.Column("reason_message", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("benefit_claim_history") as batch:
        batch.drop_column("reason_message")
