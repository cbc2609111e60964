"""Database.read(): a read that neither waits for nor holds the write lock, in as few statements as possible."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from servicekit.db import Database
from sqlalchemy import event, func, select

from .conftest import KitTestWidget


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split()[0].upper() + (" IMMEDIATE" if "IMMEDIATE" in statement else ""))

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)


class TestRead:
    async def test_a_read_is_one_statement(self, database: Database) -> None:
        with statements(database) as seen:
            async with database.read() as conn:
                assert (await conn.execute(select(func.count()).select_from(KitTestWidget))).scalar_one() == 0
        assert seen == ["SELECT"]

    async def test_a_read_does_not_wait_for_a_writer(self, database: Database) -> None:
        async with database.transaction() as session:
            session.add(KitTestWidget(name="committed"))
        async with database.transaction() as writer:
            writer.add(KitTestWidget(name="pending"))
            await writer.flush()  # holds the write lock (SQLite) until the block ends

            async def names() -> list[str]:
                async with database.read() as conn:
                    return list((await conn.execute(select(KitTestWidget.name))).scalars())

            assert await asyncio.wait_for(names(), timeout=5) == ["committed"]  # the pending row is not seen
        async with database.read() as conn:
            assert sorted((await conn.execute(select(KitTestWidget.name))).scalars()) == ["committed", "pending"]

    async def test_units_of_work_still_take_the_write_lock_first(self, database: Database) -> None:
        with statements(database) as seen:
            async with database.transaction() as session:
                session.add(KitTestWidget(name="w"))
        if database.is_sqlite:
            assert seen[0] == "BEGIN IMMEDIATE"
        assert "INSERT" in seen
