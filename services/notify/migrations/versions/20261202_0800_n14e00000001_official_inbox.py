"""Officials' inbox (stub: filled by that work).

Revision ID: n14e00000001
Revises: 8882347a791f
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

revision: str = "n14e00000001"
down_revision: str | None = "8882347a791f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
