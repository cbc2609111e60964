"""Documents: evidence files stored encrypted, cited by certifications and change requests.

Revision ID: a12f00000002
Revises: a12f00000001
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from servicekit.db import UTCDateTime

revision: str = "a12f00000002"
down_revision: str | None = "a12f00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "talent_document",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("talent_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("object_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["talent_id"], ["talent.id"], name=op.f("fk_talent_document_talent_id_talent")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_talent_document")),
    )
    op.create_index(
        op.f("ix_talent_document_owner"), "talent_document", ["talent_id", "created_at", "id"], unique=False
    )
    with op.batch_alter_table("talent_certification_evidence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("document_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True))
        batch_op.create_index(batch_op.f("ix_talent_certification_evidence_document_id"), ["document_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("talent_certification_evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_talent_certification_evidence_document_id"))
        batch_op.drop_column("document_id")
    op.drop_index(op.f("ix_talent_document_owner"), table_name="talent_document")
    op.drop_table("talent_document")
