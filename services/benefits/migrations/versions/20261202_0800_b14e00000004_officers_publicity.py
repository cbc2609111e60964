"""Named officers and a readable publicity list.

benefit_claim: the named officer (首问负责制) — officer_id, officer_name, officer_phone.
benefit_talent: name_masked and employer_name, for the public 公示 list.

Revision ID: b14e00000004
Revises: b14e00000003
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b14e00000004"
down_revision: str | None = "b14e00000003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("benefit_claim") as batch:
        batch.add_column(sa.Column("officer_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("officer_name", sa.String(100), nullable=True))
        batch.add_column(sa.Column("officer_phone", sa.String(32), nullable=True))
        batch.create_index("ix_benefit_claim_officer_id", ["officer_id"])
    with op.batch_alter_table("benefit_talent") as batch:
        batch.add_column(sa.Column("name_masked", sa.String(40), nullable=True))
        batch.add_column(sa.Column("employer_name", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("benefit_talent") as batch:
        batch.drop_column("employer_name")
        batch.drop_column("name_masked")
    with op.batch_alter_table("benefit_claim") as batch:
        batch.drop_index("ix_benefit_claim_officer_id")
        batch.drop_column("officer_phone")
        batch.drop_column("officer_name")
        batch.drop_column("officer_id")
