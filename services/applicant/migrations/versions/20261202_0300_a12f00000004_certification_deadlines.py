"""Certification stage deadlines and escalation.

Revision ID: a12f00000004
Revises: a12f00000003
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

revision: str = "a12f00000004"
down_revision: str | None = "a12f00000003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
