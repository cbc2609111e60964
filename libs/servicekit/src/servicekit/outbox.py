"""The transactional outbox: emit with the change, relay in order to Kafka, keep for replay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter as Tally
from datetime import datetime, timedelta
from typing import Any

from contracts import STRUCTURED_CONTENT_TYPE, CloudEvent, EventData, make_event
from prometheus_client import Counter, Gauge
from sqlalchemy import Table, delete, func, update
from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from servicekit.bulk import queue_insert
from servicekit.context import KAFKA_REQUEST_ID_HEADER, current_request_id
from servicekit.db import Database, utcnow
from servicekit.kafka import KafkaPublisher, Record
from servicekit.models import OutboxEvent
from servicekit.tracing import current_trace_fields, message_trace_headers, publish_spans

logger = logging.getLogger("servicekit.outbox")

PUBLISHED = Counter("outbox_published_total", "Events the relay published to Kafka", ["topic"])
PENDING = Gauge("outbox_pending", "Outbox rows not yet published (as of the last relay pass)")

# Any constant works; it only has to be the same for every replica of a service (each has its own database).
_RELAY_LOCK_KEY = 0x7A1E_0B0C
_OUTBOX_TABLE: Table = OutboxEvent.__table__  # type: ignore[attr-defined]


class Outbox:
    """Writes a service's events into its outbox, inside the caller's transaction."""

    def __init__(self, source: str) -> None:
        self.source = source

    def emit(self, session: AsyncSession, data: EventData, *, subject: str | None) -> CloudEvent:
        event, row = self.row(data, subject=subject)
        # One INSERT for all of a transaction's events, at its commit (servicekit.bulk): the transaction that
        # writes them never reads the outbox; the relay does, after the commit.
        queue_insert(session, _OUTBOX_TABLE, row, at_commit=True)
        session.info["outbox_dirty"] = True
        return event

    def row(self, data: EventData, *, subject: str | None) -> tuple[CloudEvent, dict[str, Any]]:
        """The event and its outbox row, for a writer that inserts rows itself (a batched connection-level
        INSERT with no ORM session, e.g. applicant's scan log); `emit` is the same inside a session."""
        event = make_event(data, source=self.source, subject=subject)
        if subject is not None:
            # The CloudEvents Kafka binding maps the `partitionkey` extension to the record key: carry both.
            event = event.model_copy(update={"partitionkey": subject})
        trace_fields = current_trace_fields()
        if trace_fields:
            # CloudEvents Distributed Tracing: the trace of the request (or event) that caused this one.
            event = event.model_copy(update=trace_fields)
        return event, {
            "event_id": event.id,
            "topic": data.topic,
            "key": subject,
            "event_type": event.type,
            "payload": event.to_json().decode(),
            "request_id": current_request_id(),
            "created_at": event.time,
            "published_at": None,
        }


# What the relay reads of a row: plain tuples, not ORM objects (a pass reads up to `batch_size` rows).
_RELAY_COLUMNS = (
    col(OutboxEvent.id),
    col(OutboxEvent.event_id),
    col(OutboxEvent.topic),
    col(OutboxEvent.key),
    col(OutboxEvent.event_type),
    col(OutboxEvent.payload),
    col(OutboxEvent.request_id),
)


def kafka_headers(row: Any) -> list[tuple[str, bytes]]:
    """The headers of an outbox row's record: structured-mode CloudEvents, plus what is not part of the event."""
    # Structured mode: the value is the whole event, so no `ce_*` header (those would declare binary mode).
    headers = [("content-type", STRUCTURED_CONTENT_TYPE.encode())]
    if row.request_id:
        headers.append((KAFKA_REQUEST_ID_HEADER, row.request_id.encode()))
    headers += message_trace_headers(row)  # W3C trace context, also as the header consumers look at first
    return headers


def _record(row: Any) -> Record:
    """A Kafka record of an outbox row (an OutboxEvent or a row of _RELAY_COLUMNS)."""
    return Record(
        topic=row.topic,
        value=row.payload.encode(),
        key=row.key.encode() if row.key else None,
        headers=kafka_headers(row),
    )


class OutboxRelay:
    """Publishes unpublished rows in id order, marks them, and prunes them after the retention period.

    On PostgreSQL several replicas may run: a transaction-scoped advisory lock elects one relay per
    pass (so per-subject order holds), and the rows are locked FOR UPDATE SKIP LOCKED while they are
    published. On SQLite there is a single writer, and the write lock is not held while the broker answers.
    """

    def __init__(
        self,
        database: Database,
        publisher: KafkaPublisher,
        *,
        batch_size: int = 200,
        poll_interval_s: float = 0.05,
        retention: timedelta = timedelta(days=14),
        prune_every_s: float = 3600.0,
    ) -> None:
        self.database = database
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.retention = retention
        self.prune_every_s = prune_every_s

    async def run(self) -> None:
        backoff = self.poll_interval_s
        last_prune = 0.0
        loop = asyncio.get_running_loop()
        while True:
            # Cleared before the pass, not after it: a commit that lands during the pass sets it again,
            # so its rows are picked up at once instead of after a whole poll interval.
            self.database.outbox_signal.clear()
            try:
                published = await self.publish_pending()
                backoff = self.poll_interval_s
                if loop.time() - last_prune > self.prune_every_s:
                    await self.prune()
                    last_prune = loop.time()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: keep the rows, try again later
                logger.warning("outbox relay pass failed, will retry: %s", exc)
                published = 0
                backoff = min(backoff * 2, 5.0)
                await asyncio.sleep(backoff)
                continue
            if published == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.database.outbox_signal.wait(), timeout=self.poll_interval_s)

    async def publish_pending(self) -> int:
        """Publish everything pending now; returns how many rows were published."""
        total = 0
        while True:
            count = await self._publish_batch()
            total += count
            if count < self.batch_size:
                return total

    async def _publish_batch(self) -> int:
        async with self.database.sessionmaker() as session:
            async with session.begin():
                if not self.database.is_sqlite:
                    got_lock = await session.scalar(select(func.pg_try_advisory_xact_lock(_RELAY_LOCK_KEY)))
                    if not got_lock:
                        return 0
                query = (
                    select_columns(*_RELAY_COLUMNS)
                    .where(col(OutboxEvent.published_at).is_(None))
                    .order_by(col(OutboxEvent.id))
                    .limit(self.batch_size)
                )
                if not self.database.is_sqlite:
                    query = query.with_for_update(skip_locked=True)
                rows = list((await session.exec(query)).all())  # type: ignore[call-overload]
                if not rows:
                    PENDING.set(0)
                    return 0
                if not self.database.is_sqlite:
                    with publish_spans(rows):
                        await self.publisher.publish([_record(r) for r in rows])
                    await self._mark_published(session, rows)
                    self._count(rows)
                    return len(rows)
            # SQLite: the single write lock must not be held while the broker is slow or away.
            with publish_spans(rows):
                await self.publisher.publish([_record(r) for r in rows])
            async with session.begin():
                await self._mark_published(session, rows)
            self._count(rows)
            return len(rows)

    @staticmethod
    async def _mark_published(session: AsyncSession, rows: list[Any]) -> None:
        # Rows come in id order, so a range is the same set as the list of ids, in a shorter statement.
        first, last = rows[0].id, rows[-1].id
        ids = [r.id for r in rows]
        contiguous = last - first + 1 == len(ids)
        condition = col(OutboxEvent.id).between(first, last) if contiguous else col(OutboxEvent.id).in_(ids)
        await session.exec(update(OutboxEvent).where(condition).values(published_at=utcnow()))

    def _count(self, rows: list[Any]) -> None:
        for topic, count in Tally(row.topic for row in rows).items():
            PUBLISHED.labels(topic).inc(count)

    async def prune(self) -> int:
        """Delete published rows older than the retention period."""
        cutoff = utcnow() - self.retention
        async with self.database.transaction() as session:
            result: Any = await session.exec(
                delete(OutboxEvent).where(
                    col(OutboxEvent.published_at).is_not(None),
                    col(OutboxEvent.published_at) < cutoff,
                )
            )
            return int(result.rowcount or 0)

    async def pending_count(self) -> int:
        async with self.database.sessionmaker() as session:
            count = await session.scalar(
                select(func.count()).select_from(OutboxEvent).where(col(OutboxEvent.published_at).is_(None))
            )
            return int(count or 0)


async def replay(
    database: Database, publisher: KafkaPublisher, *, since: datetime, until: datetime, batch_size: int = 500
) -> int:
    """Re-publish every retained event created in [since, until), in order; consumers drop duplicates."""
    published = 0
    last_id = 0
    while True:
        async with database.sessionmaker() as session:
            rows = list(
                (
                    await session.exec(
                        select(OutboxEvent)
                        .where(
                            col(OutboxEvent.created_at) >= since,
                            col(OutboxEvent.created_at) < until,
                            col(OutboxEvent.id) > last_id,
                        )
                        .order_by(col(OutboxEvent.id))
                        .limit(batch_size)
                    )
                ).all()
            )
        if not rows:
            return published
        await publisher.publish([_record(r) for r in rows])
        published += len(rows)
        last_id = rows[-1].id or last_id
