"""initial gateway tables: accounts, one-time codes, refresh tokens, signing keys

Revision ID: 0001gw
Revises:
Create Date: 2026-11-25 18:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.db import UTCDateTime

revision: str = "0001gw"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gw_account",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("username", sa.String(64), nullable=True),
        sa.Column("phone_hash", sa.String(64), nullable=True),
        sa.Column("phone_ciphertext", sa.Text(), nullable=True),
        sa.Column("secret_hash", sa.Text(), nullable=True),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("region", sa.String(12), nullable=True),
        sa.Column("partner_kind", sa.String(32), nullable=True),
        sa.Column("is_dev", sa.Boolean(), nullable=False),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", UTCDateTime(), nullable=True),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_sign_in_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gw_account"),
        sa.UniqueConstraint("phone_hash", name="uq_gw_account_phone_hash"),
        sa.UniqueConstraint("username", name="uq_gw_account_username"),
    )
    op.create_table(
        "gw_otp_challenge",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("phone_hash", sa.String(64), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("consumed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gw_otp_challenge"),
    )
    op.create_index("ix_gw_otp_challenge_phone_hash_created_at", "gw_otp_challenge", ["phone_hash", "created_at"])
    op.create_table(
        "gw_refresh_token",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("family_id", sa.String(36), nullable=False),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("rotated_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["gw_account.id"], name="fk_gw_refresh_token_account_id_gw_account"),
        sa.PrimaryKeyConstraint("id", name="pk_gw_refresh_token"),
        sa.UniqueConstraint("token_hash", name="uq_gw_refresh_token_token_hash"),
    )
    op.create_index("ix_gw_refresh_token_account_id", "gw_refresh_token", ["account_id"])
    op.create_index("ix_gw_refresh_token_family_id", "gw_refresh_token", ["family_id"])
    op.create_table(
        "gw_signing_key",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("private_key_sealed", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retires_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("kid", name="pk_gw_signing_key"),
    )
    op.create_index("ix_gw_signing_key_created_at", "gw_signing_key", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_gw_signing_key_created_at", table_name="gw_signing_key")
    op.drop_table("gw_signing_key")
    op.drop_index("ix_gw_refresh_token_family_id", table_name="gw_refresh_token")
    op.drop_index("ix_gw_refresh_token_account_id", table_name="gw_refresh_token")
    op.drop_table("gw_refresh_token")
    op.drop_index("ix_gw_otp_challenge_phone_hash_created_at", table_name="gw_otp_challenge")
    op.drop_table("gw_otp_challenge")
    op.drop_table("gw_account")
