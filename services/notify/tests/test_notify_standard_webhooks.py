"""Standard Webhooks: every partner delivery also carries `webhook-id`, `webhook-timestamp` and
`webhook-signature`, so a partner verifies it with the off-the-shelf `standardwebhooks` package and the
`whsec_` secret it was shown when it subscribed; `X-Talent-Signature` stays as it was.

Deliveries are real HTTP POSTs captured by a loopback receiver; the verifier is the package itself.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from contracts import TalentCertified
from notify import signing
from notify.models import Delivery
from servicekit.idempotency import IdempotencyRecord
from servicekit.testing import TestKeys
from sqlmodel import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

SUBSCRIPTIONS = "/api/v1/partners/subscriptions"
SECRET = "hospital-webhook-secret-1"
NEW_SECRET = "the-new-secret-of-2027"


API_DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def documented_parser() -> Callable[[str, bytes, str], bool]:
    """The `X-Talent-Signature` check exactly as docs/api.md shows partners (the code block is run as written)."""
    [block] = re.findall(r"```python\n(import hashlib.*?def verify_talent_signature.*?)```", API_DOC.read_text(), re.S)
    namespace: dict[str, Any] = {}
    exec(block, namespace)  # noqa: S102  (our own documentation, checked so it cannot drift)
    parser: Callable[[str, bytes, str], bool] = namespace["verify_talent_signature"]
    return parser


def whsec(secret: str) -> str:
    """What the docs tell partners: the same key bytes, in the format Standard Webhooks libraries take."""
    return "whsec_" + base64.b64encode(secret.encode()).decode()


@pytest.fixture
def hospital(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers("partner-hospital-1", ["partner"], partner_kind="hospital")


async def subscribe(client: httpx.AsyncClient, headers: dict[str, str], url: str) -> dict[str, Any]:
    body = {"event_types": [TalentCertified.type], "url": url, "secret": SECRET}
    response = await client.post(SUBSCRIPTIONS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def certify(driver: Any, event_of: Any, talent_id: str) -> Any:
    event = event_of(TalentCertified, talent_id=talent_id, pseudonym="tp_abc123", tier="C")
    await driver.partners(event)
    return event


async def delivery_ids(driver: Any) -> list[str]:
    async with driver.database.sessionmaker() as session:
        return [row.id for row in (await session.exec(select(Delivery))).all()]


class TestTheSecretInStandardWebhooksForm:
    async def test_subscribing_shows_the_whsec_form_of_the_partners_own_secret(
        self, client: httpx.AsyncClient, hospital: dict[str, str], receiver: Any
    ) -> None:
        created = await subscribe(client, hospital, receiver.url)
        assert created["standard_webhooks_secret"] == whsec(SECRET)
        # Shown once, when the secret is set; never when a subscription is read back.
        listed = (await client.get(SUBSCRIPTIONS, headers=hospital)).json()["items"]
        read = (await client.get(f"{SUBSCRIPTIONS}/{created['id']}", headers=hospital)).json()
        assert "standard_webhooks_secret" not in listed[0] and "standard_webhooks_secret" not in read

    async def test_an_idempotent_replay_shows_it_too_but_the_stored_answer_holds_no_secret(
        self, client: httpx.AsyncClient, hospital: dict[str, str], driver: Any
    ) -> None:
        body = {"event_types": [TalentCertified.type], "url": "https://h.example.org/", "secret": SECRET}
        headers = {**hospital, "Idempotency-Key": "sub-standard-1"}
        first = await client.post(SUBSCRIPTIONS, json=body, headers=headers)
        again = await client.post(SUBSCRIPTIONS, json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true" and first.json() == again.json()
        assert again.json()["standard_webhooks_secret"] == whsec(SECRET)
        async with driver.database.sessionmaker() as session:
            [record] = (await session.exec(select(IdempotencyRecord))).all()
        assert SECRET not in record.response_body and whsec(SECRET) not in record.response_body

    async def test_rotating_the_secret_shows_the_new_whsec_form(
        self, client: httpx.AsyncClient, hospital: dict[str, str], receiver: Any
    ) -> None:
        created = await subscribe(client, hospital, receiver.url)
        rotated = await client.post(
            f"{SUBSCRIPTIONS}/{created['id']}/rotate-secret", json={"secret": NEW_SECRET}, headers=hospital
        )
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["standard_webhooks_secret"] == whsec(NEW_SECRET)


class TestDeliveriesVerifyWithTheStandardWebhooksPackage:
    async def test_a_delivery_verifies_and_carries_both_signature_forms_signed_at_one_moment(
        self, client: httpx.AsyncClient, hospital: dict[str, str], driver: Any, event_of: Any, receiver: Any
    ) -> None:
        created = await subscribe(client, hospital, receiver.url)
        event = await certify(driver, event_of, "talent-42")
        assert await driver.deliver_webhooks() == 1
        [request] = receiver.received
        payload = Webhook(created["standard_webhooks_secret"]).verify(request.body, request.headers)
        assert payload["id"] == event.id and payload["subject"] == "tp_abc123"
        [delivery_id] = await delivery_ids(driver)
        assert request.headers["webhook-id"] == request.headers["x-talent-delivery"] == delivery_id
        # The existing header is unchanged and made at the same second.
        assert signing.verify(request.headers["x-talent-signature"], request.body, SECRET)
        assert request.headers["x-talent-signature"].startswith(f"t={request.headers['webhook-timestamp']},")
        [only] = request.headers["webhook-signature"].split(" ")
        assert only.startswith("v1,"), "one secret, one signature"

    async def test_a_tampered_body_or_a_wrong_secret_is_refused(
        self, client: httpx.AsyncClient, hospital: dict[str, str], driver: Any, event_of: Any, receiver: Any
    ) -> None:
        await subscribe(client, hospital, receiver.url)
        await certify(driver, event_of, "talent-42")
        await driver.deliver_webhooks()
        [request] = receiver.received
        tampered = request.body.replace(b'"tier":"C"', b'"tier":"A"')
        assert tampered != request.body
        with pytest.raises(WebhookVerificationError):
            Webhook(whsec(SECRET)).verify(tampered, request.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(whsec("another-secret-xxxxxx")).verify(request.body, request.headers)
        replayed_elsewhere = {**request.headers, "webhook-id": "some-other-message"}
        with pytest.raises(WebhookVerificationError):
            Webhook(whsec(SECRET)).verify(request.body, replayed_elsewhere)

    async def test_the_webhook_id_is_the_same_on_every_retry(
        self, client: httpx.AsyncClient, hospital: dict[str, str], driver: Any, event_of: Any, receiver: Any
    ) -> None:
        receiver.statuses = [500]
        await subscribe(client, hospital, receiver.url)
        await certify(driver, event_of, "t-1")
        now = driver.components.clock()
        driver.at(now)
        await driver.deliver_webhooks()
        driver.at(now + timedelta(seconds=1))
        assert await driver.deliver_webhooks() == 1
        first, retry = receiver.received
        assert first.headers["webhook-id"] == retry.headers["webhook-id"], "receivers dedupe on it"
        for request in (first, retry):
            assert Webhook(whsec(SECRET)).verify(request.body, request.headers)

    async def test_during_a_rotation_both_secrets_verify_and_after_the_grace_period_only_the_new(
        self, client: httpx.AsyncClient, hospital: dict[str, str], driver: Any, event_of: Any, receiver: Any
    ) -> None:
        created = await subscribe(client, hospital, receiver.url)
        rotated = await client.post(
            f"{SUBSCRIPTIONS}/{created['id']}/rotate-secret",
            json={"secret": NEW_SECRET, "grace_seconds": 3600},
            headers=hospital,
        )
        assert rotated.status_code == 200, rotated.text
        await certify(driver, event_of, "t-1")
        await driver.deliver_webhooks()
        during = receiver.received[0]
        assert len(during.headers["webhook-signature"].split(" ")) == 2
        for secret in (created["standard_webhooks_secret"], rotated.json()["standard_webhooks_secret"]):
            assert json.loads(during.body) == Webhook(secret).verify(during.body, during.headers)

        # The documented hand parser keeps both v1= values; a naive dict would keep only the old secret's.
        header = during.headers["x-talent-signature"]
        assert all(documented_parser()(header, during.body, secret) for secret in (SECRET, NEW_SECRET))
        assert not documented_parser()(header, during.body.replace(b'"tier":"C"', b'"tier":"A"'), NEW_SECRET)
        naive = dict(part.split("=", 1) for part in header.split(","))
        assert not signing.verify(f"t={naive['t']},v1={naive['v1']}", during.body, NEW_SECRET)

        driver.at(driver.components.clock() + timedelta(hours=2))
        await certify(driver, event_of, "t-2")
        await driver.deliver_webhooks()
        after = receiver.received[1]
        assert len(after.headers["webhook-signature"].split(" ")) == 1
        assert Webhook(whsec(NEW_SECRET)).verify(after.body, after.headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(whsec(SECRET)).verify(after.body, after.headers)
