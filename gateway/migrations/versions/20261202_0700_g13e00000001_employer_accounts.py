"""Employer accounts (stub: filled by the gateway work).

Revision ID: g13e00000001
Revises: 0001gw
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

revision: str = "g13e00000001"
down_revision: str | None = "0001gw"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
