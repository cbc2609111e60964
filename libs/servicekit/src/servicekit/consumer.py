"""The idempotent consumer: effect and ledger in one transaction, then the offset; poison to a dead-letter topic."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from contracts import CloudEvent, EventData, InvalidEvent, dead_letter_topic, ownership_problem, parse_data
from prometheus_client import Counter
from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from servicekit.bulk import queue_insert
from servicekit.context import KAFKA_REQUEST_ID_HEADER, request_id_var
from servicekit.db import Database, utcnow
from servicekit.kafka import PLAINTEXT, KafkaPublisher, KafkaSecurity, Record, new_consumer
from servicekit.models import ProcessedEvent
from servicekit.tracing import consumer_span

logger = logging.getLogger("servicekit.consumer")

_LEDGER: Table = ProcessedEvent.__table__  # type: ignore[attr-defined]

CONSUMED = Counter("consumer_events_total", "Events seen by a consumer, by outcome", ["group", "outcome"])

# (session, envelope, typed data) -> effect, inside the transaction that also records the event as processed.
Handler = Callable[[AsyncSession, CloudEvent, Any], Awaitable[None]]
# (session, [(envelope, typed data), ...]) -> nothing: loads what a batch's handlers will need in a few queries.
Prepare = Callable[[AsyncSession, Sequence[tuple[CloudEvent, Any]]], Awaitable[None]]


class PreparedHandler:
    """A handler with a `prepare` step the batch path runs once, before the batch's handlers.

    `prepare` only warms caches (e.g. loads the rows of every subject in the batch with one query); the
    handler must give the same result without it, because single events and retries skip it.
    """

    def __init__(self, handler: Handler, prepare: Prepare) -> None:
        self.handler = handler
        self.prepare = prepare

    async def __call__(self, session: AsyncSession, event: CloudEvent, data: Any) -> None:
        await self.handler(session, event, data)


def with_prepare(prepare: Prepare, handlers: Mapping[type[EventData], Handler]) -> dict[type[EventData], Handler]:
    """The same handlers, each with `prepare` run once per batch over all of their events."""
    return {data_type: PreparedHandler(handler, prepare) for data_type, handler in handlers.items()}


class _BatchFailed(Exception):
    """A batch could not be applied together; `index` is the message whose handler failed (-1: none)."""

    def __init__(self, index: int, cause: Exception) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.index = index


class PoisonMessage(Exception):
    """A message no retry can fix (not an event, or data that does not validate)."""


class _LogRebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, group: str) -> None:
        self.group = group

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # Offsets are committed after every effect, so nothing is pending here.
        logger.info("%s: partitions revoked %s", self.group, sorted(str(tp) for tp in revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        logger.info("%s: partitions assigned %s", self.group, sorted(str(tp) for tp in assigned))


class EventConsumer:
    """Consumes a consumer group's topics and applies each event exactly once to the database."""

    def __init__(
        self,
        database: Database,
        publisher: KafkaPublisher,
        *,
        bootstrap_servers: str,
        group_id: str,
        handlers: Mapping[type[EventData], Handler],
        security: KafkaSecurity = PLAINTEXT,
        max_attempts: int = 5,
        retry_backoff_s: float = 0.2,
        consumer_config: Mapping[str, Any] | None = None,
        batch_size: int = 200,
        fetch_max_wait_ms: int = 50,
        idle_fetch_wait_ms: int = 1000,
        quiet_after_s: float = 30.0,
    ) -> None:
        self.database = database
        self.publisher = publisher
        self.bootstrap_servers = bootstrap_servers
        self.security = security
        self.group_id = group_id
        self.handlers = {data_type.type: handler for data_type, handler in handlers.items()}
        self.topics: Sequence[str] = sorted({data_type.topic for data_type in handlers})
        self.max_attempts = max_attempts
        self.retry_backoff_s = retry_backoff_s
        self.dead_letter_topic = dead_letter_topic(group_id)
        # Extra AIOKafkaConsumer settings, e.g. a short session_timeout_ms in tests: Tansu answers a
        # JoinGroup only after half the session timeout, so the default 10 s costs 5 s per join.
        self.consumer_config = dict(consumer_config or {})
        # How long the broker may hold a fetch while no data is there. Tansu answers a waiting fetch only when
        # this runs out, not when a message arrives, so the default 500 ms was the latency of an idle consumer
        # (measured: p50 132 ms, p90 235 ms; with 50 ms: p50 12 ms) for about 1% of a core per idle consumer.
        self.consumer_config.setdefault("fetch_max_wait_ms", fetch_max_wait_ms)
        # An idle consumer need not ask 20 times a second (each fetch costs this process and the broker CPU):
        # after `quiet_after_s` without a record the wait doubles every few seconds up to `idle_fetch_wait_ms`,
        # and the first batch of records brings it back to the short one (AdaptiveWait). On Apache Kafka a
        # waiting fetch is answered as soon as data arrives, so the long wait costs nothing there; on Tansu the
        # first event after a quiet spell waits at most `idle_fetch_wait_ms` (set it to the short wait to opt out).
        self.wait = AdaptiveWait(
            busy_ms=int(self.consumer_config["fetch_max_wait_ms"]),
            idle_ms=max(idle_fetch_wait_ms, int(self.consumer_config["fetch_max_wait_ms"])),
            quiet_after_s=quiet_after_s,
        )
        # How soon a change in a topic's partitions is seen (the group then rebalances onto the new ones).
        # aiokafka's default, 5 minutes, left a client that joined just before the broker lost its memory on 3 of
        # the 4 partitions Tansu recreates a topic with (seen in the fault suite: an event in partition 3 unread).
        self.consumer_config.setdefault("metadata_max_age_ms", 10_000)
        self.batch_size = batch_size
        self._consumer: AIOKafkaConsumer | None = None

    async def run(self) -> None:
        """Consume until cancelled, reconnecting when the broker goes away."""
        while True:
            consumer = new_consumer(
                self.bootstrap_servers,
                self.security,
                group_id=self.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                **self.consumer_config,
            )
            try:
                await consumer.start()
                consumer.subscribe(list(self.topics), listener=_LogRebalance(self.group_id))
                self._consumer = consumer
                epoch = self.publisher.broker_epoch
                consumed: dict[TopicPartition, int] = {}  # per partition, the offset after the last one applied
                loop = asyncio.get_running_loop()
                self.wait.records(loop.time())
                while self.publisher.broker_epoch == epoch and not _log_went_back(consumer, consumed):
                    # getmany returns as soon as records are there; its timeout only paces this loop's checks.
                    batches = await consumer.getmany(timeout_ms=max(500, self.wait.ms), max_records=self.batch_size)
                    if batches:
                        self.wait.records(loop.time())
                    else:
                        self.wait.quiet(loop.time())
                    _set_fetch_wait(consumer, self.wait.ms)
                    for messages in batches.values():
                        await self.handle_batch(messages)
                        await self.commit_offset(consumer, messages[-1])
                        consumed[TopicPartition(messages[-1].topic, messages[-1].partition)] = messages[-1].offset + 1
                # The broker lost its memory (this client saw a log end below what it had read, or the outbox
                # relay found it): a client that knew the old broker may keep stale partitions and positions; a
                # new one joins afresh and, with no committed offsets left, starts from the earliest record.
                logger.warning("%s: the broker lost its memory; reconnecting as a new member", self.group_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("%s: consumer failed, restarting: %s", self.group_id, exc)
                await asyncio.sleep(1.0)
            finally:
                self._consumer = None
                await consumer.stop()

    async def commit_offset(self, consumer: AIOKafkaConsumer, message: ConsumerRecord[Any, Any]) -> None:
        await consumer.commit({TopicPartition(message.topic, message.partition): message.offset + 1})

    async def handle_batch(self, messages: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Apply a partition's batch in one transaction (one commit, not one per event).

        If anything in the batch fails, the transaction is rolled back and every message is applied on
        its own, with retries and the dead-letter topic, so one bad event never holds up the others.
        """
        if len(messages) == 1:
            await self.handle(messages[0])
            return
        try:
            applied, duplicates = await self._apply_together(messages)
        except _BatchFailed as failure:
            logger.info("%s: batch of %d failed (%s); applying one by one", self.group_id, len(messages), failure)
            for index, message in enumerate(messages):
                # The message that failed the batch has had its first attempt already.
                await self.handle(message, first_attempt=2 if index == failure.index else 1)
            return
        CONSUMED.labels(self.group_id, "applied").inc(applied)
        CONSUMED.labels(self.group_id, "duplicate").inc(duplicates)

    async def _apply_together(self, messages: Sequence[ConsumerRecord[Any, Any]]) -> tuple[int, int]:
        """Apply every message in one transaction; returns (applied, duplicates) or raises _BatchFailed."""
        work: list[tuple[int, CloudEvent, Handler, EventData]] = []
        for index, message in enumerate(messages):
            try:
                event = CloudEvent.from_json(message.value)
                refusal = ownership_problem(event, message.topic)
                if refusal is not None:  # the one-by-one path refuses it
                    raise _BatchFailed(-1, InvalidEvent(refusal))
                handler = self.handlers.get(event.type)
                if handler is not None:
                    work.append((index, event, handler, parse_data(event)))
            except (InvalidEvent, ValidationError) as exc:  # poison: the one-by-one path dead-letters it
                raise _BatchFailed(-1, exc) from exc
        if not work:
            return 0, 0
        current = -1
        try:
            async with self.database.transaction() as session:
                new = await self._new_events(session, [event for _, event, _, _ in work])
                todo = []
                for item in work:
                    if item[1].id in new:
                        todo.append(item)
                        new.discard(item[1].id)  # the same event twice in a batch: applied once
                await self._prepare(session, todo)
                applied_ids: set[str] = set()
                for index, event, handler, data in todo:
                    current = index
                    token = request_id_var.set(_header(messages[index], KAFKA_REQUEST_ID_HEADER))
                    try:
                        with self._span(messages[index], event):
                            await handler(session, event, data)
                    finally:
                        request_id_var.reset(token)
                    applied_ids.add(event.id)
                    if not self.database.is_sqlite:
                        # Sent with the batch's other queued rows; the primary key refuses a racing replica.
                        queue_insert(session, _LEDGER, self._ledger_row(event))
                current = -1  # a failure from here on (the commit) belongs to no single message
            for index, event, _, _ in work:
                token = request_id_var.set(_header(messages[index], KAFKA_REQUEST_ID_HEADER))
                outcome = "applied" if event.id in applied_ids else "skipped duplicate"
                logger.info("%s: %s %s %s (batch of %d)", self.group_id, outcome, event.type, event.id, len(work))
                request_id_var.reset(token)
            return len(applied_ids), len(work) - len(applied_ids)
        except Exception as exc:
            raise _BatchFailed(current, exc) from exc

    def _span(self, message: ConsumerRecord[Any, Any], event: CloudEvent) -> AbstractContextManager[Any]:
        """The "<topic> process" span of one attempt, continuing the trace the message carries."""
        return consumer_span(
            topic=message.topic, group=self.group_id, event=event, headers=message.headers, partition=message.partition
        )

    def _ledger_row(self, event: CloudEvent) -> dict[str, Any]:
        return {
            "consumer_group": self.group_id,
            "event_id": event.id,
            "event_type": event.type,
            "processed_at": utcnow(),
        }

    async def _new_events(self, session: AsyncSession, events: Sequence[CloudEvent]) -> set[str]:
        """The ids of `events` not yet in the ledger.

        SQLite (one writer at a time, so no replica can race): they are entered in the ledger here, with one
        INSERT … ON CONFLICT DO NOTHING RETURNING instead of a look-up now and an insert later; the effect
        follows in the same transaction, so a rollback takes the entries with it.
        PostgreSQL: a look-up only; the caller adds the entries with the effect, and a replica that applied
        the same event concurrently makes the commit fail on the primary key (then it is a duplicate).
        """
        ids = [e.id for e in events]
        if self.database.is_sqlite:
            statement = (
                sqlite_insert(_LEDGER)
                .values([self._ledger_row(e) for e in events])
                .on_conflict_do_nothing()
                .returning(_LEDGER.c.event_id)
            )
            return {str(event_id) for (event_id,) in (await session.exec(statement)).all()}
        query = select(ProcessedEvent.event_id).where(
            ProcessedEvent.consumer_group == self.group_id, col(ProcessedEvent.event_id).in_(ids)
        )
        done = set((await session.exec(query)).all())
        return {i for i in ids if i not in done}

    @staticmethod
    async def _prepare(session: AsyncSession, work: Sequence[tuple[int, CloudEvent, Handler, EventData]]) -> None:
        """Run each distinct `prepare` of the batch's handlers once, over the events they will handle."""
        groups: dict[Prepare, list[tuple[CloudEvent, Any]]] = {}
        for _, event, handler, data in work:
            prepare = getattr(handler, "prepare", None)
            if prepare is not None:
                groups.setdefault(prepare, []).append((event, data))
        for prepare, items in groups.items():
            await prepare(session, items)

    async def handle(self, message: ConsumerRecord[Any, Any], *, first_attempt: int = 1) -> None:
        """Apply one message: at most once thanks to the ledger, retried, then dead-lettered."""
        token = request_id_var.set(_header(message, KAFKA_REQUEST_ID_HEADER))
        try:
            try:
                event = CloudEvent.from_json(message.value)
            except InvalidEvent as exc:
                await self._dead_letter(message, f"not a CloudEvent: {exc}")
                return
            refusal = ownership_problem(event, message.topic)
            if refusal is not None:
                # Forged or misrouted: no retry makes it true, and the handler must never see it.
                await self._dead_letter(message, f"refused, {refusal} (event {event.id[:80]})", outcome="refused_owner")
                return
            handler = self.handlers.get(event.type)
            if handler is None:
                CONSUMED.labels(self.group_id, "ignored").inc()
                return
            for attempt in range(min(first_attempt, self.max_attempts), self.max_attempts + 1):
                try:
                    with self._span(message, event):  # its log line too carries the trace id
                        applied = await self.apply(event, handler)
                        CONSUMED.labels(self.group_id, "applied" if applied else "duplicate").inc()
                        logger.info(
                            "%s: %s %s %s",
                            self.group_id,
                            "applied" if applied else "skipped duplicate",
                            event.type,
                            event.id,
                        )
                    return
                except PoisonMessage as exc:
                    await self._dead_letter(message, str(exc))
                    return
                except Exception as exc:
                    failure = _failure_text(exc)
                    if attempt == self.max_attempts:
                        # A database error's traceback repeats its statement's values: logged without it.
                        traceback = not isinstance(exc, DBAPIError)
                        logger.error("%s: %s failed %d times", self.group_id, event.type, attempt, exc_info=traceback)
                        await self._dead_letter(message, failure)
                        return
                    logger.warning("%s: %s attempt %d failed: %s", self.group_id, event.type, attempt, failure)
                    await asyncio.sleep(self.retry_backoff_s * 2 ** (attempt - 1))
        finally:
            request_id_var.reset(token)

    async def apply(self, event: CloudEvent, handler: Handler) -> bool:
        """Run the handler and record the event in one transaction; False when it was already applied."""
        try:
            data = parse_data(event)
        except (InvalidEvent, ValidationError) as exc:
            raise PoisonMessage(f"invalid data for {event.type}: {exc}") from exc
        try:
            async with self.database.transaction() as session:
                if not await self._new_events(session, [event]):
                    return False
                await handler(session, event, data)
                if not self.database.is_sqlite:
                    session.add(ProcessedEvent(**self._ledger_row(event)))
            return True
        except IntegrityError as exc:
            # A replica in the same group applied it concurrently (rebalance); then it is a duplicate.
            async with self.database.sessionmaker() as session:
                if await session.get(ProcessedEvent, (self.group_id, event.id)) is not None:
                    return False
            _raise_if_no_retry_can_fix(exc)
            raise
        except DBAPIError as exc:
            _raise_if_no_retry_can_fix(exc)
            raise

    async def _dead_letter(
        self, message: ConsumerRecord[Any, Any], reason: str, *, outcome: str = "dead_lettered"
    ) -> None:
        CONSUMED.labels(self.group_id, outcome).inc()
        logger.error(
            "%s: dead-lettering %s[%d]@%d: %s", self.group_id, message.topic, message.partition, message.offset, reason
        )
        headers = list(message.headers or ())
        headers += [
            ("dlq-reason", reason[:1000].encode()),
            ("dlq-source", f"{message.topic}/{message.partition}/{message.offset}".encode()),
        ]
        await self.publisher.publish(
            [Record(topic=self.dead_letter_topic, value=message.value or b"", key=message.key, headers=headers)]
        )


# A value the database quotes back in its message ("invalid input syntax for type integer: "…"") may be personal.
_QUOTED = re.compile(r'"[^"]*"')
# SQLSTATE 23505 / SQLite's UNIQUE and PRIMARY KEY: another writer got there first, and a retry sees its row.
_UNIQUE_VIOLATIONS = {"23505", "SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}


def _raise_if_no_retry_can_fix(exc: DBAPIError) -> None:
    """Turn a database error that the same event will always cause into a PoisonMessage (dead-lettered at once).

    Data the database cannot store (too long, wrong representation: DataError) and constraints other than
    uniqueness (not null, check, foreign key) fail the same way on every attempt. A uniqueness violation may be
    a concurrent writer; it, and connection losses, timeouts and deadlocks (OperationalError), stay retried.
    """
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "sqlite_errorname", None)
    if isinstance(exc, IntegrityError):
        if code in _UNIQUE_VIOLATIONS or str(exc.orig).startswith("UNIQUE constraint failed"):
            return
    # SQLSTATE class 22, data exception: asyncpg's arrive as a plain DBAPIError, not as DataError.
    elif not (isinstance(exc, DataError) or str(code).startswith("22")):
        return
    raise PoisonMessage(f"invalid for the database: {_database_failure(exc)}") from exc


def _failure_text(exc: Exception) -> str:
    """What a failed attempt is logged and dead-lettered with."""
    return _database_failure(exc) if isinstance(exc, DBAPIError) else f"{type(exc).__name__}: {exc}"


def _database_failure(exc: DBAPIError) -> str:
    """A database error without the values of its statement, which str(exc) repeats and may be personal data."""
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "sqlite_errorname", None)
    message = str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__
    message = _QUOTED.sub('"…"', message.split(">: ", 1)[-1])[:300]
    # asyncpg names the table, column and constraint apart from the message; names are never personal data.
    cause = exc.orig.__cause__ if exc.orig is not None else None
    names = [
        f"{n}={getattr(cause, n)}" for n in ("table_name", "column_name", "constraint_name") if getattr(cause, n, None)
    ]
    where = f" [{', '.join(names)}]" if names else ""
    kind = f"{type(exc).__name__} {code}" if code else type(exc).__name__
    return f"{kind}: {message}{where}"


class AdaptiveWait:
    """The fetch wait of a consumer: `busy_ms` while records flow, growing to `idle_ms` after a quiet spell.

    `records(now)` when a fetch brought records (back to the short wait at once), `quiet(now)` when one came back
    empty; `ms` is the wait for the next fetch. After `quiet_after_s` without records the wait doubles every
    `step_s` seconds of further quiet, from `busy_ms` up to `idle_ms`.
    """

    def __init__(self, *, busy_ms: int, idle_ms: int, quiet_after_s: float, step_s: float = 2.0) -> None:
        self.busy_ms = busy_ms
        self.idle_ms = idle_ms
        self.quiet_after_s = quiet_after_s
        self.step_s = step_s
        self.ms = busy_ms
        self._last_records: float | None = None

    def records(self, now: float) -> None:
        self._last_records = now
        self.ms = self.busy_ms

    def quiet(self, now: float) -> None:
        if self._last_records is None:
            self._last_records = now
        quiet_for = now - self._last_records - self.quiet_after_s
        if quiet_for < 0:
            self.ms = self.busy_ms
            return
        doublings = min(int(quiet_for / self.step_s) + 1, 16)
        self.ms = min(self.idle_ms, self.busy_ms * 2**doublings)


def _set_fetch_wait(consumer: AIOKafkaConsumer, wait_ms: int) -> None:
    """aiokafka's fetcher reads its max wait for every fetch request it sends: the next one uses this."""
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is not None and getattr(fetcher, "_fetch_max_wait_ms", wait_ms) != wait_ms:
        fetcher._fetch_max_wait_ms = wait_ms


def _log_went_back(consumer: AIOKafkaConsumer, consumed: Mapping[TopicPartition, int]) -> bool:
    """True when the last fetch of a partition gave an end (high watermark) below an offset already read there."""
    assigned = consumer.assignment()
    for tp, end in consumed.items():
        if tp in assigned:
            mark = consumer.highwater(tp)
            if mark is not None and mark < end:
                return True
    return False


def _header(message: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in message.headers or ():
        if key == name and value:
            return bytes(value).decode(errors="replace")
    return None
