"""Payment batches: the claims finance sends the bank in one file, line by line, and the bank's results.

Revision ID: b14e00000002
Revises: b14e00000001
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from servicekit.db import UTCDateTime

revision: str = "b14e00000002"
down_revision: str | None = "b14e00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "benefit_payment_batch",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("policy_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("total_fen", sa.BigInteger(), nullable=False),
        sa.Column("file_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("paid", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("settled_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_payment_batch")),
    )
    with op.batch_alter_table("benefit_payment_batch") as batch_op:
        batch_op.create_index(batch_op.f("ix_benefit_payment_batch_created_at"), ["created_at"], unique=False)
    op.create_table(
        "benefit_payment_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("line_ref", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("claim_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("pending_claim_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
        sa.Column("talent_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("policy_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("result", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
        sa.Column("bank_reference", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("result_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["benefit_payment_batch.id"],
            name=op.f("fk_benefit_payment_line_batch_id_benefit_payment_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["benefit_claim.id"], name=op.f("fk_benefit_payment_line_claim_id_benefit_claim")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_benefit_payment_line")),
        sa.UniqueConstraint("batch_id", "seq", name=op.f("uq_benefit_payment_line_batch_id_seq")),
        sa.UniqueConstraint("line_ref", name=op.f("uq_benefit_payment_line_line_ref")),
        # One claim is never in two open batches: set while the line waits for the bank (NULLs never collide).
        sa.UniqueConstraint("pending_claim_id", name=op.f("uq_benefit_payment_line_pending_claim_id")),
    )
    with op.batch_alter_table("benefit_payment_line") as batch_op:
        batch_op.create_index(batch_op.f("ix_benefit_payment_line_claim_id"), ["claim_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("benefit_payment_line") as batch_op:
        batch_op.drop_index(batch_op.f("ix_benefit_payment_line_claim_id"))
    op.drop_table("benefit_payment_line")
    with op.batch_alter_table("benefit_payment_batch") as batch_op:
        batch_op.drop_index(batch_op.f("ix_benefit_payment_batch_created_at"))
    op.drop_table("benefit_payment_batch")
