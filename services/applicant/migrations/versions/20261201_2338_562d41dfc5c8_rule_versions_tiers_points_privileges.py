"""The applicant's rules as versioned data: the kit's table `rule_version`, and version 1 of the rule sets
tiers, points and privileges (data/tiers.json, points.json, privileges.json; see applicant.rules).

Revision ID: 562d41dfc5c8
Revises: 5a5d0d6b5c28
Create Date: 2026-12-01 23:38:05.164534
"""

from collections.abc import Sequence

from alembic import op
from applicant.rules import RULES
from servicekit.migrations import create_rule_versions, drop_rule_versions

revision: str = "562d41dfc5c8"
down_revision: str | None = "5a5d0d6b5c28"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The rule sets of this revision; one added later is seeded by its own migration.
    create_rule_versions(op, RULES, only=("tiers", "points", "privileges"))


def downgrade() -> None:
    drop_rule_versions(op)
