"""Insight's rules as versioned data: the kit's table `rule_version`, and version 1 of the rule set index
(data/index.json: the 人才发展指数's indicators, targets and weights; see insight.index).

Revision ID: i18a00000002
Revises: i18a00000001
Create Date: 2026-12-02 12:15:00
"""

from collections.abc import Sequence

from alembic import op
from insight.index import RULES
from servicekit.migrations import create_rule_versions, drop_rule_versions

revision: str = "i18a00000002"
down_revision: str | None = "i18a00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_rule_versions(op, RULES)


def downgrade() -> None:
    drop_rule_versions(op)
