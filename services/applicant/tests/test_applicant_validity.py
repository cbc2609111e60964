"""动态进退: certifications expire by a persisted timer, and admins revoke a talent's status."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
from applicant.validity import EXPIRY_TIMER, expire_certification
from fastapi import FastAPI
from servicekit.db import utcnow
from servicekit.models import OutboxEvent
from servicekit.timers import TimerRunner
from sqlmodel import select

from .conftest import Officials, certify, decide, register, submit


async def _events(app: FastAPI, suffix: str) -> list[dict[str, Any]]:
    async with app.state.database.sessionmaker() as session:
        rows = (await session.exec(select(OutboxEvent))).all()
    return [json.loads(r.payload)["data"] for r in rows if r.event_type.endswith(suffix)]


def _runner_at(app: FastAPI, years_ahead: int) -> TimerRunner:
    """The expiry timer runner as it will be `years_ahead` years from now."""
    return TimerRunner(
        app.state.database,
        {EXPIRY_TIMER: expire_certification},
        clock=lambda: utcnow() + timedelta(days=365 * years_ahead + 2),
    )


class TestExpiry:
    async def test_certification_expires_when_its_period_ends(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        await certify(client, talent, officials, tier="E")
        code = (await client.get("/api/v1/me/code", headers=talent)).json()["code"]
        # Nothing is due a year before the end of the three years of tier E.
        assert await _runner_at(applicant_app, 2).fire_due() == 0
        assert await _runner_at(applicant_app, 3).fire_due() == 1

        me = (await client.get("/api/v1/me/talent", headers=talent)).json()
        assert me["status"] == "expired"
        # Without a valid tier only the profile's points remain: master 10 + 6 + shortage 5.
        assert me["points"] == 21
        [expired] = await _events(applicant_app, "talent.expired.v1")
        assert expired["expired_on"] == me["certified_until"]
        assert (await client.get("/api/v1/me/code", headers=talent)).status_code == 409
        verify = await client.post(
            "/api/v1/codes/verify", json={"code": code, "scene": "hospital"}, headers=officials.partner("hospital")
        )
        assert verify.json() == {"valid": False, "reason": "certification_expired", "privileges": []}

    async def test_the_timer_fires_once(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        await certify(client, talent, officials)
        await _runner_at(applicant_app, 3).fire_due()
        assert await _runner_at(applicant_app, 3).fire_due() == 0
        assert len(await _events(applicant_app, "talent.expired.v1")) == 1

    async def test_an_expired_talent_may_apply_again(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        await certify(client, talent, officials)
        await _runner_at(applicant_app, 3).fire_due()
        certification = await submit(client, talent, claimed_tier="D")
        await decide(client, certification["id"], officials.nanhu)
        await decide(client, certification["id"], officials.city)
        assert (await client.get("/api/v1/me/talent", headers=talent)).json()["status"] == "certified"


class TestRevocation:
    async def test_admin_revokes_with_a_reason_and_codes_stop_verifying(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        await certify(client, talent, officials, tier="C")
        code = (await client.get("/api/v1/me/code", headers=talent)).json()["code"]
        talent_id = (await client.get("/api/v1/me/talent", headers=talent)).json()["talent_id"]

        response = await client.post(
            f"/api/v1/admin/talents/{talent_id}/revoke",
            json={"reason": "失信: false evidence"},
            headers=officials.admin,
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "revoked"

        verify = await client.post(
            "/api/v1/codes/verify", json={"code": code, "scene": "hospital"}, headers=officials.partner("hospital")
        )
        assert verify.json() == {"valid": False, "reason": "revoked", "privileges": []}
        assert (await client.get("/api/v1/me/code", headers=talent)).status_code == 409
        [revoked] = await _events(applicant_app, "talent.revoked.v1")
        assert revoked["reason"] == "失信: false evidence" and revoked["pseudonym"].startswith("tp_")
        assert "张三" not in json.dumps(revoked)
        log = (await client.get(f"/api/v1/audit/applicant?subject_id={talent_id}", headers=officials.auditor)).json()
        assert [(e["action"], e["reason"]) for e in log["items"]] == [("talent.revoke", "失信: false evidence")]

    async def test_a_revoked_talent_cannot_apply(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        profile = await register(client, talent)
        await client.post(
            f"/api/v1/admin/talents/{profile['talent_id']}/revoke",
            json={"reason": "blacklist"},
            headers=officials.admin,
        )
        response = await client.post(
            "/api/v1/me/certifications",
            json={
                "route": "degree",
                "claimed_tier": "E",
                "evidence": [{"kind": "d", "reference": "r", "sha256": "0" * 64}],
            },
            headers=talent,
        )
        assert response.status_code == 409
        assert "revoked" in response.json()["detail"]

    async def test_revocation_rejects_the_open_certification(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        profile = await register(client, talent)
        certification = await submit(client, talent)
        await client.post(
            f"/api/v1/admin/talents/{profile['talent_id']}/revoke",
            json={"reason": "left the city"},
            headers=officials.admin,
        )
        mine = (await client.get(f"/api/v1/me/certifications/{certification['id']}", headers=talent)).json()
        assert mine["status"] == "rejected"
        assert "left the city" in mine["decisions"][-1]["reason"]
        assert (await decide(client, certification["id"], officials.nanhu)).status_code == 409

    async def test_revoking_twice_is_409_and_unknown_talent_404(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        profile = await register(client, talent)
        url = f"/api/v1/admin/talents/{profile['talent_id']}/revoke"
        assert (await client.post(url, json={"reason": "x"}, headers=officials.admin)).status_code == 200
        assert (await client.post(url, json={"reason": "x"}, headers=officials.admin)).status_code == 409
        unknown = await client.post(
            f"/api/v1/admin/talents/{uuid.uuid4()}/revoke", json={"reason": "x"}, headers=officials.admin
        )
        assert unknown.status_code == 404

    async def test_only_an_admin_revokes_and_a_reason_is_required(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        profile = await register(client, talent)
        url = f"/api/v1/admin/talents/{profile['talent_id']}/revoke"
        assert (await client.post(url, json={"reason": "x"}, headers=officials.city)).status_code == 403
        missing = await client.post(url, json={}, headers=officials.admin)
        assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "reason"
