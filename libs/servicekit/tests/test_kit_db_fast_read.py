"""Database.fetch_rows / fetch_first: a hot read in one round trip, with the column types' conversions, no write
lock; and the SQLite pool's reset, which rolls back only a connection left in a transaction."""

from __future__ import annotations

import asyncio

import pytest
from servicekit import db
from servicekit.db import Database
from sqlalchemy import bindparam, event, select, text

from .conftest import KitTestWidget

_BY_NAME = select(KitTestWidget.name, KitTestWidget.seq, KitTestWidget.id).where(
    KitTestWidget.name == bindparam("name")
)
_ALL = select(KitTestWidget.name).order_by(KitTestWidget.name)


class TestFetchRows:
    async def test_rows_are_named_tuples_of_what_sqlalchemy_would_return(self, database: Database) -> None:
        async with database.transaction() as session:
            session.add(KitTestWidget(name="a", seq=7))
            session.add(KitTestWidget(name="b", seq=8))
        row = await database.fetch_first(_BY_NAME, {"name": "b"})
        async with database.read() as conn:
            expected = (await conn.execute(_BY_NAME, {"name": "b"})).one()
        assert row is not None and tuple(row) == tuple(expected)
        assert (row.name, row.seq) == ("b", 8)
        assert await database.fetch_first(_BY_NAME, {"name": "nobody"}) is None
        assert [r.name for r in await database.fetch_rows(_ALL)] == ["a", "b"]

    async def test_a_fast_read_neither_waits_for_a_writer_nor_sees_its_pending_rows(self, database: Database) -> None:
        async with database.transaction() as session:
            session.add(KitTestWidget(name="committed"))
        async with database.transaction() as writer:
            writer.add(KitTestWidget(name="pending"))
            await writer.flush()  # holds the write lock (SQLite) until the block ends
            names = await asyncio.wait_for(database.fetch_rows(_ALL), timeout=5)
            assert [r.name for r in names] == ["committed"]
        assert [r.name for r in await database.fetch_rows(_ALL)] == ["committed", "pending"]


class TestPoolReset:
    async def test_a_connection_returned_inside_a_transaction_is_rolled_back(self, database: Database) -> None:
        if not database.is_sqlite:
            pytest.skip("the reset on return is SQLite's (PostgreSQL keeps SQLAlchemy's own)")
        async with database.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.execute("BEGIN IMMEDIATE")
            await driver.execute("INSERT INTO kit_test_widget (name, subject, seq) VALUES ('left', '', 0)")
            assert driver.in_transaction

        # Back in the pool it was rolled back: the row is gone and the next writer gets the lock at once.
        async def write() -> None:
            async with database.transaction() as session:
                session.add(KitTestWidget(name="next"))

        await asyncio.wait_for(write(), timeout=5)
        assert [r.name for r in await database.fetch_rows(_ALL)] == ["next"]

    async def test_units_of_work_commit_and_roll_back_as_before(self, database: Database) -> None:
        try:
            async with database.transaction() as session:
                session.add(KitTestWidget(name="undone"))
                await session.flush()
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        async with database.transaction() as session:
            session.add(KitTestWidget(name="kept"))
        async with database.read() as conn:
            assert list((await conn.execute(text("SELECT name FROM kit_test_widget"))).scalars()) == ["kept"]


class TestInlineSqlite:
    async def test_a_fast_read_on_a_sqlite_file_takes_no_pool_connection(self, database: Database) -> None:
        if not database.is_sqlite:
            pytest.skip("SQLite only: PostgreSQL reads through the pool's asyncpg connection")
        async with database.transaction() as session:
            session.add(KitTestWidget(name="x"))
        checkouts: list[object] = []

        def checkout(*args: object) -> None:
            checkouts.append(args)

        event.listen(database.engine.sync_engine.pool, "checkout", checkout)
        try:
            assert [r.name for r in await database.fetch_rows(_ALL)] == ["x"]
        finally:
            event.remove(database.engine.sync_engine.pool, "checkout", checkout)
        assert checkouts == []


class TestIdlePing:
    async def test_a_pooled_connection_killed_while_idle_is_replaced(
        self, database: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        if database.is_sqlite:
            pytest.skip("PostgreSQL only: SQLite has no server to lose a connection to")
        monkeypatch.setattr(db, "IDLE_PING_S", 0.0)  # every checkout counts as after a long idle
        async with database.engine.connect() as conn:
            pid = (await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one()
        other = Database(database.url, pool_size=1)  # another pool: this one's only connection is the victim
        try:
            async with other.engine.connect() as killer:
                await killer.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        finally:
            await other.dispose()
        # Each fresh read gets a live connection: the killed one fails its ping and is discarded.
        for _ in range(3):
            assert [r.name for r in await database.fetch_rows(_ALL)] == []
