"""The scene every security test attacks, built once on the shared platform through the public API:

- alice, a certified talent with distinctive personal data (a canary name, phone, identity number and
  e-mail that the personal-data scan greps for), a family member, an automatic claim, an inbox message
  and an open housing offer;
- bob, another talent: the attacker of alice's objects;
- carol, a talent of 南湖区 (330402) whose certification waits for its county review: the object a
  秀洲区 (330411) reviewer must not see;
- partner.transit's webhook subscription, with a real receiver that records every delivery (the events
  partners get), and partner.hospital as the attacker of transit's subscription and deliveries;
- alice's employer (registered by the admin, not employer.demo), which disputes her employment and recommends
  her, and employer.demo as the attacker of that employer's staff, attestation and recommendation;
- a bearer token for every role (the dev accounts of docs/api.md).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from servicekit.testing import eventually

from .. import helpers
from ..stack import Stack

Headers = helpers.Headers
WEBHOOK_SECRET = "security-suite-webhook-secret"


class WebhookReceiver:
    """A partner's real HTTP endpoint: answers 200 and keeps every request body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/talent"

    async def start(self) -> WebhookReceiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.bodies]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
                self.bodies.append(await reader.readexactly(int(headers.get("content-length", "0"))))
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@dataclass
class Canary:
    """Personal data nobody but alice (and the officials deciding her case) may ever see in full."""

    name: str = "欧阳哨兵"
    family_name: str = "司马哨兵"
    phone: str = field(default_factory=lambda: helpers.unique_phone("+86135"))
    id_number: str = field(default_factory=helpers.fresh_id_number)
    family_id_number: str = field(default_factory=helpers.fresh_id_number)
    email: str = field(default_factory=lambda: f"canary-{uuid.uuid4().hex[:10]}@example.org")

    @property
    def values(self) -> dict[str, str]:
        return {
            "name": self.name,
            "family member's name": self.family_name,
            "phone": self.phone,
            "phone without +86": self.phone.removeprefix("+86"),
            "identity number": self.id_number,
            "family member's identity number": self.family_id_number,
            "e-mail": self.email,
        }


@dataclass
class Scene:
    stack: Stack
    roles: dict[str, Headers]  # one per role: "talent" (bob), each official, "employer" (employer.demo), "partner"
    alice: Headers
    alice_id: str
    bob: Headers
    carol: Headers
    reviewer_elsewhere: Headers  # reviewer.xiuzhou: county reviewer of 330411
    hospital: Headers
    transit: Headers
    alices_employer: Headers  # a user of the employer alice's profile names (not employer.demo)
    canary: Canary
    receiver: WebhookReceiver
    ids: dict[str, str] = field(default_factory=dict)  # alice's objects, carol's certification, transit's webhook


@pytest.fixture(scope="session")
async def scene(stack: Stack) -> AsyncIterator[Scene]:
    receiver = await WebhookReceiver().start()
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=20.0) as gateway:
        roles = {role: await helpers.official(gateway, name) for role, name in helpers.OFFICIALS.items()}
        hospital, transit = (
            await helpers.partner(gateway, "partner.hospital"),
            await helpers.partner(gateway, "partner.transit"),
        )
        # The subscription exists before alice is certified, so her talent.certified reaches the receiver.
        subscription = await gateway.post(
            "/api/v1/partners/subscriptions",
            json={
                "event_types": ["talent.applicant.talent.certified.v1", "talent.applicant.talent.revoked.v1"],
                "url": receiver.url,
                "secret": WEBHOOK_SECRET,
            },
            headers=transit,
        )
        assert subscription.status_code == 201, subscription.text

        canary = Canary()
        alices_employer, alices_employer_headers = await helpers.new_employer(gateway)
        alice = await helpers.talent(gateway, canary.phone)
        body = helpers.profile(
            canary.id_number, name=canary.name, email=canary.email, employer_credit_code=alices_employer["credit_code"]
        )
        body["phone"] = canary.phone
        alice_id = await helpers.certify(gateway, alice, body)
        bob = await helpers.talent(gateway)
        carol = await helpers.talent(gateway)
        stored = await gateway.put("/api/v1/me/profile", json=helpers.profile(helpers.fresh_id_number()), headers=carol)
        assert stored.status_code == 200, stored.text

        scene = Scene(
            stack=stack,
            roles={"talent": bob, **roles, "employer": await helpers.employer(gateway), "partner": hospital},
            alice=alice,
            alice_id=alice_id,
            bob=bob,
            carol=carol,
            reviewer_elsewhere=await helpers.official(gateway, "reviewer.xiuzhou"),
            hospital=hospital,
            transit=transit,
            alices_employer=alices_employer_headers,
            canary=canary,
            receiver=receiver,
        )
        scene.ids["subscription"] = subscription.json()["id"]
        scene.ids["carol_certification"] = await helpers.submit_certification(gateway, carol)
        scene.ids.update(await _alices_objects(gateway, scene))
        scene.ids.update(await _alices_employers_objects(gateway, scene))
        scene.ids["delivery"] = await _first_delivery(gateway, scene)
        try:
            yield scene
        finally:
            # Other suites share this platform: transit's webhook must not outlive the security suite.
            await gateway.delete(f"/api/v1/partners/subscriptions/{scene.ids['subscription']}", headers=transit)
            await receiver.stop()


async def _alices_objects(gateway: httpx.AsyncClient, scene: Scene) -> dict[str, str]:
    alice, canary = scene.alice, scene.canary
    member = await gateway.post(
        "/api/v1/me/family",
        json={
            "relation": "spouse",
            "name": canary.family_name,
            "id_type": "resident_id",
            "id_number": canary.family_id_number,
            "birth_date": helpers.birth_date_of(canary.family_id_number),
        },
        headers=alice,
    )
    assert member.status_code == 201, member.text
    certifications = (await gateway.get("/api/v1/me/certifications", headers=alice)).json()["items"]
    return {
        "member": member.json()["id"],
        "certification": certifications[0]["id"],
        "claim": (await helpers.auto_granted_claim(gateway, alice))["id"],
        "notification": (await helpers.first_notification(gateway, alice))["id"],
        "offer": await _housing_offer(gateway, scene.roles["housing_officer"], alice),
    }


async def _alices_employers_objects(gateway: httpx.AsyncClient, scene: Scene) -> dict[str, str]:
    """Alice's employer disputes her employment (a dispute attests nothing, so her profile's facts stay as they
    are for the other tests) and recommends her: objects employer.demo must not reach."""
    attestation = await gateway.post(
        "/api/v1/employer/attestations",
        json={
            "talent_id": scene.alice_id,
            "employed_since": (datetime.now(UTC).date() - timedelta(days=400)).isoformat(),
            "social_insurance_months": 10,
            "outcome": "disputed",
            "note": "security scene",
        },
        headers=scene.alices_employer,
    )
    assert attestation.status_code == 201, attestation.text
    recommendation = await gateway.post(
        "/api/v1/employer/recommendations",
        json={"talent_id": scene.alice_id, "claimed_tier": "E", "reason": "security scene"},
        headers=scene.alices_employer,
    )
    assert recommendation.status_code == 201, recommendation.text
    return {
        "alice": scene.alice_id,
        "attestation": attestation.json()["id"],
        "recommendation": recommendation.json()["id"],
    }


async def _housing_offer(gateway: httpx.AsyncClient, officer: Headers, talent: Headers) -> str:
    """A one-unit round that only this talent applies to, closed and drawn: the talent's open offer."""
    project = await gateway.post(
        "/api/v1/housing/projects",
        json={"name": "安全测试公寓", "region_code": "330402", "supply_model": "government", "address": "南湖路7号"},
        headers=officer,
    )
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    unit = {"number": "S-101", "unit_type": "1BR", "area_m2": 45.0, "monthly_rent_fen": 200000}
    units = await gateway.post(f"/api/v1/housing/projects/{project_id}/units", json={"units": [unit]}, headers=officer)
    assert units.status_code == 201, units.text
    closes_at = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    round_ = await gateway.post(
        "/api/v1/housing/rounds",
        json={"name": "安全测试批次", "unit_ids": [units.json()["items"][0]["id"]], "closes_at": closes_at},
        headers=officer,
    )
    assert round_.status_code == 201, round_.text
    round_id = round_.json()["id"]

    async def applied() -> bool:  # housing learns of the certification through Kafka
        response = await gateway.post(
            f"/api/v1/housing/rounds/{round_id}/applications",
            json={"preferred_project_ids": [project_id], "household_size": 2},
            headers=talent,
        )
        return response.status_code == 201

    await eventually(applied, timeout=helpers.EVENT_PATIENCE_S, interval=0.2)
    for step in ("close", "draw"):
        response = await gateway.post(f"/api/v1/housing/rounds/{round_id}/{step}", headers=officer)
        assert response.status_code == 200, response.text
    [offer] = (await gateway.get("/api/v1/me/housing", headers=talent)).json()["offers"]
    return str(offer["id"])


async def _first_delivery(gateway: httpx.AsyncClient, scene: Scene) -> str:
    """Transit's first webhook delivery (alice's talent.certified), once notify has made it."""

    async def delivered() -> str | None:
        items = (await gateway.get("/api/v1/partners/deliveries", headers=scene.transit)).json()["items"]
        return next((d["id"] for d in items if d["status"] == "delivered"), None)

    return str(await eventually(delivered, timeout=helpers.EVENT_PATIENCE_S, interval=0.2))


@pytest.fixture
async def gateway(scene: Scene) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=scene.stack.gateway_url, timeout=20.0) as client:
        yield client
