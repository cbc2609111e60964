"""Appeals, batch decisions and stopped claims: no schema change.

`appealed` and `stopped` are statuses, stored as plain VARCHAR (servicekit.sql.StrEnumText), so existing rows
and columns take them; an appeal's reason and its decision are history lines, its 10-working-day deadline is
the claim's stage timer (`scheduled_timer`), and the rejection it answers is found in the history. The
appeals queue is the claim queue's index (status, region_code, submitted_at). A batch decision is single
decisions in savepoints. This revision only keeps the chain's fixed place; its downgrade has nothing to undo.

Revision ID: b14e00000003
Revises: b14e00000002
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

revision: str = "b14e00000003"
down_revision: str | None = "b14e00000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to create: see the module's docstring."""


def downgrade() -> None:
    """Nothing to drop."""
