"""Cross-city cost settlement: usage from verification events, monthly statements that reconcile with them
exactly, immutable and hashed once issued, late uses as corrections, provisional figures before issue."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from benefits.models import SettlementUsage
from benefits.settlements import canonical
from contracts import make_event
from contracts.events import CodeVerified
from fastapi import FastAPI
from servicekit.audit import AuditEntry
from servicekit.testing import TestKeys
from sqlmodel import select

from .conftest import Events

Headers = dict[str, str]
CITY_A, CITY_B = "330400", "320500"
# The seed price table (data/settlement_prices.v1.json), in fen.
PRICES = {"fare_privilege": 200, "ticket_privilege": 1000, "appointment_booking": 200, "health_education": 100}
SCENES = {
    "transit": ["fare_privilege"],
    "scenic": ["ticket_privilege"],
    "hospital": ["appointment_booking", "health_education"],
}


def month_start(months_ago: int) -> datetime:
    """Noon (city time) on the 2nd of the month `months_ago` months before the current one, in UTC."""
    local = datetime.now(UTC) + timedelta(hours=8)
    year, month = local.year, local.month - months_ago
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 2, 4, 0, tzinfo=UTC)


def month_of(at: datetime) -> str:
    return (at + timedelta(hours=8)).strftime("%Y-%m")


def verified(
    scene: str = "transit",
    partner: str = "partner-metro",
    *,
    city: str = CITY_A,
    valid: bool = True,
    privileges: list[str] | None = None,
) -> CodeVerified:
    return CodeVerified(
        scene=scene,
        partner_kind=scene,
        partner=partner,
        valid=valid,
        reason=None if valid else "revoked",
        tier="C" if valid else None,
        privileges=SCENES[scene] if privileges is None and valid else (privileges or []),
        issuing_city=city,
    )


async def use(events: Events, data: CodeVerified, at: datetime) -> None:
    event = make_event(data, source="test", subject="verification-1").model_copy(update={"time": at})
    assert await events.apply_event(event) is True


async def issue(client: httpx.AsyncClient, headers: Headers, month: str) -> httpx.Response:
    return await client.post("/api/v1/finance/settlements", json={"month": month}, headers=headers)


@pytest.fixture
def partner_metro(test_keys: TestKeys) -> Headers:
    return test_keys.headers("partner-metro", ["partner"], partner_kind="transit")


class TestUsage:
    async def test_a_verification_that_granted_privileges_is_stored_once_without_naming_the_talent(
        self, events: Events, benefits_app: FastAPI
    ) -> None:
        at = month_start(1)
        event = make_event(verified("hospital", "partner-clinic"), source="test", subject="v-1")
        event = event.model_copy(update={"time": at})
        assert await events.apply_event(event) is True
        assert await events.apply_event(event) is False  # redelivered: the ledger drops it
        async with benefits_app.state.database.sessionmaker() as session:
            [row] = (await session.exec(select(SettlementUsage))).all()
        assert row.event_id == event.id and row.partner == "partner-clinic" and row.scene == "hospital"
        assert row.privileges == "appointment_booking,health_education" and row.tier == "C"
        assert row.issuing_city == CITY_A and row.month == month_of(at) and row.settled_month is None
        assert set(row.model_dump()) == {
            "event_id", "partner", "partner_kind", "scene", "issuing_city", "tier", "privileges",
            "occurred_at", "month", "received_at", "settled_month",
        }  # fmt: skip

    async def test_refused_verifications_and_ones_without_privileges_settle_nothing(
        self, events: Events, benefits_app: FastAPI
    ) -> None:
        await use(events, verified(valid=False), month_start(1))
        await use(events, verified("transit", privileges=[]), month_start(1))
        async with benefits_app.state.database.sessionmaker() as session:
            assert (await session.exec(select(SettlementUsage))).all() == []


class TestStatements:
    async def test_statements_reconcile_exactly_with_the_usage_events(
        self, client: httpx.AsyncClient, events: Events, officials: dict[str, Headers]
    ) -> None:
        rng = random.Random(19)
        at = month_start(1)
        expected: Counter[tuple[str, str, str, str]] = Counter()
        verifications: Counter[tuple[str, str]] = Counter()
        qualifying = 0
        for n in range(120):
            scene = rng.choice(sorted(SCENES))
            partner, city = rng.choice(["partner-a", "partner-b"]), rng.choice([CITY_A, CITY_B])
            valid = rng.random() > 0.2
            await use(events, verified(scene, partner, city=city, valid=valid), at + timedelta(minutes=n))
            if valid:
                qualifying += 1
                verifications[(partner, city)] += 1
                for privilege in SCENES[scene]:
                    expected[(partner, city, scene, privilege)] += 1
        # A use of the current month is not this month's.
        await use(events, verified("transit", "partner-a"), datetime.now(UTC))

        answer = await issue(client, officials["finance.city"], month_of(at))
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["provisional"] is False and body["month"] == month_of(at)
        statements = body["items"]
        assert sum(s["verifications"] for s in statements) == qualifying
        assert {(s["partner"], s["issuing_city"]): s["verifications"] for s in statements} == verifications
        counted: Counter[tuple[str, str, str, str]] = Counter()
        for s in statements:
            assert s["prices_version"] == 1 and s["currency"] == "CNY"
            for line in s["lines"]:
                assert line["correction_of"] is None and line["prices_version"] == 1
                assert line["unit_price_fen"] == PRICES[line["privilege"]]
                assert line["amount_fen"] == line["count"] * line["unit_price_fen"]
                counted[(s["partner"], s["issuing_city"], line["scene"], line["privilege"])] += line["count"]
            assert s["total_fen"] == sum(line["amount_fen"] for line in s["lines"])
        assert counted == expected

    async def test_an_issued_statement_is_hashed_audited_and_never_issued_again(
        self, client: httpx.AsyncClient, events: Events, officials: dict[str, Headers], benefits_app: FastAPI
    ) -> None:
        at = month_start(1)
        await use(events, verified("scenic", "partner-park", city=CITY_B), at)
        [issued] = (await issue(client, officials["admin"], month_of(at))).json()["items"]
        document = {k: v for k, v in issued.items() if k not in ("id", "sha256", "provisional")}
        assert hashlib.sha256(canonical(document)).hexdigest() == issued["sha256"]
        assert issued["issued_at"].endswith("Z") and issued["total_fen"] == 1000

        again = await issue(client, officials["finance.city"], month_of(at))
        assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
        await use(events, verified("scenic", "partner-park", city=CITY_B), at + timedelta(hours=1))  # late
        [shown] = (await client.get(f"/api/v1/settlements?month={month_of(at)}", headers=officials["admin"])).json()[
            "items"
        ]
        assert shown == issued  # unchanged by the late use

        async with benefits_app.state.database.sessionmaker() as session:
            entries = (await session.exec(select(AuditEntry).where(AuditEntry.subject_id == issued["id"]))).all()
        [entry] = entries
        assert (
            entry.action == "settlement_statement.issued"
            and json.loads(entry.after or "{}")["sha256"] == issued["sha256"]
        )

    async def test_a_late_use_is_a_correction_line_of_the_next_statement_at_its_own_months_price(
        self, client: httpx.AsyncClient, events: Events, officials: dict[str, Headers]
    ) -> None:
        earlier, later = month_start(2), month_start(1)
        await use(events, verified("transit"), earlier)
        first = (await issue(client, officials["finance.city"], month_of(earlier))).json()
        await use(events, verified("transit"), earlier + timedelta(days=3))  # arrives after its month's issue
        await use(events, verified("transit"), later)
        [statement] = (await issue(client, officials["finance.city"], month_of(later))).json()["items"]
        assert statement["verifications"] == 2 and statement["total_fen"] == 400
        own, correction = statement["lines"]
        assert own["correction_of"] is None and own["count"] == 1
        assert correction["correction_of"] == month_of(earlier) and correction["count"] == 1
        answer = await client.get(f"/api/v1/settlements?month={month_of(earlier)}", headers=officials["admin"])
        assert answer.json()["items"] == first["items"]  # the issued month is unchanged

    async def test_two_officers_issuing_a_month_at_once_issue_it_once(
        self, client: httpx.AsyncClient, events: Events, officials: dict[str, Headers]
    ) -> None:
        at = month_start(1)
        for n in range(5):
            await use(events, verified("transit"), at + timedelta(minutes=n))
        answers = await asyncio.gather(
            issue(client, officials["finance.city"], month_of(at)), issue(client, officials["admin"], month_of(at))
        )
        assert sorted(a.status_code for a in answers) == [201, 409]
        shown = (await client.get(f"/api/v1/settlements?month={month_of(at)}", headers=officials["admin"])).json()
        assert [s["verifications"] for s in shown["items"]] == [5]

    async def test_months_are_issued_in_order(
        self, client: httpx.AsyncClient, events: Events, officials: dict[str, Headers]
    ) -> None:
        await use(events, verified(), month_start(2))
        refused = await issue(client, officials["finance.city"], month_of(month_start(1)))
        assert refused.status_code == 409 and month_of(month_start(2)) in refused.json()["detail"]
        assert (await issue(client, officials["finance.city"], month_of(month_start(2)))).status_code == 201
        assert (await issue(client, officials["finance.city"], month_of(month_start(1)))).status_code == 201

    async def test_the_current_month_shows_provisional_figures_and_cannot_be_issued(
        self, client: httpx.AsyncClient, events: Events, officials: dict[str, Headers]
    ) -> None:
        now = datetime.now(UTC)
        await use(events, verified("hospital", "partner-clinic", city=CITY_B), now)
        current = month_of(now)
        answer = (await client.get(f"/api/v1/settlements?month={current}", headers=officials["finance.city"])).json()
        assert answer["provisional"] is True and answer["issued_at"] is None
        [statement] = answer["items"]
        assert statement["provisional"] is True and statement["id"] is None and statement["sha256"] is None
        assert statement["issuing_city"] == CITY_B and statement["verifications"] == 1 and statement["total_fen"] == 300
        refused = await issue(client, officials["finance.city"], current)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "month"

    @pytest.mark.parametrize("month", ["2026-13", "202611", "next", "0000-01", "2099-01"])
    async def test_a_bad_or_future_month_is_a_422(
        self, client: httpx.AsyncClient, officials: dict[str, Headers], month: str
    ) -> None:
        for answer in (
            await client.get(f"/api/v1/settlements?month={month}", headers=officials["admin"]),
            await issue(client, officials["admin"], month),
        ):
            assert answer.status_code == 422 and answer.headers["content-type"].startswith("application/problem+json")


class TestAccess:
    async def test_a_partner_sees_only_its_own_statements(
        self, client: httpx.AsyncClient, events: Events, officials: dict[str, Headers], partner_metro: Headers
    ) -> None:
        at = month_start(1)
        await use(events, verified("transit", "partner-metro"), at)
        await use(events, verified("scenic", "partner-park"), at)
        for month_issued in (False, True):
            answer = await client.get(f"/api/v1/settlements?month={month_of(at)}", headers=partner_metro)
            assert answer.status_code == 200 and answer.json()["provisional"] is not month_issued
            assert [s["partner"] for s in answer.json()["items"]] == ["partner-metro"]
            assert answer.json()["issued_by"] is None
            if not month_issued:
                assert (await issue(client, officials["finance.city"], month_of(at))).status_code == 201
        assert (await issue(client, partner_metro, month_of(at))).status_code == 403

    async def test_talents_reviewers_and_auditors_see_no_statements(
        self, client: httpx.AsyncClient, officials: dict[str, Headers], talent: Headers
    ) -> None:
        month = month_of(month_start(1))
        for headers in (talent, officials["reviewer.nanhu"], officials["auditor.city"]):
            assert (await client.get(f"/api/v1/settlements?month={month}", headers=headers)).status_code == 403


class TestCsv:
    async def test_csv_has_a_row_per_statement_line_by_accept_header_or_format(
        self, client: httpx.AsyncClient, events: Events, officials: dict[str, Headers]
    ) -> None:
        at = month_start(1)
        await use(events, verified("hospital", "partner-clinic"), at)
        await use(events, verified("transit", "partner-metro", city=CITY_B), at)
        await issue(client, officials["finance.city"], month_of(at))
        by_header = await client.get(
            f"/api/v1/settlements?month={month_of(at)}", headers={**officials["admin"], "Accept": "text/csv"}
        )
        by_format = await client.get(f"/api/v1/settlements?month={month_of(at)}&format=csv", headers=officials["admin"])
        assert by_header.headers["content-type"].startswith("text/csv") and by_header.content == by_format.content
        rows = list(csv.DictReader(io.StringIO(by_header.text)))
        assert len(rows) == 3 and {r["status"] for r in rows} == {"issued"}
        assert sum(int(r["amount_fen"]) for r in rows) == 200 + 100 + 200
        assert all(len(r["statement_sha256"]) == 64 for r in rows)


class TestPrices:
    async def test_a_new_price_version_prices_the_months_it_is_valid_from_and_is_recorded(
        self, client: httpx.AsyncClient, events: Events, officials: dict[str, Headers]
    ) -> None:
        at = month_start(1)
        await use(events, verified("transit"), at)
        current = (
            await client.get("/api/v1/admin/rules/benefits/settlement_prices", headers=officials["admin"])
        ).json()
        document: dict[str, Any] = current["document"]
        document["prices"].append({"privilege": "fare_privilege", "price_fen": 250, "valid_from": f"{month_of(at)}-01"})
        document["prices"].append({"privilege": "fare_privilege", "price_fen": 999, "valid_from": "2999-01-01"})
        changed = await client.put(
            "/api/v1/admin/rules/benefits/settlement_prices",
            json={"document": document, "reason": "metro fare share agreed with the partner city"},
            headers=officials["admin"],
        )
        assert changed.status_code == 200 and changed.json()["version"] == 2
        [statement] = (await issue(client, officials["finance.city"], month_of(at))).json()["items"]
        assert statement["prices_version"] == 2 and statement["lines"][0]["unit_price_fen"] == 250

    async def test_a_privilege_without_a_price_stops_the_issue_and_settles_nothing(
        self, client: httpx.AsyncClient, events: Events, officials: dict[str, Headers]
    ) -> None:
        at = month_start(1)
        await use(events, verified("transit", privileges=["ferry_privilege"]), at)
        refused = await issue(client, officials["finance.city"], month_of(at))
        assert refused.status_code == 409 and "ferry_privilege" in refused.json()["detail"]
        provisional = (await client.get(f"/api/v1/settlements?month={month_of(at)}", headers=officials["admin"])).json()
        assert provisional["provisional"] is True and provisional["items"][0]["total_fen"] is None

    async def test_a_price_table_that_fails_its_checks_is_refused_naming_the_field(
        self, client: httpx.AsyncClient, officials: dict[str, Headers]
    ) -> None:
        bad = {
            "currency": "CNY",
            "prices": [{"privilege": "fare_privilege", "price_fen": -1, "valid_from": "2026-01-01"}],
        }
        answer = await client.put(
            "/api/v1/admin/rules/benefits/settlement_prices",
            json={"document": bad, "reason": "a typo"},
            headers=officials["admin"],
        )
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "prices.0.price_fen"
