"""动态进退: an admin lifts a revocation; the talent stands where its certification stands (certified while still
valid, else expired, registered if never certified), audited, announced by talent.reinstated.v1."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
from applicant.clock import local_today
from applicant.models import Talent
from applicant.validity import EXPIRY_TIMER, expire_certification
from fastapi import FastAPI
from servicekit.db import utcnow
from servicekit.models import OutboxEvent
from servicekit.timers import ScheduledTimer, TimerRunner
from sqlmodel import select

from .conftest import Officials, certify, decide, register, submit

ADMIN_TALENTS = "/api/v1/admin/talents"


async def _events(app: FastAPI, suffix: str) -> list[dict[str, Any]]:
    async with app.state.database.sessionmaker() as session:
        rows = (await session.exec(select(OutboxEvent))).all()
    return [json.loads(r.payload)["data"] for r in rows if r.event_type.endswith(suffix)]


async def revoke(client: httpx.AsyncClient, officials: Officials, talent_id: str) -> None:
    response = await client.post(
        f"{ADMIN_TALENTS}/{talent_id}/revoke", json={"reason": "失信"}, headers=officials.admin
    )
    assert response.status_code == 200, response.text


async def reinstate(
    client: httpx.AsyncClient, officials: Officials, talent_id: str, reason: str = "removed from the 失信 list"
) -> httpx.Response:
    return await client.post(
        f"{ADMIN_TALENTS}/{talent_id}/reinstatement", json={"reason": reason}, headers=officials.admin
    )


async def me(client: httpx.AsyncClient, talent: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = (await client.get("/api/v1/me/talent", headers=talent)).json()
    return body


class TestReinstatement:
    async def test_a_talent_revoked_within_the_validity_is_certified_again_and_its_code_works(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        await certify(client, talent, officials, tier="C")
        before = await me(client, talent)
        await revoke(client, officials, before["talent_id"])

        response = await reinstate(client, officials, before["talent_id"])
        assert response.status_code == 200, response.text
        assert response.json() == before  # certified, the same tier, validity and points
        code = (await client.get("/api/v1/me/code", headers=talent)).json()["code"]
        verify = await client.post(
            "/api/v1/codes/verify", json={"code": code, "scene": "hospital"}, headers=officials.partner("hospital")
        )
        assert verify.json()["valid"] is True

        [event] = await _events(applicant_app, "talent.reinstated.v1")
        assert (event["status"], event["tier"], event["certified_until"]) == (
            "certified",
            "C",
            before["certified_until"],
        )
        assert event["pseudonym"].startswith("tp_") and "张三" not in json.dumps(event)
        log = await client.get(f"/api/v1/audit/applicant?subject_id={before['talent_id']}", headers=officials.auditor)
        assert [(e["action"], e["reason"]) for e in log.json()["items"]] == [  # newest first
            ("talent.reinstate", "removed from the 失信 list"),
            ("talent.revoke", "失信"),
        ]

    async def test_the_expiry_timer_runs_again_after_a_reinstatement(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        await certify(client, talent, officials)
        talent_id = (await me(client, talent))["talent_id"]
        await revoke(client, officials, talent_id)
        await reinstate(client, officials, talent_id)
        async with applicant_app.state.database.sessionmaker() as session:
            pending = (
                await session.exec(
                    select(ScheduledTimer).where(
                        ScheduledTimer.kind == EXPIRY_TIMER, ScheduledTimer.status == "pending"
                    )
                )
            ).all()
        assert [t.key for t in pending] == [talent_id]
        runner = TimerRunner(
            applicant_app.state.database,
            {EXPIRY_TIMER: expire_certification},
            clock=lambda: utcnow() + timedelta(days=3 * 365 + 2),
        )
        assert await runner.fire_due() == 1
        assert (await me(client, talent))["status"] == "expired"

    async def test_a_talent_whose_validity_ran_out_meanwhile_is_expired_and_may_apply_again(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        await certify(client, talent, officials)
        talent_id = (await me(client, talent))["talent_id"]
        await revoke(client, officials, talent_id)
        async with applicant_app.state.database.transaction() as session:  # the years pass while revoked
            row = await session.get(Talent, talent_id)
            assert row is not None
            row.certified_until = local_today() - timedelta(days=1)

        response = await reinstate(client, officials, talent_id)
        assert response.status_code == 200 and response.json()["status"] == "expired"
        assert (await client.get("/api/v1/me/code", headers=talent)).status_code == 409
        [event] = await _events(applicant_app, "talent.reinstated.v1")
        assert event["status"] == "expired"

        certification = await submit(client, talent, claimed_tier="D")  # an expired talent applies again
        await decide(client, certification["id"], officials.nanhu)
        assert (await decide(client, certification["id"], officials.city)).json()["status"] == "certified"
        assert (await me(client, talent))["status"] == "certified"

    async def test_a_talent_never_certified_is_registered_again_and_may_apply(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        profile = await register(client, talent)
        await submit(client, talent)  # rejected by the revocation
        await revoke(client, officials, profile["talent_id"])
        response = await reinstate(client, officials, profile["talent_id"])
        assert response.json()["status"] == "registered" and response.json()["tier"] is None
        mine = (await client.get("/api/v1/me/certifications", headers=talent)).json()["items"]
        assert [c["status"] for c in mine] == ["rejected"]  # what the revocation rejected stays rejected
        await submit(client, talent)


class TestRefusals:
    async def test_only_a_revoked_talent_can_be_reinstated(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        talent_id = (await me(client, talent))["talent_id"]
        response = await reinstate(client, officials, talent_id)
        assert response.status_code == 409
        assert response.headers["content-type"].startswith("application/problem+json")
        await revoke(client, officials, talent_id)
        assert (await reinstate(client, officials, talent_id)).status_code == 200
        assert (await reinstate(client, officials, talent_id)).status_code == 409  # once

    async def test_an_unknown_talent_is_404(self, client: httpx.AsyncClient, officials: Officials) -> None:
        assert (await reinstate(client, officials, str(uuid.uuid4()))).status_code == 404

    async def test_only_an_admin_reinstates_and_a_reason_is_required(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        profile = await register(client, talent)
        await revoke(client, officials, profile["talent_id"])
        url = f"{ADMIN_TALENTS}/{profile['talent_id']}/reinstatement"
        for headers in (officials.city, officials.nanhu, talent):
            assert (await client.post(url, json={"reason": "x"}, headers=headers)).status_code == 403
        assert (await client.post(url, json={}, headers=officials.admin)).status_code == 422
        assert (await client.post(url, json={"reason": ""}, headers=officials.admin)).status_code == 422
