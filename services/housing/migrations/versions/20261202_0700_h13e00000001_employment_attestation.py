"""Housing read model learns employers' attestations (stub).

Revision ID: h13e00000001
Revises: 864f35704e06
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

revision: str = "h13e00000001"
down_revision: str | None = "864f35704e06"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
