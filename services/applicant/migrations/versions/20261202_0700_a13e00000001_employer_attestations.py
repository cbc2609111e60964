"""Employer attestations (stub: filled by the attestations work).

Revision ID: a13e00000001
Revises: a12f00000004
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

revision: str = "a13e00000001"
down_revision: str | None = "a12f00000004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
