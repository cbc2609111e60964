"""动态进退 in benefits' read model: a revocation lifted by TalentReinstated makes the talent eligible again,
in any arrival order, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from benefits.models import Claim
from contracts import TalentReinstated, TalentRevoked
from fastapi import FastAPI
from sqlmodel import select

from .conftest import Events, certified, registered, today

Headers = dict[str, str]
RENT = {"policy_code": "RENT_SUBSIDY"}


def revoked(talent_id: str) -> TalentRevoked:
    return TalentRevoked(
        talent_id=talent_id, pseudonym=f"tp_{talent_id[:8]}", reason="失信", revoked_at=datetime.now(UTC)
    )


def reinstated(talent_id: str, status: str = "certified", **extra: Any) -> TalentReinstated:
    values: dict[str, Any] = {
        "talent_id": talent_id,
        "pseudonym": f"tp_{talent_id[:8]}",
        "status": status,
        "tier": "E",
        "certified_until": today() + timedelta(days=3 * 365),
        "reinstated_at": datetime.now(UTC),
    }
    values.update(extra)
    return TalentReinstated(**values)


async def _claims(app: FastAPI, talent_id: str) -> list[Claim]:
    async with app.state.database.sessionmaker() as session:
        return list((await session.exec(select(Claim).where(Claim.talent_id == talent_id))).all())


async def eligible(client: httpx.AsyncClient, talent: Headers, policy_code: str = "RENT_SUBSIDY") -> bool:
    items = (await client.get("/api/v1/me/eligibility", headers=talent)).json()["items"]
    [item] = [i for i in items if i["policy_code"] == policy_code]
    return bool(item["eligible"])


class TestReinstatement:
    async def test_a_reinstated_talent_may_claim_again(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str
    ) -> None:
        await events.apply(registered(talent_id))
        await events.apply(certified(talent_id, "E"))
        await events.apply(revoked(talent_id))
        assert await eligible(client, talent) is False
        assert (await client.post("/api/v1/me/claims", json=RENT, headers=talent)).status_code == 422

        await events.apply(reinstated(talent_id))
        assert await eligible(client, talent) is True
        assert (await client.post("/api/v1/me/claims", json=RENT, headers=talent)).status_code == 201

    async def test_a_reinstatement_to_expired_does_not_make_the_talent_eligible(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str
    ) -> None:
        await events.apply(registered(talent_id))
        await events.apply(certified(talent_id, "E"))
        await events.apply(revoked(talent_id))
        await events.apply(reinstated(talent_id, "expired", certified_until=today() - timedelta(days=1)))
        assert await eligible(client, talent) is False

    async def test_a_revocation_arriving_after_the_later_reinstatement_changes_nothing(
        self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str, benefits_app: FastAPI
    ) -> None:
        now = datetime.now(UTC)
        await events.apply(registered(talent_id))
        await events.apply(certified(talent_id, "E"), time=now - timedelta(hours=2))
        await events.apply(reinstated(talent_id), time=now)
        assert (await client.post("/api/v1/me/claims", json=RENT, headers=talent)).status_code == 201
        await events.apply(revoked(talent_id), time=now - timedelta(hours=1))  # older: delivered late
        items = (await client.get("/api/v1/me/eligibility", headers=talent)).json()["items"]
        assert all(r["code"] != "not_certified" for i in items for r in i["reasons"])
        [rent] = [c for c in await _claims(benefits_app, talent_id) if c.policy_code == "RENT_SUBSIDY"]
        assert rent.status == "accepted"  # the late revocation neither stopped it nor revoked the talent

    async def test_a_redelivered_reinstatement_is_applied_once(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        await events.apply(registered(talent_id))
        await events.apply(certified(talent_id, "E"))
        await events.apply(revoked(talent_id))
        event = await events.apply(reinstated(talent_id))
        claims = [(c.id, c.status) for c in await _claims(benefits_app, talent_id)]
        assert await events.apply_event(event) is False  # the ledger drops the redelivery
        assert [(c.id, c.status) for c in await _claims(benefits_app, talent_id)] == claims
