"""Queues of one status across the city in order: an index on benefit_claim (status, submitted_at, id).

ix_benefit_claim_queue (status, region_code, submitted_at) orders a county's queue, but a queue of the whole city
(a city approver's county_approved and appealed claims, finance's publicized ones) could only use it for the
status: PostgreSQL read every such claim and sorted them for each page (at city scale, 300,000 claims, about
21,000 rows and 200-540 ms a page). With this index one status reads its page in order; a queue of several
statuses does too once it asks per status and merges (bench/gaps/city.md: a UNION ALL of one ordered, limited
select per status, which PostgreSQL answers with a Merge Append in 0.1 ms).

Revision ID: p17h7b000001
Revises: b19e00000002
Create Date: 2026-12-02 21:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "p17h7b000001"
down_revision: str | None = "b19e00000002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_benefit_claim_status_submitted", "benefit_claim", ["status", "submitted_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_benefit_claim_status_submitted", table_name="benefit_claim")
