"""Housing read model learns employers' attestations: the talent's standing one, shown to housing officers.

Revision ID: h13e00000001
Revises: 864f35704e06
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.db import UTCDateTime

revision: str = "h13e00000001"
down_revision: str | None = "864f35704e06"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("housing_talent") as batch:
        batch.add_column(sa.Column("attestation_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("attestation_outcome", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("attestation_blocking", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("attestation_mismatched_facts", sa.JSON(), server_default="[]", nullable=False))
        batch.add_column(sa.Column("attested_at", UTCDateTime(timezone=True), nullable=True))
        # The time of the newest attestation event applied (attested or withdrawn): an older one changes nothing.
        batch.add_column(sa.Column("attestation_as_of", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("housing_talent") as batch:
        for column in (
            "attestation_as_of",
            "attested_at",
            "attestation_mismatched_facts",
            "attestation_blocking",
            "attestation_outcome",
            "attestation_id",
        ):
            batch.drop_column(column)
