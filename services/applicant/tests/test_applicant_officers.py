"""Named officers (首问负责制) on certifications, and the masked name and employer in the profile events that
benefits shows on its public 公示 list."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
from applicant.certification import STAGE_DEADLINE_TIMER
from applicant.deadlines import on_stage_deadline
from applicant.identity import mask_name
from fastapi import FastAPI
from servicekit.models import OutboxEvent
from servicekit.testing import TestKeys
from servicekit.timers import TimerRunner
from sqlmodel import select

from .conftest import Officials, decide, register, submit

QUEUE = "/api/v1/reviews/certifications"


def _wang(test_keys: TestKeys) -> dict[str, str]:
    """A county reviewer whose token carries the display name and office phone, as the gateway issues it."""
    return test_keys.headers(
        "off-wang", ["county_reviewer"], region="330402", name="南湖区人才办 王老师", office_phone="0573-82000001"
    )


async def _payloads(app: FastAPI, event_type: str) -> list[dict[str, Any]]:
    async with app.state.database.sessionmaker() as session:
        rows = (await session.exec(select(OutboxEvent))).all()
    return [json.loads(r.payload)["data"] for r in rows if r.event_type == event_type]


class TestNamedOfficer:
    async def test_the_first_reviewer_to_open_a_certification_owns_it_and_the_talent_sees_them(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, test_keys: TestKeys
    ) -> None:
        await register(client, talent)
        item = await submit(client, talent)
        assert item["officer"] is None
        assert (await client.get(f"{QUEUE}/{item['id']}", headers=_wang(test_keys))).status_code == 200
        # Opening it second (or deciding) does not take it over.
        assert (await decide(client, item["id"], officials.nanhu)).status_code == 200
        mine = (await client.get(f"/api/v1/me/certifications/{item['id']}", headers=talent)).json()
        assert mine["officer"] == {"display_name": "南湖区人才办 王老师", "office_phone": "0573-82000001"}
        assert "off-wang" not in json.dumps(mine["officer"])

    async def test_a_deciding_reviewer_who_never_opened_it_owns_it(
        self, client: httpx.AsyncClient, talent: dict[str, str], test_keys: TestKeys
    ) -> None:
        await register(client, talent)
        item = await submit(client, talent)
        decided = await decide(client, item["id"], _wang(test_keys))
        assert decided.status_code == 200, decided.text
        assert decided.json()["officer"]["display_name"] == "南湖区人才办 王老师"

    async def test_a_city_approver_reassigns_audited_and_a_county_reviewer_may_not(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, test_keys: TestKeys
    ) -> None:
        await register(client, talent)
        item = await submit(client, talent)
        await client.get(f"{QUEUE}/{item['id']}", headers=_wang(test_keys))
        body = {"officer_id": "off-zhao", "display_name": "南湖区人才办 赵老师", "office_phone": "0573-82000009"}
        url = f"{QUEUE}/{item['id']}/officer"
        assert (await client.post(url, json=body, headers=_wang(test_keys))).status_code == 403
        moved = await client.post(url, json=body, headers=officials.city)
        assert moved.status_code == 200, moved.text
        mine = (await client.get(f"/api/v1/me/certifications/{item['id']}", headers=talent)).json()
        assert mine["officer"] == {"display_name": "南湖区人才办 赵老师", "office_phone": "0573-82000009"}
        log = (await client.get(f"/api/v1/audit/applicant?subject_id={item['id']}", headers=officials.auditor)).json()
        assert "certification.officer_reassigned" in [e["action"] for e in log["items"]]
        missing = await client.post(f"{QUEUE}/no-such-id/officer", json=body, headers=officials.city)
        assert missing.status_code == 404

    async def test_an_escalation_names_the_owning_officer(
        self, client: httpx.AsyncClient, talent: dict[str, str], test_keys: TestKeys, applicant_app: FastAPI
    ) -> None:
        await register(client, talent)
        item = await submit(client, talent)
        await client.get(f"{QUEUE}/{item['id']}", headers=_wang(test_keys))
        due = datetime.fromisoformat(item["stage_due_at"]) if item.get("stage_due_at") else None
        at = (due or datetime.fromisoformat(item["submitted_at"])) + timedelta(days=30)
        runner = TimerRunner(applicant_app.state.database, {STAGE_DEADLINE_TIMER: on_stage_deadline}, clock=lambda: at)
        assert await runner.fire_due() == 1
        [event] = await _payloads(applicant_app, "talent.applicant.certification.escalated.v1")
        assert event["officer_id"] == "off-wang"
        [assigned] = await _payloads(applicant_app, "talent.applicant.certification.officer_assigned.v1")
        assert (assigned["certification_id"], assigned["officer_id"]) == (item["id"], "off-wang")
        assert assigned["status"] == "submitted" and assigned["stage_due_at"] is not None


class TestMaskedName:
    def test_a_name_keeps_its_first_and_last_character(self) -> None:
        assert mask_name("张大伟") == "张*伟"
        assert mask_name("欧阳娜娜") == "欧*娜"
        assert mask_name("张三") == "张*"
        assert mask_name(" 李 ") == "李*"

    async def test_profile_events_carry_the_masked_name_and_employer_never_the_name(
        self, client: httpx.AsyncClient, talent: dict[str, str], applicant_app: FastAPI
    ) -> None:
        await register(client, talent, name="张大伟")
        await register(client, talent, name="张大伟", social_insurance_months=13)
        [registered] = await _payloads(applicant_app, "talent.applicant.talent.registered.v1")
        [updated] = await _payloads(applicant_app, "talent.applicant.talent.profile_updated.v1")
        for data in (registered, updated):
            assert (data["name_masked"], data["employer_name"]) == ("张*伟", "嘉兴某科技有限公司")
            assert "张大伟" not in json.dumps(data, ensure_ascii=False)
