"""The webhook worker sleeps while nothing is due (issue 17) and wakes for the work itself: a delivery queued
by a commit, a retry coming due, a slot freed by a finished send."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from servicekit.testing import TestKeys, eventually

from .test_notify_partners import certify, subscribe

HOUR = 3600.0


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # The worker's polls are an hour: whatever is sent here was sent because something woke it.
    return {"delivery_poll_interval_s": HOUR, "delivery_idle_poll_s": HOUR}


@pytest.fixture
def hospital(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers("partner-hospital-1", ["partner"], partner_kind="hospital")


async def test_a_delivery_queued_by_a_commit_is_sent_at_once_by_a_worker_asleep_for_an_hour(
    client: httpx.AsyncClient, hospital: dict[str, str], driver: Any, event_of: Any, receiver: Any
) -> None:
    await subscribe(client, hospital, receiver.url)
    task = asyncio.create_task(driver.worker.run(SimpleNamespace(database=driver.database)))
    try:
        await eventually(lambda: driver.worker.wakeup is not None, what="the worker started")
        assert await driver.worker.next_pass_s(driver.database) == HOUR  # nothing pending: its longest sleep
        await certify(driver, event_of, "t-1")
        await eventually(lambda: len(receiver.received) == 1, timeout=30, what="the delivery sent without a poll")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_failed_delivery_is_retried_when_its_backoff_ends_without_any_poll(
    client: httpx.AsyncClient, hospital: dict[str, str], driver: Any, event_of: Any, receiver: Any
) -> None:
    receiver.statuses = [503]  # the first attempt fails; the retry (after about a second) succeeds
    await subscribe(client, hospital, receiver.url)
    task = asyncio.create_task(driver.worker.run(SimpleNamespace(database=driver.database)))
    try:
        await certify(driver, event_of, "t-1")
        await eventually(lambda: [r.status for r in receiver.received] == [503, 200], timeout=30, what="the retry")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
