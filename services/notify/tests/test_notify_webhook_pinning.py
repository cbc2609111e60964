"""Webhook deliveries outside dev against DNS rebinding: the partner's host name is resolved once per connection,
the answer is checked, and the delivery connects to the address that was checked, never to a later answer.

Loopback only: the partner's "public" address is a stand-in the test network carries to a loopback receiver, and
the platform's own loopback (what a rebound name answers) is a server that must see no connection at all.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from contracts import TalentCertified
from notify.models import Delivery, DeliveryAttempt
from notify.webhooks import DeliveryWorker
from servicekit.safe_http import Network
from servicekit.testing import TestKeys
from servicekit.testing_network import LoopbackOnlyNetwork, ScriptedResolver
from sqlmodel import select

PUBLIC = "93.184.216.34"  # the partner's address as the name answers it: a stand-in, carried to loopback
SUBSCRIPTIONS = "/api/v1/partners/subscriptions"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Staging: loopback and private targets refused, real (non-placeholder) keys."""
    return {
        "TALENT_ENV": "staging",
        "contact_keys": "c1:" + secrets.token_urlsafe(32),
        "store_keys": "n1:" + secrets.token_urlsafe(32),
    }


@dataclass
class InsideService:
    """A service on the platform's own loopback: it records every connection it is offered (there must be none)."""

    connections: list[object] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> InsideService:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(writer.get_extra_info("peername"))
        writer.close()

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def inside() -> AsyncIterator[InsideService]:
    server = await InsideService().start()
    yield server
    await server.stop()


@dataclass
class Scene:
    driver: Any
    resolver: ScriptedResolver  # the test writes its script: what the partner's name answers, in turn
    network: LoopbackOnlyNetwork
    url: str  # the partner's webhook URL: its name, on the port the inside service listens on


@pytest.fixture
async def scene(driver: Any, receiver: Any, inside: InsideService) -> AsyncIterator[Scene]:
    """Notify on a loopback-only network where PUBLIC (on the URL's port) is the receiver."""
    assert not driver.components.settings.allow_private_targets
    resolver, network = ScriptedResolver([]), LoopbackOnlyNetwork()
    network.route(PUBLIC, inside.port, receiver.port)
    driver.components.network = Network(resolver, network)
    worker = DeliveryWorker(driver.components)
    async with worker.client() as http:
        driver.worker, driver.http = worker, http
        yield Scene(driver, resolver, network, f"http://partner.example:{inside.port}/hooks/talent")


async def subscribe_and_certify(client: httpx.AsyncClient, test_keys: TestKeys, scene: Scene, event_of: Any) -> None:
    partner = test_keys.headers("partner-hospital-1", ["partner"], partner_kind="hospital")
    body = {"event_types": [TalentCertified.type], "url": scene.url, "secret": secrets.token_hex(16)}
    response = await client.post(SUBSCRIPTIONS, json=body, headers=partner)
    assert response.status_code == 201, response.text
    await scene.driver.partners(event_of(TalentCertified, talent_id="t-1", pseudonym="tp_abc123", tier="C"))


async def the_delivery(scene: Scene) -> tuple[Delivery, list[DeliveryAttempt]]:
    async with scene.driver.database.sessionmaker() as session:
        [delivery] = (await session.exec(select(Delivery))).all()
        attempts = list((await session.exec(select(DeliveryAttempt))).all())
    return delivery, attempts


class TestDeliveriesConnectWhereTheyChecked:
    async def test_a_delivery_connects_to_the_checked_address_never_to_the_next_answer(
        self,
        client: httpx.AsyncClient,
        test_keys: TestKeys,
        scene: Scene,
        event_of: Any,
        receiver: Any,
        inside: InsideService,
    ) -> None:
        # Subscribing checks the name; the delivery's connection checks it once more; a third lookup would be
        # the platform's loopback, as a name that rebinds between a check and a connection answers.
        scene.resolver.script = [[PUBLIC], [PUBLIC], ["127.0.0.1"]]
        await subscribe_and_certify(client, test_keys, scene, event_of)
        assert await scene.driver.deliver_webhooks() == 1
        delivery, attempts = await the_delivery(scene)
        assert (delivery.status, delivery.last_status_code) == ("delivered", 200), [a.error for a in attempts]
        assert scene.resolver.asked == [("partner.example", inside.port)] * 2
        assert scene.network.asked == [(PUBLIC, inside.port)]
        assert inside.connections == []
        [received] = receiver.received
        assert received.headers["host"] == f"partner.example:{inside.port}"
        assert json.loads(received.body)["subject"] == "tp_abc123"

    @pytest.mark.parametrize(
        "rebound",
        [["127.0.0.1"], ["169.254.169.254"], [PUBLIC, "10.0.0.7"], [PUBLIC, "127.0.0.1"]],
        ids=["loopback", "metadata", "public-and-private", "public-and-loopback"],
    )
    async def test_a_name_that_rebinds_after_subscribing_is_refused_at_delivery_and_retried(
        self,
        client: httpx.AsyncClient,
        test_keys: TestKeys,
        scene: Scene,
        event_of: Any,
        receiver: Any,
        inside: InsideService,
        rebound: list[str],
    ) -> None:
        scene.resolver.script = [[PUBLIC], rebound]
        await subscribe_and_certify(client, test_keys, scene, event_of)
        assert await scene.driver.deliver_webhooks() == 1
        delivery, [attempt] = await the_delivery(scene)
        assert delivery.status == "pending" and attempt.status_code is None
        assert attempt.error == (
            "refused target: the host partner.example resolves to a loopback, private or link-local address"
        )
        assert scene.network.asked == [] and inside.connections == [] and receiver.received == []
