"""The webhook worker: its own loop, apart from the inbox consumer, so a slow or dead partner slows no one else.

Deliveries are rows with a due time. A pass claims due rows (pushing their due time past a lease, so a
crash only delays them) for partners below their concurrency limit, POSTs each with a timeout, and
records the outcome: delivered, retried later with exponential backoff and jitter, or dead after the
last attempt (a partner may redeliver it).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from servicekit.db import Database
from servicekit.safe_http import UnsafeUrl, pinned_client
from servicekit.tracing import client_span, payload_context, record_http_status
from servicekit.wakeups import Wakeup, mark
from sqlalchemy import event, func, select
from sqlalchemy.orm import object_session

from notify import partners, signing
from notify import repository as repo
from notify.components import Components
from notify.models import Delivery, DeliveryAttempt
from notify.states import DeliveryAction, DeliveryStatus, SubscriptionStatus
from notify.targets import InvalidTarget, check_form, refusal
from notify.transitions import transition_delivery

logger = logging.getLogger("notify.webhooks")

DELIVERIES_CHANNEL = "notify_deliveries"


@event.listens_for(Delivery, "after_insert")
@event.listens_for(Delivery, "after_update")
def _wake_worker(_mapper: Any, _connection: Any, delivery: Delivery) -> None:
    """A delivery written or rescheduled (queued, redelivered) wakes the worker when its transaction commits."""
    session = object_session(delivery)
    if session is not None:
        mark(session, DELIVERIES_CHANNEL)


@dataclass(frozen=True)
class Job:
    delivery_id: str
    partner_id: str
    url: str
    body: bytes
    secrets: list[str]


class DeliveryWorker:
    def __init__(self, components: Components) -> None:
        self.c = components
        self.settings = components.settings
        self.in_flight: Counter[str] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        self.wakeup: Wakeup | None = None

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.delivery_timeout_s + 30)

    def backoff(self, attempt: int) -> timedelta:
        """base · 2^(attempt-1), capped; half of it fixed and half random, so retries of many deliveries spread."""
        delay = min(self.settings.delivery_retry_cap_s, self.settings.delivery_retry_base_s * 2 ** (attempt - 1))
        return timedelta(seconds=delay / 2 + secrets.SystemRandom().uniform(0, delay / 2))

    def client(self) -> httpx.AsyncClient:
        """Pinned: each connection goes to an address checked when it was made (no redirects, no proxies)."""
        limit = self.settings.delivery_max_in_flight
        return pinned_client(
            allow_private=self.settings.allow_private_targets,
            network=self.c.network,
            timeout=self.settings.delivery_timeout_s,
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
            headers={"User-Agent": "talent-notify-webhooks/1"},
        )

    async def run(self, runtime: Any) -> None:
        """The background job: claim and send until cancelled."""
        database: Database = runtime.database
        # Between passes the worker sleeps until the next delivery is due (at most delivery_idle_poll_s), and a
        # commit that queues or reschedules one, or a send that frees a partner's slot, wakes it at once.
        wakeup = self.wakeup = Wakeup(database, DELIVERIES_CHANNEL)
        await wakeup.listen()
        async with self.client() as client:
            try:
                while True:
                    wakeup.event.clear()  # before the pass: what is committed during it wakes the next sleep
                    try:
                        # A read-only look first: an idle pass takes no write transaction (claim does).
                        seconds = await self.seconds_to_next_due(database)
                        delay = self._sleep_for(seconds)
                        if seconds is not None and seconds <= 0 and await self.start_due(database, client):
                            delay = 0.0
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # the database is away: keep going, the rows wait
                        logger.warning("webhook pass failed, will retry: %s", exc)
                        delay = self.settings.delivery_poll_interval_s
                    if delay > 0:
                        await wakeup.wait(delay)
            finally:
                for task in self._tasks:
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                await wakeup.close()

    async def next_pass_s(self, database: Database) -> float:
        """Seconds until the next pending delivery is due, at most delivery_idle_poll_s.

        One due already that the pass left (its partner is at its concurrency limit) is looked at again after
        delivery_poll_interval_s (or sooner: a finished send wakes the worker).
        """
        return self._sleep_for(await self.seconds_to_next_due(database))

    def _sleep_for(self, seconds: float | None) -> float:
        short, idle = self.settings.delivery_poll_interval_s, max(self.settings.delivery_idle_poll_s, 0.0)
        if seconds is None:
            return max(idle, short)
        if seconds <= 0:
            return short
        return min(max(seconds, 0.01), max(idle, short))

    async def seconds_to_next_due(self, database: Database) -> float | None:
        """Seconds until the next pending delivery is due (<= 0: due now); None when none is pending.

        A read-only look (no write transaction, unlike a claim): what an idle worker does between sleeps."""
        async with database.read() as conn:
            due = (
                await conn.execute(
                    select(func.min(Delivery.next_attempt_at)).where(Delivery.status == DeliveryStatus.PENDING)  # type: ignore[arg-type]
                )
            ).scalar()
        return None if due is None else float((due - self.c.clock()).total_seconds())

    async def start_due(self, database: Database, client: httpx.AsyncClient) -> int:
        """Claim what is due and start sending it in the background; returns how many were started."""
        jobs = await self.claim(database)
        for job in jobs:
            self.in_flight[job.partner_id] += 1
            task = asyncio.create_task(self._attempt_and_release(database, client, job))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(jobs)

    async def deliver_due(self, database: Database, client: httpx.AsyncClient) -> int:
        """Claim what is due and wait for every attempt (tests and one-off runs)."""
        count = await self.start_due(database, client)
        await self.wait_idle()
        return count

    async def wait_idle(self) -> None:
        """Wait for every attempt in flight to be recorded."""
        await asyncio.gather(*list(self._tasks))

    async def claim(self, database: Database) -> list[Job]:
        free = self.settings.delivery_max_in_flight - sum(self.in_flight.values())
        if free <= 0:
            return []
        limit = self.settings.delivery_concurrency_per_partner
        full = [partner for partner, count in self.in_flight.items() if count >= limit]
        now = self.c.clock()
        jobs: list[Job] = []
        async with database.transaction() as session:
            rows = await repo.due_deliveries(session, now=now, exclude_partners=full, limit=min(free, 200))
            taken: Counter[str] = Counter(self.in_flight)
            chosen: list[Delivery] = []
            for row in rows:
                if taken[row.partner_id] < limit and len(chosen) < free:
                    taken[row.partner_id] += 1
                    chosen.append(row)
            subscriptions = await repo.subscriptions_by_id(session, list({row.subscription_id for row in chosen}))
            for row in chosen:
                subscription = subscriptions.get(row.subscription_id)
                if subscription is None or subscription.status != SubscriptionStatus.ACTIVE:
                    transition_delivery(row, DeliveryAction.CANCEL)
                    continue
                row.next_attempt_at = now + self.lease
                jobs.append(
                    Job(
                        delivery_id=row.id,
                        partner_id=row.partner_id,
                        url=subscription.url,
                        body=row.payload.encode(),
                        secrets=partners.signing_secrets(self.c, subscription),
                    )
                )
        return jobs

    async def _attempt_and_release(self, database: Database, client: httpx.AsyncClient, job: Job) -> None:
        try:
            await self.attempt(database, client, job)
        except Exception:
            # The lease runs out and the delivery is attempted again: at least once, never lost.
            logger.exception("recording webhook delivery %s failed", job.delivery_id)
        finally:
            self.in_flight[job.partner_id] -= 1
            if self.in_flight[job.partner_id] <= 0:
                del self.in_flight[job.partner_id]
            if self.wakeup is not None:  # a slot is free: deliveries held back by the partner's limit may go
                self.wakeup.event.set()

    async def attempt(self, database: Database, client: httpx.AsyncClient, job: Job) -> None:
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        try:
            # The form only: the host's addresses are checked by the client at connect time, where they are used.
            check_form(job.url)
            headers = {
                "Content-Type": "application/cloudevents+json; charset=utf-8",
                # The delivery id is the Standard Webhooks message id: the same on every retry, so receivers dedupe.
                **signing.headers(job.secrets, job.delivery_id, job.body),
                "X-Talent-Delivery": job.delivery_id,
            }
            # A client span per attempt, child of the event's trace; the partner gets it as `traceparent`.
            parent = payload_context(job.body.decode())
            with client_span("webhook POST", parent, {"http.request.method": "POST"}) as trace_headers:
                response = await client.post(job.url, content=job.body, headers={**headers, **trace_headers})
                record_http_status(response.status_code)
            status_code = response.status_code
            if not response.is_success:
                error = f"HTTP {status_code}"
        except InvalidTarget as exc:
            error = f"refused target: {exc}"
        except UnsafeUrl as exc:
            error = f"refused target: {refusal(exc)}"
        except httpx.TimeoutException:
            error = f"timed out after {self.settings.delivery_timeout_s:g}s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        duration_ms = int((time.monotonic() - started) * 1000)
        await self.record(database, job, status_code=status_code, error=error, duration_ms=duration_ms)

    async def record(
        self, database: Database, job: Job, *, status_code: int | None, error: str | None, duration_ms: int
    ) -> None:
        now = self.c.clock()
        async with database.transaction() as session:
            session.add(
                DeliveryAttempt(
                    delivery_id=job.delivery_id,
                    attempted_at=now,
                    status_code=status_code,
                    error=error,
                    duration_ms=duration_ms,
                )
            )
            delivery = await session.get(Delivery, job.delivery_id)
            if delivery is None or delivery.status != DeliveryStatus.PENDING:
                return  # cancelled (or redelivered) while in flight: the attempt is logged, nothing else
            if error is None:
                action = DeliveryAction.DELIVER
            elif delivery.attempts + 1 >= self.settings.delivery_max_attempts:  # counting this attempt
                action = DeliveryAction.DEAD_LETTER
            else:
                action = DeliveryAction.RETRY
            transition_delivery(delivery, action, now, status_code=status_code, error=error, backoff=self.backoff)
