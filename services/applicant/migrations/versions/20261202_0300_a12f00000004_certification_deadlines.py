"""Certification stage deadlines and escalation: the deadline of the stage a certification waits in and when
it was escalated (talent_certification.stage_due_at, escalated_at), and version 1 of the rule set `review`
(data/review.json: the working days of each review stage).

Revision ID: a12f00000004
Revises: a12f00000003
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from applicant.rules import RULES
from servicekit.db import UTCDateTime
from servicekit.migrations import add_rule_sets, remove_rule_sets

revision: str = "a12f00000004"
down_revision: str | None = "a12f00000003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("talent_certification") as batch:
        batch.add_column(sa.Column("stage_due_at", UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("escalated_at", UTCDateTime(timezone=True), nullable=True))
    add_rule_sets(op, RULES, ("review",))


def downgrade() -> None:
    remove_rule_sets(op, ("review",))
    with op.batch_alter_table("talent_certification") as batch:
        batch.drop_column("escalated_at")
        batch.drop_column("stage_due_at")
