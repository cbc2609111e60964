"""A reinstatement (talent.applicant.talent.reinstated.v1) reaches the partner kinds that see code status by
default, pseudonymised and reduced to the allowed fields; and the talent hears of it in the inbox."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from contracts import PARTNER_VISIBLE_TYPES, TalentReinstated
from servicekit.testing import TestKeys


@pytest.fixture
def hospital(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers("partner-hospital-r", ["partner"], partner_kind="hospital")


def test_every_kind_may_receive_a_reinstatement_by_default() -> None:
    assert all(TalentReinstated.type in types for types in PARTNER_VISIBLE_TYPES.values())


async def test_a_reinstatement_reaches_the_partner_pseudonymised(
    client: httpx.AsyncClient, hospital: dict[str, str], driver: Any, event_of: Any, receiver: Any
) -> None:
    body = {"event_types": [TalentReinstated.type], "url": receiver.url, "secret": "hospital-webhook-secret-r"}
    assert (await client.post("/api/v1/partners/subscriptions", json=body, headers=hospital)).status_code == 201
    event = event_of(TalentReinstated, talent_id="talent-77", pseudonym="tp_r77", status="certified", tier="C")
    await driver.partners(event)
    assert await driver.deliver_webhooks() == 1
    [request] = receiver.received
    sent = json.loads(request.body)
    assert sent["subject"] == "tp_r77" and sent["type"] == TalentReinstated.type
    assert set(sent["data"]) == {"pseudonym", "status", "tier", "certified_until", "reinstated_at"}
    assert sent["data"]["status"] == "certified" and "talent-77" not in request.body.decode()
