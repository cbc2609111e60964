"""The kit tables (outbox, processed_event) of the benefits service.

Revision ID: 925465d7e85e
Revises:
Create Date: 2026-11-25 18:30:00
"""

from collections.abc import Sequence

from alembic import op
from servicekit.migrations import create_kit_tables, drop_kit_tables

revision: str = "925465d7e85e"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_kit_tables(op)


def downgrade() -> None:
    drop_kit_tables(op)
