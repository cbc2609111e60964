"""The inbox: one entry per (event, recipient) whatever the redeliveries, newest first, read/unread, categories."""

from __future__ import annotations

from typing import Any

import httpx
from contracts import (
    ClaimDisbursed,
    ClaimEscalated,
    OfferMade,
    RoundOpened,
    TalentPointsChanged,
    TalentProfileUpdated,
    TalentRegistered,
)
from notify.models import Notification
from servicekit.testing import TestKeys
from sqlmodel import select


class TestInboxFromEvents:
    async def test_registration_becomes_one_inbox_entry_in_the_talents_locale(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], talent_id: str
    ) -> None:
        assert await driver.inbox(event_of(TalentRegistered, talent_id=talent_id, locale="en"))
        response = await client.get("/api/v1/me/inbox", headers=talent)
        assert response.status_code == 200
        [item] = response.json()["items"]
        assert item["title"] == "Welcome to the Talent Code"
        assert item["read_at"] is None and item["category"] == "account"

    async def test_redelivered_event_gives_one_entry(self, driver: Any, event_of: Any, talent_id: str) -> None:
        event = event_of(TalentRegistered, talent_id=talent_id, locale="zh-CN")
        assert await driver.inbox(event) is True
        assert await driver.inbox(event) is False
        async with driver.database.sessionmaker() as session:
            rows = (await session.exec(select(Notification))).all()
        assert len(rows) == 1
        assert rows[0].title == "欢迎使用人才码"

    async def test_benefit_payout_names_the_policy_and_the_amount_in_yuan(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], talent_id: str
    ) -> None:
        await driver.inbox(event_of(TalentRegistered, talent_id=talent_id, locale="zh-CN"))
        await driver.inbox(event_of(ClaimDisbursed, talent_id=talent_id, policy_code="RENT_SUBSIDY", amount_fen=123456))
        [payout, _] = (await client.get("/api/v1/me/inbox", headers=talent)).json()["items"]
        assert payout["category"] == "benefits"
        assert payout["title"] == "租房补贴已拨付 ¥1,234.56"
        assert "payment_reference-sample" in payout["body"]

    async def test_profile_update_changes_the_locale_of_later_entries_without_an_entry_of_its_own(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], talent_id: str
    ) -> None:
        await driver.inbox(event_of(TalentRegistered, talent_id=talent_id, locale="zh-CN"))
        await driver.inbox(event_of(TalentProfileUpdated, talent_id=talent_id, locale="en"))
        await driver.inbox(event_of(TalentPointsChanged, talent_id=talent_id, points=55, previous_points=None))
        items = (await client.get("/api/v1/me/inbox", headers=talent)).json()["items"]
        assert [i["title"] for i in items] == ["Your talent points are now 55", "欢迎使用人才码"]

    async def test_round_events_are_not_per_person_and_reach_no_inbox(
        self, driver: Any, event_of: Any, talent_id: str
    ) -> None:
        assert RoundOpened.type not in driver.consumer("inbox").handlers

    async def test_another_talents_inbox_is_not_visible(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent_id: str, test_keys: TestKeys
    ) -> None:
        await driver.inbox(event_of(TalentRegistered, talent_id=talent_id))
        stranger = test_keys.headers("someone-else", ["talent"])
        assert (await client.get("/api/v1/me/inbox", headers=stranger)).json()["items"] == []


class TestReadingTheInbox:
    async def test_pages_newest_first_with_a_cursor(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], talent_id: str
    ) -> None:
        for _ in range(5):
            await driver.inbox(event_of(TalentRegistered, talent_id=talent_id))
        first = (await client.get("/api/v1/me/inbox?limit=2", headers=talent)).json()
        assert len(first["items"]) == 2 and first["next_cursor"]
        seen = [i["id"] for i in first["items"]]
        cursor = first["next_cursor"]
        while cursor:
            page = (await client.get(f"/api/v1/me/inbox?limit=2&cursor={cursor}", headers=talent)).json()
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
        assert len(seen) == 5 == len(set(seen))
        times = [i["created_at"] for i in (await client.get("/api/v1/me/inbox", headers=talent)).json()["items"]]
        assert times == sorted(times, reverse=True)

    async def test_filters_by_category(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], talent_id: str
    ) -> None:
        await driver.inbox(event_of(TalentRegistered, talent_id=talent_id))
        await driver.inbox(event_of(OfferMade, talent_id=talent_id))
        await driver.inbox(event_of(ClaimEscalated, talent_id=talent_id))
        offers = (await client.get("/api/v1/me/inbox?category=offers", headers=talent)).json()["items"]
        assert [i["event_type"] for i in offers] == [OfferMade.type]
        escalations = (await client.get("/api/v1/me/inbox?category=escalations", headers=talent)).json()["items"]
        assert [i["event_type"] for i in escalations] == [ClaimEscalated.type]

    async def test_unknown_category_is_422_naming_the_known_ones(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        response = await client.get("/api/v1/me/inbox?category=lottery", headers=talent)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["field"] == "category"
        assert "offers" in response.json()["detail"]

    async def test_mark_read_sets_read_at_and_filters_unread(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], talent_id: str
    ) -> None:
        await driver.inbox(event_of(TalentRegistered, talent_id=talent_id))
        [item] = (await client.get("/api/v1/me/inbox", headers=talent)).json()["items"]
        response = await client.post(f"/api/v1/me/inbox/{item['id']}/read", headers=talent)
        assert response.status_code == 200 and response.json()["read_at"]
        assert (await client.get("/api/v1/me/inbox?unread=true", headers=talent)).json()["items"] == []

    async def test_marking_someone_elses_notification_is_404(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], test_keys: TestKeys
    ) -> None:
        await driver.inbox(event_of(TalentRegistered, talent_id="owner-1"))
        owner = test_keys.headers("owner-1", ["talent"])
        [item] = (await client.get("/api/v1/me/inbox", headers=owner)).json()["items"]
        assert (await client.post(f"/api/v1/me/inbox/{item['id']}/read", headers=talent)).status_code == 404

    async def test_bad_cursor_and_limit_are_422(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        assert (await client.get("/api/v1/me/inbox?cursor=%%%", headers=talent)).status_code == 422
        assert (await client.get("/api/v1/me/inbox?limit=500", headers=talent)).status_code == 422

    async def test_the_inbox_needs_a_talent_token(self, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
        assert (await client.get("/api/v1/me/inbox")).status_code == 401
        partner = test_keys.headers("p", ["partner"], partner_kind="hospital")
        assert (await client.get("/api/v1/me/inbox", headers=partner)).status_code == 403
