"""A time per group of a talent's facts: the region (an update may leave it out), the tier and the day of the
last certification each keep the time of the event that set them, so a revocation applied before the older
certification no longer drops the tier, whatever order a replay across partitions applies them in.

Rows already there take the times of the groups that held these facts until now (profile, standing), which is
what they were ordered by; `insight replay` into an empty database rebuilds them exactly.

Revision ID: i18a00000004
Revises: i18a00000003
Create Date: 2026-12-02 15:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.db import UTCDateTime

revision: str = "i18a00000004"
down_revision: str | None = "i18a00000003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("region_at", "tier_at", "certified_at")


def upgrade() -> None:
    with op.batch_alter_table("insight_talent") as batch:
        for name in _COLUMNS:
            batch.add_column(sa.Column(name, UTCDateTime(), nullable=True))
    op.execute("UPDATE insight_talent SET region_at = profile_at WHERE region_code IS NOT NULL")
    op.execute("UPDATE insight_talent SET tier_at = status_at WHERE tier IS NOT NULL")
    op.execute("UPDATE insight_talent SET certified_at = status_at WHERE certified_on IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("insight_talent") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
