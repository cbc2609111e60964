"""A partner's webhook across the whole platform: a hospital subscribes through the gateway, a talent is
certified through applicant's review endpoints (and more certifications arrive on the broker), and the
partner's receiver, which fails at first and then recovers, gets every event exactly once, signed.

Retries in the shared stack follow NOTIFY_DELIVERY_RETRY_BASE_S (the production default is 30 s; the
stack should set it to about 0.5 s so this test takes seconds rather than a minute).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import uuid
from collections import Counter
from datetime import date

import httpx
from aiokafka import AIOKafkaProducer
from contracts import TalentCertified, make_event
from notify import signing
from servicekit.testing import eventually
from standardwebhooks.webhooks import Webhook

from .helpers import fresh_id_number
from .stack import Stack
from .test_e2e_registration import PROFILE, sign_in_with_otp

SECRET = "e2e-hospital-webhook-secret"


class FlakyReceiver:
    """A real HTTP endpoint that answers 500 to its first `failures` requests, then 200."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[dict[str, str], bytes, int]] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks/talent"

    async def start(self) -> FlakyReceiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                status = 500 if len(self.requests) < self.failures else 200
                self.requests.append((headers, body, status))
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def accepted_ids(self) -> Counter[str]:
        """CloudEvent ids of the requests answered 200 (a receiver dedupes on these)."""
        return Counter(json.loads(body)["id"] for _, body, status in self.requests if status == 200)


async def token(gateway: httpx.AsyncClient, **form: str) -> dict[str, str]:
    response = await gateway.post("/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def certify_through_applicant(gateway: httpx.AsyncClient) -> None:
    """Sign a new talent in, store a profile, apply for tier E, and have it approved at both stages."""
    phone = f"+86139{random.randrange(10**8):08d}"
    talent = {"Authorization": f"Bearer {await sign_in_with_otp(gateway, phone)}"}
    profile = {**PROFILE, "id_number": fresh_id_number(birth="19950307")}
    response = await gateway.put("/api/v1/me/profile", json=profile, headers=talent)
    assert response.status_code == 200, response.text
    diploma = {"kind": "diploma", "reference": "file-1", "sha256": hashlib.sha256(b"diploma").hexdigest()}
    application = {"route": "degree", "claimed_tier": "E", "evidence": [diploma]}
    response = await gateway.post("/api/v1/me/certifications", json=application, headers=talent)
    assert response.status_code == 201, response.text
    certification_id = response.json()["id"]
    for official in ("reviewer.nanhu", "approver.city"):
        headers = await token(gateway, grant_type="password", username=official, password="dev-password")
        response = await gateway.post(
            f"/api/v1/reviews/certifications/{certification_id}/decisions",
            json={"decision": "approve", "reason": "diploma checked"},
            headers=headers,
        )
        assert response.status_code == 200, response.text


async def publish_certifications(stack: Stack, count: int) -> list[str]:
    """TalentCertified events straight onto the broker, as applicant's outbox would publish them."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.broker.bootstrap_servers)
    await producer.start()
    ids = []
    try:
        for _ in range(count):
            talent_id = str(uuid.uuid4())
            data = TalentCertified(
                talent_id=talent_id,
                pseudonym=f"tp_{uuid.uuid4().hex[:12]}",
                tier="D",
                points=40,
                certified_until=date(2030, 1, 1),
                region_code="330402",
            )
            event = make_event(data, source="applicant", subject=talent_id)
            await producer.send_and_wait(TalentCertified.topic, event.to_json(), key=talent_id.encode())
            ids.append(event.id)
    finally:
        await producer.stop()
    return ids


class TestPartnerWebhooks:
    async def test_a_failing_partner_that_recovers_gets_every_certification_once_signed(
        self, gateway: httpx.AsyncClient, stack: Stack
    ) -> None:
        configured = stack.env["notify"].get("NOTIFY_DELIVERY_RETRY_BASE_S")
        retry_base = float(configured or os.environ.get("NOTIFY_DELIVERY_RETRY_BASE_S", "30"))
        receiver = await FlakyReceiver(failures=3).start()
        try:
            partner = await token(
                gateway, grant_type="client_credentials", client_id="partner.hospital", client_secret="dev-secret"
            )
            subscription = {"event_types": [TalentCertified.type], "url": receiver.url, "secret": SECRET}
            response = await gateway.post("/api/v1/partners/subscriptions", json=subscription, headers=partner)
            assert response.status_code == 201, response.text
            forbidden = {**subscription, "event_types": ["talent.benefits.claim.disbursed.v1"]}
            assert (
                await gateway.post("/api/v1/partners/subscriptions", json=forbidden, headers=partner)
            ).status_code == 403

            await certify_through_applicant(gateway)
            direct_ids = await publish_certifications(stack, 4)

            def everything_arrived() -> bool:
                accepted = receiver.accepted_ids()
                # At least ours: other tests sharing the stack may certify talents of their own meanwhile.
                return len(accepted) >= 5 and set(direct_ids) <= set(accepted)

            await eventually(everything_arrived, timeout=3 * retry_base + 30, interval=0.1)
            accepted = receiver.accepted_ids()
            assert all(n == 1 for n in accepted.values()), f"an event was accepted twice: {accepted}"
            assert [status for *_, status in receiver.requests[:3]] == [500, 500, 500]

            # The off-the-shelf Standard Webhooks verifier, with the whsec_ secret the subscribe answer showed.
            standard = Webhook(response.json()["standard_webhooks_secret"])
            message_ids: dict[str, set[str]] = {}
            for headers, body, _ in receiver.requests:
                assert signing.verify(headers["x-talent-signature"], body, SECRET)
                assert standard.verify(body, headers) == json.loads(body)
                message_ids.setdefault(json.loads(body)["id"], set()).add(headers["webhook-id"])
                event = json.loads(body)
                assert event["subject"].startswith("tp_") and event["data"]["pseudonym"] == event["subject"]
                assert set(event["data"]) == {"pseudonym", "tier", "certified_until", "issuing_city"}
            assert all(len(ids) == 1 for ids in message_ids.values()), "webhook-id is the same on every retry"

            # The receiver answers before notify commits the delivery's status: wait for the committed record.
            async def settled() -> list[dict[str, object]] | None:
                log = (await gateway.get("/api/v1/partners/deliveries?limit=200", headers=partner)).json()["items"]
                found = [d for d in log if d["event_id"] in accepted]
                return found if all(d["status"] != "pending" for d in found) else None

            mine = await eventually(settled, timeout=30, what="every delivery's outcome committed")
            assert len(mine) == len(accepted) and {d["status"] for d in mine} == {"delivered"}
            assert sum(d["attempts"] for d in mine) == len(mine) + 3
        finally:
            await receiver.stop()
