"""The scan log: partners' code verifications written to the read log off the verify path.

A verify is a pure read (no unit of work: on SQLite a write transaction per scan would take the write lock
for every scan). So it only hands its entry to the process's `ScanRecorder` (`record`: no I/O, no await),
which writes the waiting entries as one multi-row INSERT in a short transaction of its own when
`batch_size` are waiting, or `interval_s` after the first of them arrived.

- Idle costs nothing: with nothing queued the writer blocks on an event with no timeout.
- The queue is bounded (`capacity`): an entry that finds it full is dropped and counted
  (`applicant_scan_log_entries_total{outcome="dropped"}` and a warning), never silently.
- A failed write is retried (with a back-off) while the entries fit in the queue; what no longer fits is
  dropped and counted like an overflow.
- Shutdown writes everything queued (`running` leaves through `stop`). A crash loses what was not yet
  written: at most one batch, or `interval_s` of scans (docs/operations.md says why that trade was taken).

Each verification may also bring the outbox row of its `talent.applicant.code.verified.v1` event (the city's
statistics: scene, partner kind, outcome, never the talent); it is written in the same transaction as the batch's
read-log entries, so the event goes out exactly when the entry is kept.

`enabled=False` (APPLICANT_SCAN_LOG_ENABLED=false) records nothing: the bench's comparison.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any

from prometheus_client import Counter, Gauge
from servicekit.db import Database
from servicekit.models import OutboxEvent
from sqlalchemy import insert

from applicant.access_log import TABLE

logger = logging.getLogger("applicant.scan_log")

ENTRIES = Counter(
    "applicant_scan_log_entries_total",
    "Code verifications handed to the scan log, by outcome: written to the read log, or dropped (queue full)",
    ["outcome"],
)
QUEUED = Gauge("applicant_scan_log_queued", "Code verifications waiting to be written to the read log")

WRITTEN, DROPPED = "written", "dropped"
_INSERT = insert(TABLE).returning(TABLE.c.id)
_OUTBOX_INSERT = insert(OutboxEvent.__table__)  # type: ignore[attr-defined]
# One verification: its read-log entry (none when the code named no talent) and its event's outbox row (if any).
Scan = tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]
_RETRY_BACKOFF_S = (0.1, 0.5, 1.0, 2.0, 5.0)


class ScanRecorder:
    """Queues read-log entries of code verifications and writes them in batches (one per process)."""

    def __init__(
        self, *, enabled: bool = True, batch_size: int = 200, interval_s: float = 0.5, capacity: int = 10_000
    ) -> None:
        if batch_size < 1 or capacity < batch_size or interval_s <= 0:
            raise ValueError("the scan log needs batch_size >= 1, capacity >= batch_size and interval_s > 0")
        self.enabled = enabled
        self.batch_size = batch_size
        self.interval_s = interval_s
        self.capacity = capacity
        self.written = 0  # this recorder's own counts (the metric is the process's)
        self.dropped = 0
        self._queue: deque[Scan] = deque()
        self._waiting = asyncio.Event()  # set when the queue is not empty (or when stopping)
        self._full = asyncio.Event()  # set when a batch is waiting (or when stopping)
        self._write_lock = asyncio.Lock()  # one batch in flight at a time (the writer's, or a flush's)
        self._database: Database | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._overflowing = False
        self.idle = False  # the writer waits for an entry, with no timeout (so an idle process spends nothing)

    @classmethod
    def from_settings(cls, settings: Any) -> ScanRecorder:
        return cls(
            enabled=settings.scan_log_enabled,
            batch_size=settings.scan_log_batch_size,
            interval_s=settings.scan_log_interval_s,
            capacity=settings.scan_log_capacity,
        )

    @property
    def queued(self) -> int:
        return len(self._queue)

    # --- the verify path: no I/O, no await ---------------------------------------------------------------

    def record(self, values: Mapping[str, Any] | None, event_row: Mapping[str, Any] | None = None) -> None:
        """Queue one verification: its read-log entry (access_log.entry_values) and its event's outbox row
        (Outbox.row); counted as dropped when the queue is full."""
        if not self.enabled or (values is None and event_row is None):
            return
        if len(self._queue) >= self.capacity:
            self._drop(1)
            return
        self._queue.append((values, event_row))
        QUEUED.inc()
        if len(self._queue) == 1:
            self._waiting.set()
        if len(self._queue) >= self.batch_size:
            self._full.set()

    def _drop(self, count: int) -> None:
        self.dropped += count
        ENTRIES.labels(DROPPED).inc(count)
        if not self._overflowing:  # one warning per overflow, not one per entry
            self._overflowing = True
            logger.warning(
                "scan log queue full (%d entries): code verifications are not being recorded in the read log",
                self.capacity,
            )

    # --- the writer ------------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self, database: Database) -> AsyncIterator[ScanRecorder]:
        """Write batches in the background while the block runs; write everything left when it ends."""
        self.start(database)
        try:
            yield self
        finally:
            await self.stop()

    def start(self, database: Database) -> None:
        self._database = database
        self._stopping = False
        # Bound to the running loop at their first wait: made anew for each start (a test's app, a new loop).
        self._waiting, self._full, self._write_lock = asyncio.Event(), asyncio.Event(), asyncio.Lock()
        if self._queue:
            self._waiting.set()
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="applicant-scan-log")

    async def stop(self) -> None:
        """Stop the writer once it has written everything queued (a write that keeps failing is given up)."""
        self._stopping = True
        self._waiting.set()
        self._full.set()
        task, self._task = self._task, None
        if task is not None:
            await task
        if self._queue and self._database is not None:
            await self.flush(retry=False)  # entries queued while the writer was stopping

    async def flush(self, *, retry: bool = True) -> int:
        """Write everything queued now (for shutdown, and for tests that wait on the log); returns how many."""
        written = 0
        while self._queue:
            written += await self._write_batch(retry=retry)
        return written

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._stopping:
                    return
                self._waiting.clear()
                self.idle = True
                await self._waiting.wait()  # idle: no timeout, no CPU
                self.idle = False
                continue
            if len(self._queue) < self.batch_size and not self._stopping:
                # Wait for a full batch, at most interval_s after the first entry came.
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), self.interval_s)
            try:
                await self._write_batch(retry=not self._stopping)
            except Exception:  # a bug, not the database: keep the writer alive, the entries were counted
                logger.exception("scan log writer failed")

    async def _write_batch(self, *, retry: bool) -> int:
        """Take up to one batch off the queue and insert it; on failure put it back (when it still fits)."""
        async with self._write_lock:
            if not self._queue:
                return 0
            batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
            QUEUED.dec(len(batch))
            for attempt in range(len(_RETRY_BACKOFF_S) + 1):
                try:
                    await self._insert(batch)
                except Exception as exc:
                    if not retry or attempt == len(_RETRY_BACKOFF_S):
                        logger.error("scan log: %d entries could not be written and are dropped: %s", len(batch), exc)
                        self._drop(len(batch))
                        return 0
                    logger.warning("scan log: writing %d entries failed, retrying: %s", len(batch), exc)
                    await asyncio.sleep(_RETRY_BACKOFF_S[attempt])  # back-off after a failure only
                    continue
                self.written += len(batch)
                ENTRIES.labels(WRITTEN).inc(len(batch))
                if self._overflowing and len(self._queue) < self.capacity:
                    self._overflowing = False
                    logger.warning("scan log queue has room again; %d entries dropped so far", self.dropped)
                return len(batch)
        return 0  # pragma: no cover (the loop always returns)

    async def _insert(self, batch: list[Scan]) -> None:
        assert self._database is not None, "the scan log writes only while running (start or running())"
        # A connection-level transaction of its own (no ORM session), one multi-row INSERT … VALUES (…), (…) for
        # the batch: SQLAlchemy's "insertmanyvalues", which it uses for an INSERT … RETURNING given many rows,
        # compiled once and cached (`.values(rows)` would compile a new statement of rows × columns parameters
        # for every batch: ten times the CPU). One round trip; on SQLite one short hold of the write lock.
        entries = [values for values, _ in batch if values is not None]
        events = [row for _, row in batch if row is not None]
        async with self._database.engine.begin() as conn:
            if entries:
                await conn.execute(_INSERT, entries)
            if events:
                await conn.execute(_OUTBOX_INSERT, events)
        if events:
            self._database.outbox_signal.set()  # the relay publishes them now, not at its next poll
