"""Partners: subscriptions (kinds see only their types, safe URLs, sealed secrets, rotation), pseudonymised
signed deliveries with backoff and dead letters, redelivery, and a slow partner that slows no one else."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from contracts import ClaimDisbursed, TalentCertified, TalentRegistered, TalentRevoked
from notify import signing
from notify.config import NotifySettings
from notify.exceptions import UnknownPseudonym
from notify.main import build_app
from notify.models import Delivery, Subscription
from notify.targets import InvalidTarget, check_url
from servicekit.auth import StaticJwks
from servicekit.testing import TestDatabases, TestKeys, serve_in_process
from sqlmodel import select

SUBSCRIPTIONS = "/api/v1/partners/subscriptions"
DELIVERIES = "/api/v1/partners/deliveries"
SECRET = "hospital-webhook-secret-1"


@pytest.fixture
def hospital(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers("partner-hospital-1", ["partner"], partner_kind="hospital")


@pytest.fixture
def bank(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers("partner-bank-1", ["partner"], partner_kind="bank")


@pytest.fixture
def admin(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers("admin-1", ["admin"])


async def subscribe(
    client: httpx.AsyncClient, headers: dict[str, str], url: str, types: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    body = {"event_types": types or [TalentCertified.type], "url": url, "secret": SECRET, **extra}
    response = await client.post(SUBSCRIPTIONS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def certify(driver: Any, event_of: Any, talent_id: str, **values: Any) -> Any:
    event = event_of(TalentCertified, talent_id=talent_id, pseudonym="tp_abc123", tier="C", **values)
    await driver.partners(event)
    return event


async def deliveries(driver: Any) -> list[Delivery]:
    async with driver.database.sessionmaker() as session:
        return list((await session.exec(select(Delivery))).all())


class TestSubscribing:
    async def test_a_partner_subscribes_to_a_type_its_kind_may_see(
        self, client: httpx.AsyncClient, hospital: dict[str, str], driver: Any
    ) -> None:
        created = await subscribe(client, hospital, "https://hospital.example.org/hooks")
        assert created["event_types"] == [TalentCertified.type] and created["status"] == "active"
        assert SECRET not in json.dumps(created) and "secret" not in created
        listed = (await client.get(SUBSCRIPTIONS, headers=hospital)).json()["items"]
        assert [s["id"] for s in listed] == [created["id"]]
        read = (await client.get(f"{SUBSCRIPTIONS}/{created['id']}", headers=hospital)).json()
        # Only the answer to setting a secret carries its whsec_ form (test_notify_standard_webhooks.py).
        assert read == {k: v for k, v in created.items() if k != "standard_webhooks_secret"}
        async with driver.database.sessionmaker() as session:
            stored = await session.get(Subscription, created["id"])
        assert stored is not None and SECRET not in stored.secret_sealed

    async def test_a_type_the_kind_may_not_see_is_403(
        self, client: httpx.AsyncClient, hospital: dict[str, str]
    ) -> None:
        body = {"event_types": [ClaimDisbursed.type], "url": "https://h.example.org/", "secret": SECRET}
        response = await client.post(SUBSCRIPTIONS, json=body, headers=hospital)
        assert response.status_code == 403
        assert response.json()["forbidden_event_types"] == [ClaimDisbursed.type]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"event_types": ["talent.nope.v1"], "url": "https://h.example.org/", "secret": SECRET}, "event_types.0"),
            ({"event_types": [TalentCertified.type], "url": "ftp://h.example.org/", "secret": SECRET}, "url"),
            ({"event_types": [TalentCertified.type], "url": "https://u:p@h.example.org/", "secret": SECRET}, "url"),
            ({"event_types": [TalentCertified.type], "url": "not a url", "secret": SECRET}, "url"),
            ({"event_types": [], "url": "https://h.example.org/", "secret": SECRET}, "event_types"),
            ({"event_types": [TalentCertified.type], "url": "https://h.example.org/", "secret": "short"}, "secret"),
        ],
    )
    async def test_bad_input_is_422_naming_the_field(
        self, client: httpx.AsyncClient, hospital: dict[str, str], body: dict[str, Any], field: str
    ) -> None:
        response = await client.post(SUBSCRIPTIONS, json=body, headers=hospital)
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in response.json()["errors"]]

    async def test_loopback_targets_are_allowed_in_dev(
        self, client: httpx.AsyncClient, hospital: dict[str, str]
    ) -> None:
        await subscribe(client, hospital, "http://127.0.0.1:9/hooks")

    async def test_only_partners_with_a_kind_may_subscribe(
        self, client: httpx.AsyncClient, test_keys: TestKeys
    ) -> None:
        body = {"event_types": [TalentCertified.type], "url": "https://h.example.org/", "secret": SECRET}
        talent = test_keys.headers("t-1", ["talent"])
        assert (await client.post(SUBSCRIPTIONS, json=body, headers=talent)).status_code == 403
        kindless = test_keys.headers("p-1", ["partner"])
        assert (await client.post(SUBSCRIPTIONS, json=body, headers=kindless)).status_code == 403

    async def test_the_same_idempotency_key_returns_the_first_subscription(
        self, client: httpx.AsyncClient, hospital: dict[str, str]
    ) -> None:
        body = {"event_types": [TalentCertified.type], "url": "https://h.example.org/", "secret": SECRET}
        headers = {**hospital, "Idempotency-Key": "sub-1"}
        first = await client.post(SUBSCRIPTIONS, json=body, headers=headers)
        again = await client.post(SUBSCRIPTIONS, json=body, headers=headers)
        assert first.status_code == again.status_code == 201 and first.json() == again.json()
        other = await client.post(SUBSCRIPTIONS, json={**body, "url": "https://x.example.org/"}, headers=headers)
        assert other.status_code == 409

    async def test_another_partners_subscription_is_404_and_delete_cancels_waiting_deliveries(
        self, client: httpx.AsyncClient, hospital: dict[str, str], test_keys: TestKeys, driver: Any, event_of: Any
    ) -> None:
        created = await subscribe(client, hospital, "https://h.example.org/")
        stranger = test_keys.headers("partner-hospital-2", ["partner"], partner_kind="hospital")
        assert (await client.get(f"{SUBSCRIPTIONS}/{created['id']}", headers=stranger)).status_code == 404
        assert (await client.delete(f"{SUBSCRIPTIONS}/{created['id']}", headers=stranger)).status_code == 404
        await certify(driver, event_of, "t-9")
        assert (await client.delete(f"{SUBSCRIPTIONS}/{created['id']}", headers=hospital)).status_code == 204
        assert (await client.get(f"{SUBSCRIPTIONS}/{created['id']}", headers=hospital)).status_code == 404
        assert [d.status for d in await deliveries(driver)] == ["cancelled"]


class TestTargetsOutsideDev:
    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1/hooks",
            "http://localhost:8080/hooks",
            "http://10.1.2.3/hooks",
            "http://192.168.0.10/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/hooks",
            "http://[::ffff:127.0.0.1]/hooks",
            "http://0.0.0.0/",
            # Found by the security suite: shared address space (the cloud metadata service of Alibaba Cloud
            # ECS is 100.100.100.200) and IPv4 inside 6to4 or Teredo addresses passed the check.
            "http://100.100.100.200/latest/meta-data/",
            "http://100.64.0.1/hooks",
            "http://[2002:7f00:1::1]/hooks",
            "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hooks",
        ],
    )
    async def test_loopback_private_and_link_local_hosts_are_refused(self, url: str) -> None:
        with pytest.raises(InvalidTarget):
            await check_url(url, allow_private=False)

    async def test_a_public_address_is_accepted(self) -> None:
        await check_url("https://93.184.216.34/hooks", allow_private=False)

    async def test_the_api_answers_422_in_production_settings(
        self, notify_databases: TestDatabases, broker: Any, test_keys: TestKeys, hospital: dict[str, str]
    ) -> None:
        with notify_databases.fresh() as url:
            settings = NotifySettings(
                TALENT_ENV="staging",
                database_url=url,
                kafka_bootstrap_servers=broker.bootstrap_servers,
                contact_keys="c1:" + "a" * 40,
                store_keys="n1:" + "b" * 40,
            )
            app = build_app(settings, key_source=StaticJwks(test_keys.jwks()), run_workers=False)
            async with serve_in_process(app) as client:
                body = {"event_types": [TalentCertified.type], "url": "http://localhost/hooks", "secret": SECRET}
                response = await client.post(SUBSCRIPTIONS, json=body, headers=hospital)
        assert response.status_code == 422
        assert "loopback" in response.json()["detail"]


class TestAdministratorsWidenAndNarrowKinds:
    async def test_only_admins_change_which_types_a_kind_sees(
        self, client: httpx.AsyncClient, hospital: dict[str, str], admin: dict[str, str], test_keys: TestKeys
    ) -> None:
        url = "/api/v1/admin/partner-kinds/hospital/event-types"
        body = {"event_types": [TalentCertified.type, ClaimDisbursed.type], "reason": "pilot with 市一医院"}
        assert (await client.put(url, json=body, headers=hospital)).status_code == 403
        response = await client.put(url, json=body, headers=admin)
        assert response.status_code == 200 and response.json()["overridden"] is True
        await subscribe(client, hospital, "https://h.example.org/", [ClaimDisbursed.type])
        kinds = {k["partner_kind"]: k for k in (await client.get("/api/v1/admin/partner-kinds", headers=admin)).json()}
        assert ClaimDisbursed.type in kinds["hospital"]["event_types"] and not kinds["bank"]["overridden"]
        auditor = test_keys.headers("auditor-1", ["auditor"])
        audit_response = await client.get("/api/v1/audit/notify?action=partner_visibility.set", headers=auditor)
        assert audit_response.status_code == 200, audit_response.text
        audit = audit_response.json()
        assert audit["items"][0]["subject_id"] == "hospital"
        assert (await client.delete(url, headers=admin)).status_code == 204
        kinds = {k["partner_kind"]: k for k in (await client.get("/api/v1/admin/partner-kinds", headers=admin)).json()}
        assert ClaimDisbursed.type not in kinds["hospital"]["event_types"]

    @pytest.mark.parametrize(
        ("kind", "types", "status"),
        [
            ("hospital", ["talent.applicant.contact.updated.v1"], 422),
            ("hospital", ["talent.nope.v1"], 422),
            ("casino", [TalentCertified.type], 404),
        ],
    )
    async def test_personal_or_unknown_types_and_unknown_kinds_are_refused(
        self, client: httpx.AsyncClient, admin: dict[str, str], kind: str, types: list[str], status: int
    ) -> None:
        url = f"/api/v1/admin/partner-kinds/{kind}/event-types"
        assert (await client.put(url, json={"event_types": types, "reason": "x"}, headers=admin)).status_code == status

    async def test_narrowing_a_kind_stops_deliveries_to_existing_subscriptions(
        self, client: httpx.AsyncClient, hospital: dict[str, str], admin: dict[str, str], driver: Any, event_of: Any
    ) -> None:
        await subscribe(client, hospital, "https://h.example.org/", [TalentCertified.type, TalentRevoked.type])
        url = "/api/v1/admin/partner-kinds/hospital/event-types"
        await client.put(url, json={"event_types": [TalentRevoked.type], "reason": "scope cut"}, headers=admin)
        await certify(driver, event_of, "t-1")
        assert await deliveries(driver) == []


class TestDeliveries:
    async def test_a_certification_reaches_the_partner_pseudonymised_and_signed(
        self, client: httpx.AsyncClient, hospital: dict[str, str], driver: Any, event_of: Any, receiver: Any
    ) -> None:
        await subscribe(client, hospital, receiver.url)
        event = await certify(driver, event_of, "talent-42")
        assert await driver.deliver_webhooks() == 1
        [request] = receiver.received
        body = json.loads(request.body)
        assert body["id"] == event.id and body["type"] == TalentCertified.type
        assert body["subject"] == "tp_abc123"
        assert body["data"] == {
            "pseudonym": "tp_abc123",
            "tier": "C",
            "certified_until": event.data["certified_until"],
            "issuing_city": event.data["issuing_city"],
        }
        assert "talent-42" not in request.body.decode()
        assert request.headers["content-type"].startswith("application/cloudevents+json")
        assert signing.verify(request.headers["x-talent-signature"], request.body, SECRET)
        assert not signing.verify(request.headers["x-talent-signature"], request.body, "another-secret-xxxxxx")
        [listed] = (await client.get(DELIVERIES, headers=hospital)).json()["items"]
        assert listed["status"] == "delivered" and listed["attempts"] == 1 and listed["last_status_code"] == 200

    async def test_types_not_subscribed_are_not_delivered(
        self, client: httpx.AsyncClient, hospital: dict[str, str], driver: Any, event_of: Any, receiver: Any
    ) -> None:
        await subscribe(client, hospital, receiver.url)
        await driver.partners(event_of(TalentRevoked, talent_id="t-1", pseudonym="tp_1"))
        await driver.partners(event_of(TalentRegistered, talent_id="t-1", pseudonym="tp_1"))
        assert await deliveries(driver) == []

    async def test_an_event_before_its_pseudonym_is_retried_not_sent_with_the_talent_id(
        self, client: httpx.AsyncClient, bank: dict[str, str], driver: Any, event_of: Any
    ) -> None:
        await subscribe(client, bank, "https://bank.example.org/", [ClaimDisbursed.type])
        payout = event_of(ClaimDisbursed, talent_id="t-7")
        with pytest.raises(UnknownPseudonym):
            await driver.partners(payout)
        await driver.partners(event_of(TalentRegistered, talent_id="t-7", pseudonym="tp_777"))
        assert await driver.partners(payout)
        [delivery] = await deliveries(driver)
        assert json.loads(delivery.payload)["subject"] == "tp_777" and "t-7" not in delivery.payload
        assert set(json.loads(delivery.payload)["data"]) == {"pseudonym", "policy_code", "amount_fen", "disbursed_at"}

    async def test_a_failing_partner_is_retried_with_backoff_until_it_answers(
        self, client: httpx.AsyncClient, hospital: dict[str, str], driver: Any, event_of: Any, receiver: Any
    ) -> None:
        receiver.statuses = [500]
        await subscribe(client, hospital, receiver.url)
        await certify(driver, event_of, "t-1")
        now = driver.components.clock()
        driver.at(now)
        await driver.deliver_webhooks()
        [delivery] = await deliveries(driver)
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 500")
        # base 1 s in these settings: the first retry waits between 0.5 and 1 s (half fixed, half jitter).
        assert now + timedelta(seconds=0.5) <= delivery.next_attempt_at <= now + timedelta(seconds=1)
        assert await driver.deliver_webhooks() == 0
        driver.at(now + timedelta(seconds=1))
        assert await driver.deliver_webhooks() == 1
        detail = (await client.get(f"{DELIVERIES}/{delivery.id}", headers=hospital)).json()
        assert detail["status"] == "delivered"
        assert [a["status_code"] for a in detail["attempt_log"]] == [500, 200]

    async def test_secret_rotation_signs_with_both_secrets_during_the_grace_period(
        self, client: httpx.AsyncClient, hospital: dict[str, str], driver: Any, event_of: Any, receiver: Any
    ) -> None:
        created = await subscribe(client, hospital, receiver.url)
        rotated = await client.post(
            f"{SUBSCRIPTIONS}/{created['id']}/rotate-secret",
            json={"secret": "the-new-secret-of-2027", "grace_seconds": 3600},
            headers=hospital,
        )
        assert rotated.status_code == 200 and rotated.json()["previous_secret_expires_at"]
        await certify(driver, event_of, "t-1")
        await driver.deliver_webhooks()
        header = receiver.received[0].headers["x-talent-signature"]
        assert header.count("v1=") == 2
        assert signing.verify(header, receiver.received[0].body, SECRET)
        assert signing.verify(header, receiver.received[0].body, "the-new-secret-of-2027")
        driver.at(driver.components.clock() + timedelta(hours=2))
        await certify(driver, event_of, "t-2")
        await driver.deliver_webhooks()
        header = receiver.received[1].headers["x-talent-signature"]
        assert header.count("v1=") == 1 and not signing.verify(header, receiver.received[1].body, SECRET)

    async def test_others_deliveries_are_not_listed(
        self, client: httpx.AsyncClient, hospital: dict[str, str], test_keys: TestKeys, driver: Any, event_of: Any
    ) -> None:
        await subscribe(client, hospital, "https://h.example.org/")
        await certify(driver, event_of, "t-1")
        [mine] = (await client.get(DELIVERIES, headers=hospital)).json()["items"]
        other = test_keys.headers("partner-hospital-2", ["partner"], partner_kind="hospital")
        assert (await client.get(DELIVERIES, headers=other)).json()["items"] == []
        assert (await client.get(f"{DELIVERIES}/{mine['id']}", headers=other)).status_code == 404
        assert (await client.get(f"{DELIVERIES}?status=dead", headers=hospital)).json()["items"] == []
        assert (await client.get(f"{DELIVERIES}?status=lost", headers=hospital)).status_code == 422


class TestDeadLetters:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"delivery_max_attempts": 2}

    async def test_after_the_last_attempt_a_delivery_is_dead_until_the_partner_redelivers_it(
        self, client: httpx.AsyncClient, hospital: dict[str, str], driver: Any, event_of: Any, receiver: Any
    ) -> None:
        receiver.default_status = 503
        await subscribe(client, hospital, receiver.url)
        await certify(driver, event_of, "t-1")
        now = driver.components.clock()
        for step in range(2):
            driver.at(now + timedelta(seconds=5 * step))
            await driver.deliver_webhooks()
        [dead] = (await client.get(f"{DELIVERIES}?status=dead", headers=hospital)).json()["items"]
        assert dead["attempts"] == 2 and dead["next_attempt_at"] is None
        receiver.default_status = 204
        redelivered = await client.post(f"{DELIVERIES}/{dead['id']}/redeliver", headers=hospital)
        assert redelivered.status_code == 202 and redelivered.json()["status"] == "pending"
        again = await client.post(f"{DELIVERIES}/{dead['id']}/redeliver", headers=hospital)
        assert again.status_code == 409
        await driver.deliver_webhooks()
        detail = (await client.get(f"{DELIVERIES}/{dead['id']}", headers=hospital)).json()
        assert detail["status"] == "delivered" and [a["status_code"] for a in detail["attempt_log"]] == [503, 503, 204]


class TestIsolation:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"delivery_concurrency_per_partner": 2, "delivery_timeout_s": 0.5}

    async def test_a_slow_partner_holds_only_its_own_slots_and_times_out(
        self,
        client: httpx.AsyncClient,
        hospital: dict[str, str],
        test_keys: TestKeys,
        driver: Any,
        event_of: Any,
        receiver: Any,
    ) -> None:
        slow = receiver
        slow.delay_s = 1.0
        fast_receiver = type(receiver)()
        fast = await fast_receiver.start()
        try:
            await subscribe(client, hospital, slow.url)
            transit = test_keys.headers("partner-transit-1", ["partner"], partner_kind="transit")
            await subscribe(client, transit, fast.url)
            for n in range(6):
                await certify(driver, event_of, f"t-{n}")
            started = time.monotonic()
            while len(fast.received) < 6:
                await driver.worker.start_due(driver.database, driver.http)
                assert driver.worker.in_flight["partner-hospital-1"] <= 2
                await asyncio.sleep(0.01)
            # All six reached the fast partner before the slow one's first attempt had even timed out.
            assert time.monotonic() - started < 0.5 and slow.received == []
            await driver.worker.wait_idle()
            slow_ones = [d for d in await deliveries(driver) if d.partner_id == "partner-hospital-1"]
            assert sorted(str(d.last_error) for d in slow_ones if d.attempts) == ["timed out after 0.5s"] * 2
        finally:
            await fast.stop()
