"""Yearly renewals of multi-year policies: no schema change.

A renewal is a kit timer (`scheduled_timer`, kind benefits.claim.renewal, key talent:policy:year) and a claim
like any other (its year's auto_grant_key and period_key fit the existing columns), so this revision only keeps
the chain's fixed place; its downgrade has nothing to undo.

Revision ID: b14e00000005
Revises: b14e00000004
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

revision: str = "b14e00000005"
down_revision: str | None = "b14e00000004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to create: see the module's docstring."""


def downgrade() -> None:
    """Nothing to drop."""
