"""Persisted timers: a row with a due time that a runner fires, so a restart loses none.

Offers that lapse, review deadlines, the end of a 公示 period, certification expiry: each is a
`ScheduledTimer` written in the same transaction as the change that starts the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Column, Index, Table, Text, UniqueConstraint, func, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from servicekit.bulk import queue_insert
from servicekit.db import Database, UTCDateTime, utcnow
from servicekit.wakeups import TIMERS_CHANNEL, Wakeup, mark

logger = logging.getLogger("servicekit.timers")

FIRED = Counter("timers_fired_total", "Timers fired, by kind and outcome", ["kind", "outcome"])


class ScheduledTimer(SQLModel, table=True):
    """One pending piece of work due at a time; (kind, key) is unique, so rescheduling moves it."""

    __tablename__ = "scheduled_timer"
    __table_args__ = (
        UniqueConstraint("kind", "key"),
        Index("ix_scheduled_timer_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=80)
    key: str = Field(max_length=120)
    due_at: datetime = Field(sa_type=UTCDateTime)
    payload: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    status: str = Field(default="pending", max_length=12)  # pending, done, cancelled, failed
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    fired_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    def data(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.payload)
        return value


_TIMER_TABLE: Table = ScheduledTimer.__table__  # type: ignore[attr-defined]

# Work a timer handler leaves for after its transaction commits (network calls: never inside the
# transaction, where they would hold the database's write lock while the other side answers).
AfterCommit = Callable[[Database], Awaitable[None]]
# A handler runs in the timer's transaction; it may return an AfterCommit, which the runner awaits once
# the transaction (its claim on the work) has committed. The follow-up records its own outcome in a
# transaction of its own; a failure in it is logged, not retried by the runner: the handler leaves a
# timer of its own behind (e.g. the next attempt, due after a lease) if the work must not be lost.
TimerHandler = Callable[[AsyncSession, ScheduledTimer], Awaitable[AfterCommit | None]]


async def schedule(
    session: AsyncSession, kind: str, key: str, due_at: datetime, payload: Mapping[str, Any] | None = None
) -> ScheduledTimer:
    """Start (or move) the timer (kind, key) to fire at `due_at`."""
    _unqueue_cancel(session, kind, key)
    result = await session.exec(select(ScheduledTimer).where(ScheduledTimer.kind == kind, ScheduledTimer.key == key))
    timer = result.first()
    if timer is None:
        timer = ScheduledTimer(kind=kind, key=key, due_at=due_at)
        session.add(timer)
    timer.due_at = due_at
    timer.payload = json.dumps(dict(payload or {}), default=str)
    timer.status = "pending"
    timer.attempts = 0
    timer.last_error = None
    timer.fired_at = None
    mark(session, TIMERS_CHANNEL)  # a runner asleep until a later timer looks again at the commit
    return timer


def schedule_new(
    session: AsyncSession, kind: str, key: str, due_at: datetime, payload: Mapping[str, Any] | None = None
) -> None:
    """Start a timer whose key was made in this transaction (a new row's id), so none can exist yet.

    No look-up, and the row goes out with the transaction's other queued rows (servicekit.bulk); the
    unique (kind, key) constraint still refuses a second one. Use `schedule` when the key may exist.
    """
    schedule_many(session, kind, [(key, due_at, payload)])


def schedule_many(
    session: AsyncSession, kind: str, items: Iterable[tuple[str, datetime, Mapping[str, Any] | None]]
) -> int:
    """Start many timers of one kind, each (key, due_at, payload), whose keys were made in this transaction.

    `schedule_new` for a batch (the offers of a draw, thousands at once): no look-up, and the rows go out as
    one multi-row INSERT with the transaction's other queued rows (servicekit.bulk), before its next
    statement or at its commit. The unique (kind, key) constraint still refuses a key that exists.
    Returns how many timers were queued.
    """
    created_at = utcnow()
    count = 0
    mark(session, TIMERS_CHANNEL)
    for key, due_at, payload in items:
        _unqueue_cancel(session, kind, key)
        queue_insert(
            session,
            _TIMER_TABLE,
            {
                "kind": kind,
                "key": key,
                "due_at": due_at,
                "payload": json.dumps(dict(payload or {}), default=str),
                "status": "pending",
                "attempts": 0,
                "last_error": None,
                "created_at": created_at,
                "fired_at": None,
            },
        )
        count += 1
    return count


_QUEUED_CANCELS = "servicekit.timers.queued_cancels"
_CANCEL_CHUNK = 500


@contextlib.asynccontextmanager
async def cancels_batched(session: AsyncSession) -> AsyncIterator[None]:
    """Within the block, `cancel_soon` queues its cancels; they run when the block ends, one UPDATE per kind.

    For bulk work (a bank's result file closing hundreds of claims): each `cancel` is an UPDATE, and the
    statement also sends the rows queued before it, so cancelling timer by timer sends every claim's history,
    audit and event rows one claim at a time instead of as one multi-row INSERT. A key scheduled again inside
    the block leaves the queue (the later schedule wins, as it would have one by one). Nothing runs when the
    block raises: the caller's transaction is failing anyway.
    """
    if session.info.get(_QUEUED_CANCELS) is not None:
        yield  # already inside a batch: its end runs these too
        return
    queued: dict[str, set[str]] = {}
    session.info[_QUEUED_CANCELS] = queued
    try:
        yield
    finally:
        del session.info[_QUEUED_CANCELS]
    for kind, keys in queued.items():
        ordered = sorted(keys)  # a fixed order: two batches never lock the same rows in opposite orders
        for start in range(0, len(ordered), _CANCEL_CHUNK):
            await _cancel_keys(session, kind, ordered[start : start + _CANCEL_CHUNK])


async def cancel_soon(session: AsyncSession, kind: str, key: str) -> None:
    """Stop a pending timer: at once, or at the end of the enclosing `cancels_batched` block."""
    queued: dict[str, set[str]] | None = session.info.get(_QUEUED_CANCELS)
    if queued is None:
        await cancel(session, kind, key)
    else:
        queued.setdefault(kind, set()).add(key)


def _unqueue_cancel(session: AsyncSession, kind: str, key: str) -> None:
    queued: dict[str, set[str]] | None = session.info.get(_QUEUED_CANCELS)
    if queued is not None and kind in queued:
        queued[kind].discard(key)


async def _cancel_keys(session: AsyncSession, kind: str, keys: list[str]) -> int:
    statement = (
        update(ScheduledTimer)
        .where(
            col(ScheduledTimer.kind) == kind,
            col(ScheduledTimer.key).in_(keys),
            col(ScheduledTimer.status) == "pending",
        )
        .values(status="cancelled")
        .execution_options(synchronize_session="evaluate")
    )
    result: Any = await session.exec(statement)
    return int(result.rowcount)


async def cancel(session: AsyncSession, kind: str, key: str) -> bool:
    """Stop a pending timer; True when there was one.

    One UPDATE, no SELECT first: the ORM flushes pending rows before it and updates a timer object this
    session already holds ("evaluate"), so the session never sees a stale status.
    """
    _unqueue_cancel(session, kind, key)  # done now: the batch's end has nothing left to do for it
    return bool(await _cancel_keys(session, kind, [key]))


class TimerRunner:
    """Fires due timers, each in its own transaction with its effect; retries with backoff, then gives up.

    Between passes it sleeps until the next pending timer is due (one MIN(due_at) query), at most
    `max_sleep_s`, and wakes early when a commit schedules a timer (servicekit.wakeups: at once in this process,
    by LISTEN/NOTIFY from another on PostgreSQL). The cap bounds how late a timer written by another process on
    SQLite (or moved by hand in the database) fires.
    """

    def __init__(
        self,
        database: Database,
        handlers: Mapping[str, TimerHandler],
        *,
        poll_interval_s: float = 0.5,
        batch_size: int = 100,
        max_attempts: int = 5,
        clock: Callable[[], datetime] = utcnow,
        max_sleep_s: float = 5.0,
    ) -> None:
        self.database = database
        self.handlers = dict(handlers)
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.clock = clock
        self.max_sleep_s = max(max_sleep_s, poll_interval_s)
        self.wakeup = Wakeup(database, TIMERS_CHANNEL)

    async def run(self) -> None:
        await self.wakeup.listen()
        try:
            while True:
                # Cleared before the pass: a timer committed during it wakes the next sleep at once.
                self.wakeup.event.clear()
                try:
                    delay = await self._pass()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    logger.warning("timer pass failed, will retry: %s", exc)
                    delay = self.poll_interval_s
                if delay > 0:
                    await self.wakeup.wait(delay)
        finally:
            await self.wakeup.close()

    async def _pass(self) -> float:
        """Fire what is due (one read-only look-up first: an idle pass takes no write transaction); returns how
        long to sleep before the next pass."""
        seconds = await self._seconds_to_next_due()
        if seconds is None:
            return self.max_sleep_s
        if seconds > 0:
            return min(max(seconds, 0.01), self.max_sleep_s)
        fired = await self.fire_due()
        # Fired some: look again at once. Fired none although one is due: another replica holds it.
        return 0.0 if fired else self.poll_interval_s

    async def next_sleep_s(self) -> float:
        """Seconds until the next pending timer of this runner's kinds is due, within [0.01, max_sleep_s].

        A timer already due that the last pass did not fire (another replica holds it) is looked at again after
        `poll_interval_s`, not at once.
        """
        seconds = await self._seconds_to_next_due()
        if seconds is None:
            return self.max_sleep_s
        if seconds <= 0:
            return self.poll_interval_s
        return min(max(seconds, 0.01), self.max_sleep_s)

    async def _seconds_to_next_due(self) -> float | None:
        """Seconds until the next pending timer of this runner's kinds is due (<= 0: due now); None: none."""
        async with self.database.read() as conn:
            due = (
                await conn.execute(
                    select(func.min(ScheduledTimer.due_at)).where(
                        ScheduledTimer.status == "pending", col(ScheduledTimer.kind).in_(list(self.handlers))
                    )
                )
            ).scalar()
        if due is None:
            return None
        if isinstance(due, str):  # SQLite without the column type: an ISO text
            due = datetime.fromisoformat(due)
        if due.tzinfo is None:
            due = due.replace(tzinfo=self.clock().tzinfo)
        return float((due - self.clock()).total_seconds())

    async def fire_due(self) -> int:
        """Fire every timer due now (up to one batch); returns how many were attempted."""
        async with self.database.sessionmaker() as session:
            ids = list(
                (
                    await session.exec(
                        select(ScheduledTimer.id)
                        .where(
                            ScheduledTimer.status == "pending",
                            col(ScheduledTimer.due_at) <= self.clock(),
                            col(ScheduledTimer.kind).in_(list(self.handlers)),
                        )
                        .order_by(col(ScheduledTimer.due_at))
                        .limit(self.batch_size)
                    )
                ).all()
            )
        for timer_id in ids:
            if timer_id is not None:
                await self._fire(timer_id)
        return len(ids)

    async def _fire(self, timer_id: int) -> None:
        query = select(ScheduledTimer).where(ScheduledTimer.id == timer_id, ScheduledTimer.status == "pending")
        if not self.database.is_sqlite:
            # Another replica may be firing it: skip rather than wait.
            query = query.with_for_update(skip_locked=True)
        follow_up: AfterCommit | None = None
        try:
            async with self.database.transaction() as session:
                timer = (await session.exec(query)).first()
                if timer is None or timer.due_at > self.clock():
                    return
                kind = timer.kind
                follow_up = await self.handlers[kind](session, timer)
                timer.status = "done"
                timer.fired_at = self.clock()
            FIRED.labels(kind, "done").inc()
        except Exception as exc:
            logger.warning("timer %s failed: %s", timer_id, exc)
            await self._record_failure(timer_id, exc)
            return
        if follow_up is not None:
            try:
                await follow_up(self.database)
            except Exception:
                logger.exception("timer %s (%s): the work after its commit failed", timer_id, kind)

    async def _record_failure(self, timer_id: int, exc: Exception) -> None:
        async with self.database.transaction() as session:
            timer = await session.get(ScheduledTimer, timer_id)
            if timer is None or timer.status != "pending":
                return
            timer.attempts += 1
            timer.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            if timer.attempts >= self.max_attempts:
                timer.status = "failed"
                FIRED.labels(timer.kind, "failed").inc()
                logger.error(
                    "timer %s (%s/%s) gave up after %d attempts", timer_id, timer.kind, timer.key, timer.attempts
                )
            else:
                timer.due_at = self.clock() + timedelta(seconds=2**timer.attempts)
                FIRED.labels(timer.kind, "retry").inc()
