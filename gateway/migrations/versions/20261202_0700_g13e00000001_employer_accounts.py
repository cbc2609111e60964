"""Employer accounts: gw_employer, gw_account.employer_id, and the kit's idempotency and audit tables.

The gateway now has admin operations of its own (registering employers): creating POSTs accept
Idempotency-Key and every change is audited, as in the services, so it needs the kit's two tables for that
(created by the same kit functions the services' first migrations use, so the schemas cannot drift apart).

Revision ID: g13e00000001
Revises: 0001gw
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.db import UTCDateTime
from servicekit.migrations import create_audit_table, create_idempotency_table

revision: str = "g13e00000001"
down_revision: str | None = "0001gw"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gw_employer",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("credit_code", sa.String(18), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("disabled_at", UTCDateTime(), nullable=True),
        sa.Column("disabled_reason", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gw_employer"),
        sa.UniqueConstraint("credit_code", name="uq_gw_employer_credit_code"),
    )
    op.create_index("ix_gw_employer_created_at_id", "gw_employer", ["created_at", "id"])
    with op.batch_alter_table("gw_account") as batch:
        batch.add_column(sa.Column("employer_id", sa.String(36), nullable=True))
        batch.create_foreign_key("fk_gw_account_employer_id_gw_employer", "gw_employer", ["employer_id"], ["id"])
        batch.create_index("ix_gw_account_employer_id", ["employer_id"])
    # The kit's idempotency records and audit chain, for the admin operations that register employers.
    create_idempotency_table(op)
    create_audit_table(op)


def downgrade() -> None:
    op.drop_index("ix_audit_log_subject_id", table_name="audit_log")
    op.drop_index("ix_audit_log_action", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("idempotency_record")
    with op.batch_alter_table("gw_account") as batch:
        batch.drop_index("ix_gw_account_employer_id")
        batch.drop_constraint("fk_gw_account_employer_id_gw_employer", type_="foreignkey")
        batch.drop_column("employer_id")
    op.drop_index("ix_gw_employer_created_at_id", table_name="gw_employer")
    op.drop_table("gw_employer")
