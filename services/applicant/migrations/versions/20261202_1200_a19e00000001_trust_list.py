"""Trust list (互认互通): partner cities with their code key sets and tier maps, and the trust-list signing keys.

Revision ID: a19e00000001
Revises: a14e00000001
Create Date: 2026-12-02 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.db import UTCDateTime
from sqlmodel.sql.sqltypes import AutoString

revision: str = "a19e00000001"
down_revision: str | None = "a14e00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trust_partner_city",
        sa.Column("city_code", AutoString(length=6), nullable=False),
        sa.Column("name", AutoString(length=100), nullable=False),
        sa.Column("jwks_url", AutoString(length=500), nullable=False),
        sa.Column("jwks", sa.Text(), nullable=False),
        sa.Column("tier_map", sa.Text(), nullable=False),
        sa.Column("fetched_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_by", AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("city_code", name=op.f("pk_trust_partner_city")),
    )
    op.create_table(
        "trust_list_key",
        sa.Column("kid", AutoString(length=40), nullable=False),
        sa.Column("private_key_sealed", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("retires_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_trust_list_key")),
    )


def downgrade() -> None:
    op.drop_table("trust_list_key")
    op.drop_table("trust_partner_city")
