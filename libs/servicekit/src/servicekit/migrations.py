"""Alembic support shared by every service: an async env, programmatic upgrade, and the kit's own tables."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Collection
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config
from sqlmodel.sql.sqltypes import AutoString

from servicekit.db import UTCDateTime, utcnow
from servicekit.models import BigIntId
from servicekit.rulebook import RuleBook


def alembic_config(alembic_ini: Path, database_url: str) -> Config:
    config = Config(str(alembic_ini))
    config.set_main_option("script_location", str(alembic_ini.parent / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(alembic_ini: Path, database_url: str, revision: str = "head") -> None:
    """Migrate a database to `revision` (synchronous; call it before the event loop or in a thread)."""
    if database_url.startswith("sqlite"):
        _ensure_sqlite_directory(database_url)
    config = alembic_config(alembic_ini, database_url)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(config, revision)
        return
    # env.py runs its own event loop, which cannot nest inside a running one.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(command.upgrade, config, revision).result()


def _ensure_sqlite_directory(database_url: str) -> None:
    path = database_url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's migrations/env.py."""
    config = context.config
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            literal_binds=True,
            render_as_batch=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    def run_sync(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            # Replicas (init containers) may migrate at once: one does the work, the others then find it done.
            connection.execute(sa.text("SELECT pg_advisory_lock(7343003)"))
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        async with engine.connect() as connection:
            await connection.run_sync(run_sync)
        await engine.dispose()

    asyncio.run(run_async())


def create_kit_tables(op: Any) -> None:
    """Create the kit tables (outbox, processed_event, idempotency_record, scheduled_timer, audit_log).

    Called from each service's first migration, so the kit's schema is written once.
    """
    op.create_table(
        "outbox",
        sa.Column("id", BigIntId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("topic", sa.String(120), nullable=False),
        sa.Column("key", sa.String(120), nullable=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    op.create_index("ix_outbox_created_at", "outbox", ["created_at"])
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["id"],
        postgresql_where=sa.text("published_at IS NULL"),
        sqlite_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "processed_event",
        sa.Column("consumer_group", sa.String(120), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer_group", "event_id", name="pk_processed_event"),
    )
    create_idempotency_table(op)
    op.create_table(
        "scheduled_timer",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(80), nullable=False),
        sa.Column("key", sa.String(120), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("fired_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_scheduled_timer"),
        sa.UniqueConstraint("kind", "key", name="uq_scheduled_timer_kind_key"),
    )
    op.create_index("ix_scheduled_timer_due", "scheduled_timer", ["status", "due_at"])
    create_audit_table(op)


def create_idempotency_table(op: Any) -> None:
    """The kit's idempotency_record (servicekit.idempotency): also for a deployable without the other kit tables."""
    op.create_table(
        "idempotency_record",
        sa.Column("principal", sa.String(64), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("operation", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("principal", "key", name="pk_idempotency_record"),
    )


def create_audit_table(op: Any) -> None:
    """The kit's audit_log hash chain (servicekit.audit): also for a deployable without the other kit tables."""
    op.create_table(
        "audit_log",
        sa.Column("seq", BigIntId, primary_key=True, autoincrement=True),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("actor_roles", sa.String(200), nullable=False),
        sa.Column("action", sa.String(80), nullable=False),
        sa.Column("subject_type", sa.String(40), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(2000), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_index("ix_audit_log_subject_id", "audit_log", ["subject_id"])


def drop_kit_tables(op: Any) -> None:
    op.drop_table("audit_log")
    op.drop_table("scheduled_timer")
    op.drop_table("idempotency_record")
    op.drop_table("processed_event")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_index("ix_outbox_created_at", table_name="outbox")
    op.drop_table("outbox")


def create_rule_versions(op: Any, rulebook: RuleBook, only: Collection[str] | None = None) -> None:
    """The kit's `rule_version` table, with version 1 of every rule set of the service (its seed files), or of
    the rule sets named in `only` (a rule set added later is seeded by its own migration: `add_rule_sets`).

    A seed file is never edited (a new default is a new version stored by a new migration), so the migration
    that calls this always loads the same documents.
    """
    table = _rule_version_table(op, create=True)
    op.bulk_insert(table, rulebook.seed_rows(utcnow(), only))


def add_rule_sets(op: Any, rulebook: RuleBook, names: Collection[str]) -> None:
    """Version 1 of rule sets added to a service after its `rule_version` table was made (their seed files)."""
    op.bulk_insert(_rule_version_table(op, create=False), rulebook.seed_rows(utcnow(), names))


def remove_rule_sets(op: Any, names: Collection[str]) -> None:
    """Every version of rule sets `add_rule_sets` added (the downgrade of its migration)."""
    table = _rule_version_table(op, create=False)
    op.execute(table.delete().where(table.c.name.in_(list(names))))


def _rule_version_table(op: Any, *, create: bool) -> Any:
    columns: tuple[sa.Column[Any], ...] = (
        sa.Column("name", AutoString(length=60), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", AutoString(length=64), nullable=False),
        sa.Column("reason", AutoString(length=2000), nullable=False),
    )
    if not create:
        return sa.table("rule_version", *(sa.column(c.name, c.type) for c in columns))
    table = op.create_table(
        "rule_version",
        *columns,
        sa.PrimaryKeyConstraint("name", "version", name=op.f("pk_rule_version")),
    )
    return table


def drop_rule_versions(op: Any) -> None:
    op.drop_table("rule_version")
