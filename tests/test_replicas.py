"""Two replicas of every service on PostgreSQL: two `serve` processes per service on different ports, one database
and the same consumer groups, one broker, the gateway calling the first replica of each. The load of the fault
suite (tests/chaos.py) goes half through the gateway and half straight to the second replicas (same token,
same paths), including the two concurrent disbursements of each claim and the two concurrent accepts of each
offer, which land on different replicas. The same invariants must hold: nothing applied twice by the two
consumers of a group, the two outbox relays publishing every event once between them, every timer fired once.

Runs only when TEST_DATABASE_URL points at PostgreSQL (CI sets it): SQLite is a single-writer file, the
embedded mode, never run with replicas.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import httpx
import pytest
from servicekit.testing import TansuBroker

from .chaos import SERVICES, Workload, check_invariants
from .stack import Stack, running_stack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
        reason="replicas share one PostgreSQL database: set TEST_DATABASE_URL",
    ),
]
TALENTS = 4


@pytest.fixture(scope="module")
def replicated_stack() -> Iterator[Stack]:
    broker = TansuBroker().start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("GATEWAY_RATE_LIMIT_ENABLED", "false")
            with running_stack(broker, replicas=2) as stack:
                yield stack
    finally:
        broker.stop()


def _published(metrics: str) -> float:
    return sum(float(m) for m in re.findall(r"^outbox_published_total\{[^}]*\} ([0-9.e+]+)$", metrics, re.M))


async def test_two_replicas_of_each_service_keep_the_invariants(replicated_stack: Stack) -> None:
    stack = replicated_stack
    assert all(len(stack.replica_urls[name]) == 2 for name in SERVICES)
    workload = Workload(stack, direct=True, units=3)
    try:
        await workload.run(talents=TALENTS, stagger_s=0.5)
        counts = await check_invariants(stack, workload)
    finally:
        await workload.close()
    # Traffic went through both replicas of every service.
    for name in SERVICES:
        second = stack.replica_urls[name][1]
        assert workload.by_base[second] > 0, f"no request reached {name}'s second replica"
    # Both relays ran against the one outbox; between them every event was published (checked above: drained,
    # each consumed once). Who published what is reported, not asserted: the advisory lock elects per pass.
    async with httpx.AsyncClient(timeout=10) as client:
        shares = {
            url: _published((await client.get(f"{url}/metrics")).text)
            for name in SERVICES
            for url in stack.replica_urls[name]
        }
    print(f"\nreplicas: {counts}\npublished per replica: {shares}")
