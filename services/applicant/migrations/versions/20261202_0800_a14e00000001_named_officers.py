"""Named officers of certifications (stub: filled by that work).

Revision ID: a14e00000001
Revises: a13e00000002
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

revision: str = "a14e00000001"
down_revision: str | None = "a13e00000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
