"""Reminders before deadlines (data in catalogue.json): an offer about to lapse, a certification about to expire."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from contracts import OfferAccepted, OfferMade, TalentCertified, TalentRevoked
from servicekit.timers import ScheduledTimer
from sqlmodel import select

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)


async def inbox_titles(client: httpx.AsyncClient, talent: dict[str, str], category: str) -> list[str]:
    items = (await client.get(f"/api/v1/me/inbox?category={category}", headers=talent)).json()["items"]
    return [i["title"] for i in items]


async def timer_states(driver: Any, kind: str) -> list[str]:
    async with driver.database.sessionmaker() as session:
        return [t.status for t in (await session.exec(select(ScheduledTimer).where(ScheduledTimer.kind == kind))).all()]


class TestOfferReminder:
    async def test_an_unanswered_offer_is_reminded_twelve_hours_before_it_lapses(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], talent_id: str
    ) -> None:
        driver.at(NOW)
        expires = NOW + timedelta(hours=72)
        await driver.inbox(event_of(OfferMade, talent_id=talent_id, offer_id="o-1", expires_at=expires))
        driver.at(expires - timedelta(hours=12, minutes=1))
        assert await driver.fire_timers() == 0
        driver.at(expires - timedelta(hours=12))
        assert await driver.fire_timers() == 1
        [reminder] = await inbox_titles(client, talent, "deadlines")
        assert reminder.startswith("提醒：人才公寓房源将于")

    async def test_an_answered_offer_is_not_reminded(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], talent_id: str
    ) -> None:
        driver.at(NOW)
        await driver.inbox(
            event_of(OfferMade, talent_id=talent_id, offer_id="o-2", expires_at=NOW + timedelta(hours=72))
        )
        await driver.inbox(event_of(OfferAccepted, talent_id=talent_id, offer_id="o-2"))
        assert await timer_states(driver, "notify.reminder.offer_expiring") == ["cancelled"]
        driver.at(NOW + timedelta(hours=71))
        assert await driver.fire_timers() == 0
        assert await inbox_titles(client, talent, "deadlines") == []


class TestCertificationReminder:
    async def test_expiry_is_reminded_thirty_days_ahead_and_revocation_cancels_it(
        self, driver: Any, event_of: Any, talent_id: str
    ) -> None:
        driver.at(NOW)
        await driver.inbox(event_of(TalentCertified, talent_id=talent_id, certified_until=date(2030, 3, 1)))
        async with driver.database.sessionmaker() as session:
            [timer] = (await session.exec(select(ScheduledTimer))).all()
        # 2030-03-01 00:00 in Shanghai is 2030-02-28 16:00 UTC; thirty days before that.
        assert timer.due_at == datetime(2030, 2, 28, 16, tzinfo=UTC) - timedelta(days=30)
        await driver.inbox(event_of(TalentRevoked, talent_id=talent_id))
        assert await timer_states(driver, "notify.reminder.certification_expiring") == ["cancelled"]
