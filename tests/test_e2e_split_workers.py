"""The production shape: every service's API (`serve`, workers off) and its workers (`worker`) as separate processes.

`running_stack(split_workers=True)` is what `make bench` runs as "PostgreSQL, production shape"; this checks that
the shape carries the platform's event hops end to end through the worker processes: applicant's worker relays
the outbox, benefits' worker applies talent.certified (the 免申即享 claim), notify's worker writes the welcome.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from functools import partial

import httpx
import pytest
from servicekit.testing import TansuBroker, eventually

from .helpers import auto_granted_claim, certified_talent, first_notification
from .stack import SERVICES, Stack, running_stack

CONSUMED = re.compile(r"^consumer_events_total\{[^}]*\} ([0-9.e+]+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def split_stack() -> Iterator[Stack]:
    # A broker of its own: the session stack's consumers share these consumer groups' names.
    broker = TansuBroker().start()
    try:
        with running_stack(broker, split_workers=True) as running:
            yield running
    finally:
        broker.stop()


@pytest.fixture
async def gateway(split_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=split_stack.gateway_url, timeout=10.0) as client:
        yield client


def consumed(metrics: str) -> float:
    """Events the process's consumers have seen, every group and outcome (0 when it runs no consumer)."""
    return sum(float(value) for value in CONSUMED.findall(metrics))


def test_each_service_runs_its_api_and_its_workers_as_two_processes(split_stack: Stack) -> None:
    for name in SERVICES:
        assert split_stack.env[name][f"{name.upper()}_WORKERS_IN_PROCESS"] == "false"
        assert split_stack.commands[f"{name}-worker"][1] == "worker"
        assert split_stack.processes[name].poll() is None
        assert split_stack.processes[f"{name}-worker"].poll() is None
        assert httpx.get(f"{split_stack.url_of(f'{name}-worker')}/readyz", timeout=5.0).status_code == 200


async def test_a_certification_reaches_benefits_and_notify_through_their_worker_processes(
    split_stack: Stack, gateway: httpx.AsyncClient
) -> None:
    _, auth = await certified_talent(gateway)
    claim = await auto_granted_claim(gateway, auth)
    assert claim["auto"] is True
    welcome = await first_notification(gateway, auth)
    assert welcome

    async with httpx.AsyncClient(timeout=5.0) as client:

        async def consumed_by(name: str) -> float:
            return consumed((await client.get(f"{split_stack.url_of(name)}/metrics")).text)

        # The events were consumed in the worker processes, and the API processes consumed none.
        for service in ("benefits", "notify"):
            worker = f"{service}-worker"
            seen = await eventually(partial(consumed_by, worker), what=f"{worker} consumed events")
            assert seen > 0
            assert await consumed_by(service) == 0
