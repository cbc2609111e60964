"""Policy versions announced to the city's statistics.

benefit_policy.announced_at: when `talent.benefits.policy.published.v1` went into the outbox for this version;
null for versions never announced (the seeded ones, and every version written before this revision), which
the worker announces once at start-up (benefits.policies.announce_unannounced).

Revision ID: b19e00000002
Revises: b19e00000001
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.db import UTCDateTime

revision: str = "b19e00000002"
down_revision: str | None = "b19e00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("benefit_policy") as batch:
        batch.add_column(sa.Column("announced_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("benefit_policy") as batch:
        batch.drop_column("announced_at")
