"""Straight-through approval and sampled review (stub: filled by that work).

Revision ID: b14e00000001
Revises: b13e00000001
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

revision: str = "b14e00000001"
down_revision: str | None = "b13e00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
