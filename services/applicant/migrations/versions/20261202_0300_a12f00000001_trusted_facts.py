"""Trusted facts: provenance of decision-relevant facts, change requests, sealed identity corrections.

Revision ID: a12f00000001
Revises: 562d41dfc5c8
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

revision: str = "a12f00000001"
down_revision: str | None = "562d41dfc5c8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
