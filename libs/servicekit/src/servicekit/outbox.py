"""The transactional outbox: emit with the change, relay in order to Kafka, keep for replay."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter as Tally
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from aiokafka import TopicPartition
from aiokafka.structs import RecordMetadata
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
from servicekit.wakeups import OUTBOX_CHANNEL, Wakeup, mark

logger = logging.getLogger("servicekit.outbox")

PUBLISHED = Counter("outbox_published_total", "Events the relay published to Kafka", ["topic"])
PENDING = Gauge("outbox_pending", "Outbox rows not yet published (as of the last relay pass)")
BROKER_MEMORY_LOST = Counter(
    "outbox_broker_memory_lost_total", "Times the relay found the broker had lost records it had acknowledged"
)
REPUBLISHED = Counter(
    "outbox_republished_total", "Retained events marked for publishing again after the broker lost its memory"
)

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
        mark(session, OUTBOX_CHANNEL)  # wakes the relay at the commit, in this process or (PostgreSQL) another
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

    A broker that lost its memory (the embedded Tansu keeps everything in memory; a kill -9 and a restart
    leave it empty) is found by `check_broker_memory`, every `check_every_s` and first thing after a failed
    pass: then the whole retained window is published again (see there).

    Between passes it sleeps until a commit wakes it (servicekit.wakeups: a commit of this process at once; one
    of another process through LISTEN/NOTIFY on PostgreSQL). The fallback poll, for what no wake-up announces
    (rows of another process on SQLite, a lost LISTEN connection), starts at `poll_interval_s` after a pass that
    published and doubles with each empty pass up to `idle_poll_s`: an idle relay asks the database every few
    seconds, not 20 times a second.
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
        check_every_s: float = 15.0,
        idle_poll_s: float = 5.0,
        idle_check_every_s: float | None = None,
    ) -> None:
        self.database = database
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.retention = retention
        self.prune_every_s = prune_every_s
        self.check_every_s = check_every_s
        self.idle_poll_s = max(idle_poll_s, poll_interval_s)
        # The memory check (a short-lived client of its own: connect, metadata, offsets) while nothing was
        # published since the last one: the loss it looks for is then only of rows it already checked once.
        self.idle_check_every_s = max(idle_check_every_s or check_every_s, check_every_s)
        self._published_since_check = True
        self.wakeup = Wakeup(database, OUTBOX_CHANNEL, database.outbox_signal)
        # On PostgreSQL another replica may hold the pass's lock when a commit wakes this relay: poll soon then.
        self._lock_missed = False
        # Per partition, the end of the log as this relay last saw it acknowledged (highest offset + 1).
        self._written: dict[TopicPartition, int] = {}
        # When to look next; 0 = at once: at start (the broker may have restarted empty while this process was
        # down) and after a failed pass (when it answers again, it may be a new, empty broker).
        self._next_check = 0.0
        self._loss_suspected = False  # an acknowledgement below the remembered end was seen

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            await self.wakeup.close()

    async def _run(self) -> None:
        backoff = self.poll_interval_s
        fallback = self.poll_interval_s
        last_prune = 0.0
        loop = asyncio.get_running_loop()
        await self.wakeup.listen()
        while True:
            # Cleared before the pass, not after it: a commit that lands during the pass sets it again,
            # so its rows are picked up at once instead of after a whole poll interval.
            self.database.outbox_signal.clear()
            if loop.time() >= self._next_check:
                busy = self._published_since_check
                checked = await self._check_quietly()
                interval = self.check_every_s if busy else self.idle_check_every_s
                self._next_check = loop.time() + (interval if checked else min(self.check_every_s, 1.0))
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
                self._next_check = 0.0
                published = 0
                backoff = min(backoff * 2, 5.0)
                await asyncio.sleep(backoff)
                continue
            if published:
                fallback = self.poll_interval_s
            elif self._lock_missed:  # another replica's pass: look again soon, it may have missed this one's rows
                fallback = self.poll_interval_s
                await self.wakeup.wait(self.poll_interval_s)
            else:
                # Woken by a commit, or the fallback poll: the longer nothing came, the slower it polls.
                woken = await self.wakeup.wait(min(fallback, max(self._next_check - loop.time(), 0.0)))
                fallback = self.poll_interval_s if woken else min(fallback * 2, self.idle_poll_s)

    async def publish_pending(self) -> int:
        """Publish everything pending now; returns how many rows were published."""
        self._lock_missed = False
        total = 0
        while True:
            count = await self._publish_batch()
            total += count
            if count < self.batch_size or self._loss_suspected:  # check first (see _remember)
                return total

    async def _publish_batch(self) -> int:
        async with self.database.sessionmaker() as session:
            async with session.begin():
                if not self.database.is_sqlite:
                    got_lock = await session.scalar(select(func.pg_try_advisory_xact_lock(_RELAY_LOCK_KEY)))
                    if not got_lock:
                        self._lock_missed = True
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
                        self._remember(await self.publisher.publish([_record(r) for r in rows]))
                    await self._mark_published(session, rows)
                    self._count(rows)
                    return len(rows)
            # SQLite: the single write lock must not be held while the broker is slow or away.
            with publish_spans(rows):
                self._remember(await self.publisher.publish([_record(r) for r in rows]))
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

    def _remember(self, acknowledged: Sequence[RecordMetadata]) -> None:
        for ack in acknowledged:
            tp = TopicPartition(ack.topic, ack.partition)
            end = self._written.get(tp, 0)
            if ack.offset < end:
                # Offsets only grow on a broker that keeps its log: this one went back. Check at once (the
                # witness keeps the old end, so the check finds it) instead of at the next interval.
                self._loss_suspected = True
                self._next_check = 0.0
            self._written[tp] = max(end, ack.offset + 1)

    async def _check_quietly(self) -> bool:
        """Run the check; False if the broker could not answer it (it is tried again soon)."""
        try:
            self._published_since_check = False
            await self.check_broker_memory()
            self._loss_suspected = False
            return True
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # broker away or frozen: publishing goes on (or fails and backs off) meanwhile
            logger.info("broker memory check not possible now: %s", exc)
            return False

    async def check_broker_memory(self) -> int:
        """Publish the retained window again if the broker lost records; returns how many rows were marked.

        Lost means: a partition's exact end offset (its high watermark, from a fetch) is below the end this
        relay was acknowledged at; end offsets never go back on a broker that keeps its log. A process that
        has published nothing yet (just started) compares instead, per topic, the sum of the end offsets with
        the number of retained published rows: every one of them was acknowledged on that topic once.

        After a memory loss nothing can be proven consumed (consumer offsets went with the log, and the
        consumers' ledgers are in other databases), so every retained published row is marked unpublished and
        the ordinary relay passes send them again, in id order and in batches, before anything newer.
        Consumers drop what they had applied (their ledger). Marking is durable: a relay that dies half-way
        carries on after its restart. Rows pruned after the retention period cannot come back.
        """
        if self._written:
            witness = dict(self._written)
            marks = await self.publisher.high_watermarks(witness)
            lost = sorted(
                f"{tp.topic}[{tp.partition}] {marks[tp]} < {end}"
                for tp, end in witness.items()
                if tp in marks and marks[tp] < end
            )
        else:
            retained = await self._published_per_topic()
            if not retained:
                return 0
            ends = await self.publisher.topic_ends(list(retained))
            lost = sorted(f"{t}: {ends[t]} < {n} records" for t, n in retained.items() if t in ends and ends[t] < n)
        if not lost:
            return 0
        marked = await self._mark_retained_unpublished()
        self._written.clear()
        await self.publisher.broker_forgot()
        BROKER_MEMORY_LOST.inc()
        REPUBLISHED.inc(marked)
        logger.warning(
            "the broker lost acknowledged records (%s); publishing the %d retained events again",
            "; ".join(lost),
            marked,
        )
        self.database.outbox_signal.set()
        return marked

    async def _published_per_topic(self) -> dict[str, int]:
        async with self.database.sessionmaker() as session:
            query = (
                select_columns(col(OutboxEvent.topic), func.count())
                .where(col(OutboxEvent.published_at).is_not(None))
                .group_by(col(OutboxEvent.topic))
            )
            return {str(topic): int(count) for topic, count in (await session.exec(query)).all()}  # type: ignore[call-overload]

    async def _mark_retained_unpublished(self) -> int:
        async with self.database.transaction() as session:
            result: Any = await session.exec(
                update(OutboxEvent).where(col(OutboxEvent.published_at).is_not(None)).values(published_at=None)
            )
            return int(result.rowcount or 0)

    def _count(self, rows: list[Any]) -> None:
        self._published_since_check = True
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
