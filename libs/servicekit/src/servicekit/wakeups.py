"""Wake-ups for the kit's background loops, so an idle loop sleeps long instead of polling the database.

A transaction that leaves work for a loop (outbox rows for the relay, a timer for the timer runner) marks the
loop's channel on its session (`mark`). At the commit:

- a loop of this process that waits on that channel (a `Wakeup` of the same engine) is woken at once;
- on PostgreSQL, when no such loop runs in this process (`serve` and `worker` as separate processes), the
  transaction also sends `NOTIFY <channel>` (delivered by PostgreSQL at the commit, never on a rollback), and
  the other process's `Wakeup` LISTENs on it through a connection of its own.

SQLite has no NOTIFY: a loop in another process is found by the loop's own slow fallback poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

logger = logging.getLogger("servicekit.wakeups")

OUTBOX_CHANNEL = "servicekit_outbox"
TIMERS_CHANNEL = "servicekit_timers"

_MARKED = "servicekit.wakeups"
# channel -> {sync engine: the Wakeups of this process that wait on it}
_LOCAL: dict[str, weakref.WeakKeyDictionary[Engine, weakref.WeakSet[Wakeup]]] = {}


def mark(session: AsyncSession | Session, channel: str) -> None:
    """Wake the loops waiting on `channel` when this session's transaction commits."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    marked: set[str] = sync.info.setdefault(_MARKED, set())
    marked.add(channel)


def _engine(session: Session) -> Engine | None:
    try:
        bind = session.get_bind()
    except Exception:  # an unbound session: nothing to wake
        return None
    return bind if isinstance(bind, Engine) else getattr(bind, "engine", None)


def _local(channel: str, engine: Engine | None) -> list[Wakeup]:
    if engine is None:
        return []
    engines = _LOCAL.get(channel)
    waiters = engines.get(engine) if engines is not None else None
    return list(waiters) if waiters else []


@event.listens_for(Session, "before_commit")
def _notify_other_processes(session: Session) -> None:
    channels = session.info.get(_MARKED)
    if not channels:
        return
    engine = _engine(session)
    if engine is None or engine.dialect.name != "postgresql":
        return
    for channel in sorted(channels):
        if not _local(channel, engine):
            session.connection().exec_driver_sql(f"NOTIFY {channel}")


@event.listens_for(Session, "after_commit")
def _wake_this_process(session: Session) -> None:
    channels = session.info.pop(_MARKED, None)
    if not channels:
        return
    engine = _engine(session)
    for channel in channels:
        for waiter in _local(channel, engine):
            waiter.event.set()


@event.listens_for(Session, "after_soft_rollback")
def _forget(session: Session, _previous: Any) -> None:
    session.info.pop(_MARKED, None)


class Wakeup:
    """What a loop of `database` sleeps on between passes: `wait(timeout)` ends early when work was committed.

    `event` may be shared (the relay passes the database's outbox_signal, which servicekit.db also sets).
    """

    def __init__(self, database: Any, channel: str, event: asyncio.Event | None = None) -> None:
        self.database = database
        self.channel = channel
        self.event = event or asyncio.Event()
        self._connection: AsyncConnection | None = None
        self._driver: Any = None
        engine: Engine = database.engine.sync_engine
        _LOCAL.setdefault(channel, weakref.WeakKeyDictionary()).setdefault(engine, weakref.WeakSet()).add(self)

    @property
    def listening(self) -> bool:
        return self._driver is not None and not self._driver.is_closed()

    async def listen(self) -> bool:
        """On PostgreSQL, LISTEN (again, if the connection was lost); False when that is not possible now."""
        if self.database.is_sqlite or self.listening:
            return self.listening
        await self.close()
        try:
            connection = await self.database.engine.connect()
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            await driver.add_listener(self.channel, self._notified)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.info("LISTEN %s not possible now (the fallback poll covers it): %s", self.channel, exc)
            return False
        self._connection, self._driver = connection, driver
        return True

    def _notified(self, *_args: Any) -> None:
        self.event.set()

    async def wait(self, timeout: float) -> bool:
        """Sleep until woken or `timeout` s; True when woken. The caller clears `event` before its pass."""
        if not self.database.is_sqlite and not self.listening:
            await self.listen()
        if self.event.is_set():
            return True
        try:
            await asyncio.wait_for(self.event.wait(), timeout=max(timeout, 0.0))
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        connection, driver = self._connection, self._driver
        self._connection = self._driver = None
        if driver is not None:
            with contextlib.suppress(Exception):
                await driver.remove_listener(self.channel, self._notified)
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()
