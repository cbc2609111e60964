"""Cross-service fixtures: the whole platform running as real processes on the test broker."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from servicekit.testing import TansuBroker

from .browser import app, browser, console  # noqa: F401  (browser-test fixtures)
from .stack import Stack, running_stack


@pytest.fixture(scope="session")
def stack(broker: TansuBroker) -> Iterator[Stack]:
    with running_stack(broker) as running:
        yield running


@pytest.fixture
async def gateway(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=10.0) as client:
        yield client
