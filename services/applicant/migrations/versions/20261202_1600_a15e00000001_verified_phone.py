"""The profile's phone is the talent's verified sign-in phone, sealed at rest: phone_ciphertext (the
identity keyring, associated data "phone") and phone_masked replace the clear phone column.

The clear values are dropped, not sealed: they were typed in and never proved, and notify keeps its own
sealed copy until the talent's next profile write brings the verified phone.

Revision ID: a15e00000001
Revises: a19e00000002
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a15e00000001"
down_revision: str | None = "a19e00000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("talent_profile") as batch:
        batch.add_column(sa.Column("phone_ciphertext", sa.Text(), nullable=True))
        batch.add_column(sa.Column("phone_masked", sa.String(24), nullable=True))
        batch.drop_column("phone")


def downgrade() -> None:
    with op.batch_alter_table("talent_profile") as batch:
        batch.add_column(sa.Column("phone", sa.String(16), nullable=True))
        batch.drop_column("phone_masked")
        batch.drop_column("phone_ciphertext")
