"""Housing's rules as versioned data: the kit's table `rule_version`, and version 1 of the rule set apartments
(data/rules.json: rents by tier, lease term, renewals, unit sizes, the offer clock, the decline bar; see
housing.rules).

Revision ID: 864f35704e06
Revises: e2602b696680
Create Date: 2026-12-01 23:40:00
"""

from collections.abc import Sequence

from alembic import op
from housing.rules import RULES
from servicekit.migrations import create_rule_versions, drop_rule_versions

revision: str = "864f35704e06"
down_revision: str | None = "e2602b696680"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_rule_versions(op, RULES)


def downgrade() -> None:
    drop_rule_versions(op)
