"""Named officers and a readable publicity list (stub: filled by that work).

Revision ID: b14e00000004
Revises: b14e00000003
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

revision: str = "b14e00000004"
down_revision: str | None = "b14e00000003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
