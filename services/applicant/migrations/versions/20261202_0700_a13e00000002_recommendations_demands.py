"""Employer recommendations and demand declarations (stub: filled by that work).

Revision ID: a13e00000002
Revises: a13e00000001
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

revision: str = "a13e00000002"
down_revision: str | None = "a13e00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
