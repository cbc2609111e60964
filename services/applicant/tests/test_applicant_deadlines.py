"""Certification review stages have deadlines: 5 working days at the county (初审) and 5 at the city (复审),
from when the certification reaches the stage (rule set "review"); a stage past its deadline is escalated
once, and the review queue shows the deadline, the escalation, and can list the overdue ones alone."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from applicant.certification import STAGE_DEADLINE_TIMER
from applicant.clock import CITY_TIME_ZONE
from applicant.deadlines import on_stage_deadline
from applicant.rules import RULES, parse_review
from fastapi import FastAPI
from servicekit.db import Database
from servicekit.models import OutboxEvent
from servicekit.testing import TestDatabases
from servicekit.timers import ScheduledTimer, TimerRunner
from sqlmodel import select

from .conftest import Officials, decide, register, resident_id, submit

QUEUE = "/api/v1/reviews/certifications"


@pytest.fixture
async def rules_restored(applicant_databases: TestDatabases) -> AsyncIterator[None]:
    """The rule book is the process's: what a test put in force must not reach the tests after it."""
    yield
    with applicant_databases.fresh() as url:
        database = Database(url)
        try:
            await RULES.load(database)
        finally:
            await database.dispose()


SECOND = timedelta(seconds=1)


async def fire_at(app: FastAPI, at: datetime) -> int:
    """Fire the stage deadlines due at `at`, as the worker's runner will when that time comes."""
    return await TimerRunner(app.state.database, {STAGE_DEADLINE_TIMER: on_stage_deadline}, clock=lambda: at).fire_due()


async def escalations(app: FastAPI) -> list[dict[str, Any]]:
    async with app.state.database.sessionmaker() as session:
        rows = (await session.exec(select(OutboxEvent))).all()
    return [
        json.loads(r.payload)["data"] for r in rows if r.event_type == "talent.applicant.certification.escalated.v1"
    ]


async def in_queue(client: httpx.AsyncClient, headers: dict[str, str], certification_id: str) -> dict[str, Any]:
    response = await client.get(f"{QUEUE}/{certification_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def due(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["stage_due_at"])


def working_days_between(start: datetime, end: datetime) -> int:
    """Mon–Fri days in the city after `start`'s day up to `end`'s day (same time of day)."""
    day, last, count = start.astimezone(CITY_TIME_ZONE).date(), end.astimezone(CITY_TIME_ZONE).date(), 0
    while day < last:
        day += timedelta(days=1)
        count += day.weekday() < 5
    return count


async def submitted(client: httpx.AsyncClient, talent: dict[str, str], officials: Officials) -> dict[str, Any]:
    await register(client, talent)
    certification = await submit(client, talent)
    return await in_queue(client, officials.nanhu, certification["id"])


class TestTheDeadline:
    async def test_each_stage_is_due_five_working_days_after_the_certification_reaches_it(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        item = await submitted(client, talent, officials)
        submitted_at = datetime.fromisoformat(item["submitted_at"])
        assert item["escalated"] is False
        assert working_days_between(submitted_at, due(item)) == 5
        assert (due(item) - submitted_at).days in (7, 8, 9)  # a weekend (or two, from a weekend) in between
        assert due(item).astimezone(CITY_TIME_ZONE).time() == submitted_at.astimezone(CITY_TIME_ZONE).time()

        approved = (await decide(client, item["id"], officials.nanhu)).json()
        assert approved["status"] == "county_approved" and due(approved) > due(item) - timedelta(days=9)
        assert working_days_between(datetime.fromisoformat(approved["updated_at"]), due(approved)) == 5

    async def test_a_certification_out_of_review_has_no_deadline(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        item = await submitted(client, talent, officials)
        returned = (
            await decide(client, item["id"], officials.nanhu, "return", reason="the diploma is unreadable")
        ).json()
        assert returned["status"] == "returned" and returned["stage_due_at"] is None
        assert await fire_at(applicant_app, due(item) + timedelta(days=30)) == 0
        assert await escalations(applicant_app) == []


class TestEscalation:
    async def test_a_stage_past_its_deadline_is_escalated_once_with_an_event_and_an_audit_entry(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        item = await submitted(client, talent, officials)
        assert await fire_at(applicant_app, due(item) - SECOND) == 0  # not yet due

        assert await fire_at(applicant_app, due(item) + SECOND) == 1
        assert await fire_at(applicant_app, due(item) + timedelta(days=3)) == 0  # fired once, done
        escalated = await in_queue(client, officials.nanhu, item["id"])
        assert escalated["escalated"] is True and escalated["status"] == "submitted"
        assert escalated["stage_due_at"] == item["stage_due_at"]

        [event] = await escalations(applicant_app)
        assert event["certification_id"] == item["id"] and event["stage"] == "county"
        assert event["status"] == "submitted" and event["region_code"] == "330402"
        assert datetime.fromisoformat(event["due_at"]) == due(item)
        assert datetime.fromisoformat(event["breached_at"]) >= due(item)
        log = (await client.get(f"/api/v1/audit/applicant?subject_id={item['id']}", headers=officials.auditor)).json()
        [entry] = [e for e in log["items"] if e["action"] == "certification.escalate"]
        assert entry["actor"] == "system"

    async def test_firing_the_same_deadline_again_does_not_escalate_twice(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        item = await submitted(client, talent, officials)
        await fire_at(applicant_app, due(item) + SECOND)
        async with applicant_app.state.database.transaction() as session:  # a runner that fires it again
            timer = (
                await session.exec(select(ScheduledTimer).where(ScheduledTimer.kind == STAGE_DEADLINE_TIMER))
            ).one()
            await on_stage_deadline(session, timer)
        assert len(await escalations(applicant_app)) == 1

    async def test_a_decision_before_the_deadline_moves_the_clock_to_the_next_stage(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        item = await submitted(client, talent, officials)
        approved = (await decide(client, item["id"], officials.nanhu)).json()
        async with applicant_app.state.database.sessionmaker() as session:
            [timer] = (
                await session.exec(select(ScheduledTimer).where(ScheduledTimer.kind == STAGE_DEADLINE_TIMER))
            ).all()
        # The county's deadline is gone: the one timer is the city's, due with the city's deadline.
        assert timer.data()["stage"] == "city" and timer.due_at == due(approved) and due(approved) >= due(item)

        assert await fire_at(applicant_app, due(approved) + SECOND) == 1
        [event] = await escalations(applicant_app)
        assert event["stage"] == "city" and event["status"] == "county_approved"
        assert (await in_queue(client, officials.city, item["id"]))["escalated"] is True

    async def test_a_decision_after_an_escalation_clears_it_for_the_next_stage(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        item = await submitted(client, talent, officials)
        await fire_at(applicant_app, due(item) + SECOND)
        approved = (await decide(client, item["id"], officials.nanhu)).json()
        assert approved["escalated"] is False and due(approved) > datetime.fromisoformat(approved["updated_at"])
        certified = (await decide(client, item["id"], officials.city)).json()
        assert certified["status"] == "certified" and certified["stage_due_at"] is None
        assert await fire_at(applicant_app, due(approved) + timedelta(days=30)) == 0
        assert len(await escalations(applicant_app)) == 1


class TestTheQueue:
    async def test_overdue_lists_only_the_escalated_certifications(
        self,
        client: httpx.AsyncClient,
        talent: dict[str, str],
        officials: Officials,
        applicant_app: FastAPI,
    ) -> None:
        late = await submitted(client, talent, officials)
        await fire_at(applicant_app, due(late) + SECOND)
        other = officials.keys.headers(str(uuid.uuid4()), ["talent"])
        await register(client, other, id_number=resident_id(sequence="456"))
        on_time = await in_queue(client, officials.nanhu, (await submit(client, other))["id"])

        everything = (await client.get(QUEUE, headers=officials.nanhu)).json()["items"]
        assert {(i["id"], i["escalated"]) for i in everything} == {(late["id"], True), (on_time["id"], False)}
        overdue = (await client.get(f"{QUEUE}?overdue=true", headers=officials.nanhu)).json()["items"]
        assert [i["id"] for i in overdue] == [late["id"]]
        city = (await client.get(f"{QUEUE}?overdue=true", headers=officials.city)).json()["items"]
        assert city == []  # the city's queue holds what the city decides


class TestTheRule:
    async def test_officials_change_the_working_days_and_the_next_stage_reached_uses_them(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, rules_restored: None
    ) -> None:
        document = {"stage_deadline_working_days": {"county": 2, "city": 5}}
        response = await client.put(
            "/api/v1/admin/rules/applicant/review",
            json={"document": document, "reason": "承诺时限 shortened for the county"},
            headers=officials.admin,
        )
        assert response.status_code == 200, response.text
        item = await submitted(client, talent, officials)
        assert working_days_between(datetime.fromisoformat(item["submitted_at"]), due(item)) == 2
        bad = {"document": {"stage_deadline_working_days": {"county": 0, "city": 5}}, "reason": "typo"}
        refused = await client.put("/api/v1/admin/rules/applicant/review", json=bad, headers=officials.admin)
        assert refused.status_code == 422

    def test_the_rule_names_every_stage(self) -> None:
        assert parse_review({"stage_deadline_working_days": {"county": 5, "city": 3}}).stage_deadline_working_days == {
            "county": 5,
            "city": 3,
        }
        for bad in ({"county": 5}, {"county": 0, "city": 5}, {"county": 5, "city": 5, "town": 1}):
            with pytest.raises(ValueError):
                parse_review({"stage_deadline_working_days": bad})
