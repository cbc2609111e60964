"""Benefits read model learns employers' attestations (stub).

Revision ID: b13e00000001
Revises: b12f00000001
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

revision: str = "b13e00000001"
down_revision: str | None = "b12f00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
