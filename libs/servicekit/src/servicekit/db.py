"""Async database access for SQLite (aiosqlite) and PostgreSQL (asyncpg); the request is the unit of work."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections import namedtuple
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, Index, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.sql import Select
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from servicekit import bulk, speedups  # noqa: F401  (speedups: a pydantic hot spot, see there)

# Explicit constraint names, so migrations are stable across SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
# Execution option of the connections handed out by Database.read(): on SQLite they take no write lock.
READ_ONLY_OPTION = "servicekit_read_only"


def utcnow() -> datetime:
    return datetime.now(UTC)


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index over the rows that satisfy `where` (SQL), e.g. one active lease per unit: `unique=True,
    where="status = 'active'"`. SQLite and PostgreSQL both have partial indexes but SQLAlchemy takes the
    condition per dialect; this gives it to both, so a model never names a dialect."""
    condition = text(where)
    return Index(name, *columns, unique=unique, postgresql_where=condition, sqlite_where=condition)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always hands back an aware datetime (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Database:
    """One engine and session factory per service process."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        # The same pool shape for both: `2 × pool_size` connections, all kept once opened, no overflow. An overflow
        # connection is closed when it comes back, so under load requests kept opening new ones: on SQLite an
        # aiosqlite thread and four PRAGMAs each; on PostgreSQL a connect with its TLS handshake and
        # authentication (a profile of /me/code at 32 in flight: connect and close in every few requests).
        kwargs: dict[str, Any] = {
            "echo": echo,
            # PostgreSQL: no ping on every checkout (with asyncpg it is BEGIN, a statement and ROLLBACK: three round
            # trips, a fifth of a hot read's CPU); a connection idle in the pool for IDLE_PING_S is pinged instead.
            "pool_pre_ping": False,
            "pool_size": 2 * pool_size,
            "max_overflow": 0,
            # A database error's text would otherwise carry the statement's values (names, numbers, phones)
            # into logs, tracebacks and dead-letter reasons.
            "hide_parameters": True,
        }
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": 30}
            # A connection back in the pool is rolled back only when it is in a transaction (_configure_sqlite):
            # each rollback is a round trip to the connection's aiosqlite thread, and most have nothing to undo.
            kwargs["pool_reset_on_return"] = None
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        else:
            _ping_when_idle(self.engine)
        # Set after a commit that wrote outbox rows, so the relay publishes at once instead of at its next poll.
        self.outbox_signal = asyncio.Event()
        # A session class of this database's own, so its commit listener does not fire for other databases.
        session_class = type("ServiceSession", (Session,), {})
        event.listen(session_class, "after_commit", self._after_commit)
        bulk.install(session_class)
        self.sessionmaker = async_sessionmaker(
            self.engine, class_=AsyncSession, sync_session_class=session_class, expire_on_commit=False
        )
        # Fast reads on SQLite run on a read-only sqlite3 connection per thread (_sqlite_inline); not for an
        # in-memory database, which another connection would not see.
        database_file = self.engine.url.database if self.is_sqlite else None
        self._inline_path = database_file if database_file and database_file != ":memory:" else None
        self._inline = threading.local()
        self._inline_readers: list[sqlite3.Connection] = []
        self._fast: dict[Select[*tuple[Any, ...]], _FastRead] = {}

    def _after_commit(self, session: Any) -> None:
        if session.info.pop("outbox_dirty", False):
            self.outbox_signal.set()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits when the block ends and rolls back on error."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for a read that must not wait for, or hold up, writers.

        On SQLite it skips the `BEGIN IMMEDIATE` that every unit of work takes (the write lock): each
        statement runs on its own, in autocommit, and sees a consistent snapshot (WAL lets it run beside a
        writer). Use it for one statement, or for reads that need no snapshot across statements. On
        PostgreSQL it is a plain transaction, rolled back at the end. Nothing written here is kept.
        """
        async with self.engine.connect() as conn:
            await conn.execution_options(**{READ_ONLY_OPTION: True})
            yield conn

    async def fetch_rows(
        self, statement: Select[*tuple[Any, ...]], params: Mapping[str, Any] | None = None
    ) -> list[Any]:
        """The rows of a read-only SELECT, as named tuples (`row.column`), in one round trip to the driver.

        For the hottest reads (one indexed lookup per request). Like `read()` it takes no write lock on SQLite and
        sees committed data only, but it skips what a SQLAlchemy connection costs per statement: on SQLite each
        of its steps (cursor, execute, fetch, close, the transaction's rollback) is a hop to the connection's
        aiosqlite thread and back, ~4× the CPU of the query itself on a busy machine; on PostgreSQL the BEGIN
        and ROLLBACK around it. The statement is compiled once (keep it in a module constant) and its values
        pass through the column types as SQLAlchemy would pass them (UTCDateTime, dates on SQLite…).
        """
        fast = self._fast.get(statement)
        if fast is None:
            fast = self._fast[statement] = _FastRead(statement, self.engine.dialect)
        values = fast.bind(params or {})
        if self.is_sqlite:
            rows = self._sqlite_inline(fast.sql, values)
            if rows is not None:
                return [fast.row(row) for row in rows]
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            if self.is_sqlite:
                rows = await driver.execute_fetchall(fast.sql, values)
            else:
                rows = await driver.fetch(fast.sql, *values)
        return [fast.row(row) for row in rows]

    async def fetch_first(
        self, statement: Select[*tuple[Any, ...]], params: Mapping[str, Any] | None = None
    ) -> Any | None:
        """The first row of `fetch_rows` (a named tuple), or None."""
        rows = await self.fetch_rows(statement, params)
        return rows[0] if rows else None

    def _sqlite_inline(self, sql: str, values: Sequence[Any]) -> list[Any] | None:
        """Run a fast read on this thread's own read-only sqlite3 connection, on the event loop itself; None when
        it cannot (an in-memory database, or the file busy), and the caller takes the pool's connection instead.

        A point lookup in WAL mode takes some µs and never waits for a writer; the hop to an aiosqlite thread and
        back costs far more CPU (a queue, a thread wake-up, the loop's wake-up, the GIL changing hands twice)."""
        if self._inline_path is None:
            return None
        reader: sqlite3.Connection | None = getattr(self._inline, "reader", None)
        if reader is None:
            try:
                reader = sqlite3.connect(
                    f"file:{self._inline_path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
                )
                reader.execute("PRAGMA busy_timeout=50")  # a moment at most: past it, the pool's connection waits
            except sqlite3.Error:
                self._inline_path = None
                return None
            self._inline.reader = reader
            self._inline_readers.append(reader)
        try:
            return reader.execute(sql, values).fetchall()
        except sqlite3.OperationalError:
            return None  # busy or locked (a checkpoint, a schema change): the usual path waits properly

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        for reader in self._inline_readers:
            reader.close()
        self._inline_readers.clear()
        self._inline = threading.local()
        await self.engine.dispose()


class _FastRead:
    """A SELECT compiled once for `Database.fetch_rows`: its SQL, its parameters in order, and the column types'
    conversions of values in and out."""

    def __init__(self, statement: Select[*tuple[Any, ...]], dialect: Dialect) -> None:
        compiled: Any = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.names: Sequence[str] = tuple(compiled.positiontup or ())
        self.defaults = {name: value for name, value in compiled.params.items() if value is not None}
        self.bind_processors: Mapping[str, Callable[[Any], Any]] = dict(compiled._bind_processors)
        columns = compiled._result_columns
        self.result_processors = [entry.type._cached_result_processor(dialect, None) for entry in columns]
        self.row_class: Any = namedtuple("Row", [entry.keyname for entry in columns], rename=True)  # type: ignore[misc]

    def bind(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name in self.names:
            value = params[name] if name in params else self.defaults[name]
            processor = self.bind_processors.get(name)
            values.append(processor(value) if processor is not None else value)
        return values

    def row(self, raw: Sequence[Any]) -> Any:
        return self.row_class._make(
            value if processor is None else processor(value)
            for processor, value in zip(self.result_processors, raw, strict=True)
        )


# A pooled PostgreSQL connection unused this long is pinged before it is handed out (a server restart, a
# firewall's idle timeout); one in steady use is not. A connection that fails while in use is invalidated by
# SQLAlchemy's disconnect detection, and the pool replaced by fresh connections.
IDLE_PING_S = 5.0
_CHECKED_IN_AT = "servicekit_checked_in_at"


def _ping_when_idle(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN_AT)
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return  # brand new, or back in the pool a moment ago
        try:
            dbapi_connection.ping()
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError("stale pooled connection") from exc


def _configure_sqlite(engine: AsyncEngine) -> None:
    # pysqlite's lazy BEGIN lets two writers deadlock on the lock upgrade; take the write lock up front.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(dbapi_connection: Any, _record: Any, state: Any) -> None:
        # pool_reset_on_return=None (Database): roll back here, and only what is still open.
        if state.asyncio_safe and dbapi_connection.driver_connection.in_transaction:
            dbapi_connection.rollback()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(READ_ONLY_OPTION):
            return  # Database.read(): autocommit statements, no write lock
        conn.exec_driver_sql("BEGIN IMMEDIATE")


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed before the response is sent, rolled back on any error."""
    database: Database = request.app.state.database
    async with database.transaction() as session:
        yield session


# scope="function": the commit runs when the endpoint returns, before the response goes out, so a
# failed commit becomes an error response instead of a 200 for work that was never stored.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
