"""Straight-through approval and sampled review: the claim's straight_through / sampled flags and manual-review
reasons, the talents' pending change requests, the daily sampling seeds with their commitments, and a new
version of the seeded policies named in data/straight_through.v1.json carrying their straight-through rules.

Revision ID: b14e00000001
Revises: b13e00000001
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op
from benefits.catalogue import load_straight_through_seed
from servicekit.db import UTCDateTime, utcnow

revision: str = "b14e00000001"
down_revision: str | None = "b13e00000001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEED = "straight_through.v1.json"
CHANGE_REASON = f"straight-through rules ({SEED})"

_policy = sa.table(
    "benefit_policy",
    sa.column("code", sa.String),
    sa.column("version", sa.Integer),
    sa.column("current", sa.Boolean),
    sa.column("name", sa.String),
    sa.column("name_en", sa.String),
    sa.column("description", sa.String),
    sa.column("auto_grant", sa.Boolean),
    sa.column("active", sa.Boolean),
    sa.column("rules", sa.JSON),
    sa.column("created_at", UTCDateTime(timezone=True)),
    sa.column("created_by", sa.String),
    sa.column("change_reason", sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table("benefit_claim") as batch:
        batch.add_column(sa.Column("straight_through", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("sampled", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("manual_review_reasons", sa.JSON(), server_default="[]", nullable=False))
    with op.batch_alter_table("benefit_talent") as batch:
        batch.add_column(sa.Column("change_requests", sa.JSON(), server_default="{}", nullable=False))
    op.create_table(
        "benefit_sampling_seed",
        sa.Column("policy_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("seed", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("commitment", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("policy_code", "day"),
    )
    _add_policy_versions()


def _add_policy_versions() -> None:
    """A new version of each named policy whose current version has no straight-through rules yet (an
    administrator's own rules are never replaced); the versions before it stay as they were."""
    bind = op.get_bind()
    now = utcnow()
    for code, rules in load_straight_through_seed(SEED).items():
        current = (
            bind.execute(sa.select(_policy).where(_policy.c.code == code, _policy.c.current.is_(True)))
            .mappings()
            .first()
        )
        if current is None or (current["rules"] or {}).get("straight_through"):
            continue
        row: dict[str, Any] = dict(current)
        row |= {
            "version": current["version"] + 1,
            "rules": {**(current["rules"] or {}), "straight_through": rules.model_dump(mode="json")},
            "created_at": now,
            "created_by": "seed",
            "change_reason": CHANGE_REASON,
        }
        bind.execute(
            sa.update(_policy)
            .where(_policy.c.code == code, _policy.c.version == current["version"])
            .values(current=False)
        )
        bind.execute(sa.insert(_policy).values(**row))


def downgrade() -> None:
    bind = op.get_bind()
    added = bind.execute(
        sa.select(_policy.c.code, _policy.c.version, _policy.c.current).where(
            _policy.c.created_by == "seed", _policy.c.change_reason == CHANGE_REASON
        )
    ).all()
    for code, version, current in added:
        bind.execute(sa.delete(_policy).where(_policy.c.code == code, _policy.c.version == version))
        if not current:
            continue  # a later version (an administrator's) stays the current one
        bind.execute(
            sa.update(_policy).where(_policy.c.code == code, _policy.c.version == version - 1).values(current=True)
        )
    op.drop_table("benefit_sampling_seed")
    with op.batch_alter_table("benefit_talent") as batch:
        batch.drop_column("change_requests")
    with op.batch_alter_table("benefit_claim") as batch:
        for column in ("manual_review_reasons", "sampled", "straight_through"):
            batch.drop_column(column)
