"""The city's certification queue in order: an index on (status, submitted_at, id).

A city approver's queue (status county_approved, every region, oldest first) could only use
ix_talent_certification_queue (status, region_code, submitted_at) for the status, so PostgreSQL read every waiting
certification of the city and sorted them for each page: at city scale (2 % of 1.7 million talents waiting for the
city) a page read about 34,000 rows. With this index a page reads its 21 rows in order (bench/gaps/city.md).

Revision ID: p17h7a000001
Revises: a15e00000001
Create Date: 2026-12-02 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "p17h7a000001"
down_revision: str | None = "a15e00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_talent_certification_status_submitted", "talent_certification", ["status", "submitted_at", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_talent_certification_status_submitted", table_name="talent_certification")
