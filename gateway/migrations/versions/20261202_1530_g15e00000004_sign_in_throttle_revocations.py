"""Sign-in throttling per (username, source) and per username, the revocation list of access tokens, and the
sealed access token a parallel refresh within the grace window is answered with.

The account-wide lock (gw_account.failed_attempts, locked_until) is gone: anyone could lock any official.

Revision ID: g15e00000004
Revises: g14e00000001
Create Date: 2026-12-02 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.db import UTCDateTime

revision: str = "g15e00000004"
down_revision: str | None = "g14e00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gw_sign_in_throttle",
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", UTCDateTime(), nullable=False),
        sa.Column("last_failure_at", UTCDateTime(), nullable=False),
        sa.Column("blocked_until", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("subject", "source"),
    )
    op.create_table(
        "gw_revoked_token",
        sa.Column("ref", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("ref"),
    )
    op.create_index("ix_gw_revoked_token_expires_at", "gw_revoked_token", ["expires_at"])
    with op.batch_alter_table("gw_refresh_token") as batch:
        batch.add_column(sa.Column("access_token_sealed", sa.Text(), nullable=True))
    with op.batch_alter_table("gw_account") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("failed_attempts")


def downgrade() -> None:
    with op.batch_alter_table("gw_account") as batch:
        batch.add_column(sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_until", UTCDateTime(), nullable=True))
    with op.batch_alter_table("gw_refresh_token") as batch:
        batch.drop_column("access_token_sealed")
    op.drop_index("ix_gw_revoked_token_expires_at", table_name="gw_revoked_token")
    op.drop_table("gw_revoked_token")
    op.drop_table("gw_sign_in_throttle")
