"""Documents: evidence files stored encrypted, cited by certifications and change requests.

Revision ID: a12f00000002
Revises: a12f00000001
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

revision: str = "a12f00000002"
down_revision: str | None = "a12f00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
