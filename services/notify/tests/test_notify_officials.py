"""The officials' inbox (notify.officials): escalations of the cases an official owns, cases nearing their
deadline, and a daily digest of their queue, all from events; their own inbox, not the talents'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from contracts import (
    CertificationEscalated,
    CertificationOfficerAssigned,
    ClaimDecided,
    ClaimEscalated,
    ClaimOfficerAssigned,
)
from servicekit.testing import TestKeys

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in the city
INBOX = "/api/v1/officials/inbox"


async def apply(driver: Any, event: Any) -> None:
    consumer = driver.consumer("officials")
    await consumer.apply(event, consumer.handlers[event.type])


def wang(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers("off-wang", ["county_reviewer"], region="330402")


async def titles(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    response = await client.get(INBOX, headers=headers)
    assert response.status_code == 200, response.text
    return [i["title"] for i in response.json()["items"]]


async def digests(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    return [t for t in await titles(client, headers) if t.startswith("待办汇总")]


class TestOfficialsInbox:
    async def test_an_escalation_reaches_the_owning_officials_inbox_once_and_not_a_talents(
        self,
        client: httpx.AsyncClient,
        driver: Any,
        event_of: Any,
        test_keys: TestKeys,
        talent: dict[str, str],
        talent_id: str,
    ) -> None:
        driver.at(NOW)
        event = event_of(ClaimEscalated, talent_id=talent_id, claim_id="c-12345678", officer_id="off-wang")
        await apply(driver, event)
        await apply(driver, event)  # redelivered
        assert await titles(client, wang(test_keys)) == ["申领已超期：c-123456"]
        assert (await client.get("/api/v1/me/inbox", headers=talent)).json()["items"] == []
        other = test_keys.headers("off-li", ["county_reviewer"], region="330402")
        assert await titles(client, other) == []

    async def test_an_escalation_of_an_unowned_case_goes_to_nobody(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, test_keys: TestKeys, talent_id: str
    ) -> None:
        await apply(driver, event_of(CertificationEscalated, talent_id=talent_id, officer_id=None))
        assert await titles(client, wang(test_keys)) == []

    async def test_a_case_nearing_its_deadline_is_told_a_day_before_unless_decided(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, test_keys: TestKeys, talent_id: str
    ) -> None:
        driver.at(NOW)
        due = NOW + timedelta(days=5)
        for claim_id in ("c-near", "c-done"):
            await apply(
                driver,
                event_of(
                    ClaimOfficerAssigned,
                    talent_id=talent_id,
                    claim_id=claim_id,
                    officer_id="off-wang",
                    status="accepted",
                    stage_due_at=due,
                ),
            )
        # One of them is decided and leaves review: nobody is warned about it.
        await apply(
            driver, event_of(ClaimDecided, talent_id=talent_id, claim_id="c-done", status="rejected", stage="county")
        )
        driver.at(due - timedelta(days=1, seconds=1))
        await driver.fire_timers()
        assert not [t for t in await titles(client, wang(test_keys)) if "即将到期" in t]
        driver.at(due - timedelta(days=1))
        await driver.fire_timers()
        assert [t for t in await titles(client, wang(test_keys)) if "即将到期" in t] == ["申领即将到期：c-near"]

    async def test_the_daily_digest_counts_each_officials_waiting_cases_and_comes_again_next_day(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, test_keys: TestKeys, talent_id: str
    ) -> None:
        driver.at(NOW)
        await apply(
            driver,
            event_of(
                ClaimOfficerAssigned,
                talent_id=talent_id,
                claim_id="c-1",
                officer_id="off-wang",
                status="accepted",
                stage_due_at=None,
            ),
        )
        await apply(
            driver,
            event_of(
                CertificationOfficerAssigned,
                talent_id=talent_id,
                certification_id="t-1",
                officer_id="off-wang",
                status="submitted",
                stage_due_at=NOW - timedelta(hours=1),
            ),
        )
        next_morning = datetime(2027, 3, 2, 0, 0, tzinfo=UTC)  # 08:00 in the city
        driver.at(next_morning - timedelta(seconds=1))
        await driver.fire_timers()
        assert await digests(client, wang(test_keys)) == []
        driver.at(next_morning)
        await driver.fire_timers()
        [digest] = [
            i for i in (await client.get(INBOX, headers=wang(test_keys))).json()["items"] if "汇总" in i["title"]
        ]
        assert digest["title"] == "待办汇总 2027-03-02" and digest["category"] == "casework"
        assert "申领 1 件，人才认定 1 件，其中 1 件已超期" in digest["body"]
        driver.at(next_morning + timedelta(days=1))
        await driver.fire_timers()
        assert await digests(client, wang(test_keys)) == ["待办汇总 2027-03-03", "待办汇总 2027-03-02"]

    async def test_an_official_marks_a_message_read_and_a_talent_may_not_read_the_officials_inbox(
        self,
        client: httpx.AsyncClient,
        driver: Any,
        event_of: Any,
        test_keys: TestKeys,
        talent: dict[str, str],
        talent_id: str,
    ) -> None:
        await apply(driver, event_of(ClaimEscalated, talent_id=talent_id, claim_id="c-1", officer_id="off-wang"))
        [item] = (await client.get(INBOX, headers=wang(test_keys))).json()["items"]
        read = await client.post(f"{INBOX}/{item['id']}/read", headers=wang(test_keys))
        assert read.status_code == 200 and read.json()["read_at"] is not None
        assert (await client.get(f"{INBOX}?unread=true", headers=wang(test_keys))).json()["items"] == []
        assert (await client.get(INBOX, headers=talent)).status_code == 403
        other = test_keys.headers("off-li", ["city_approver"])
        assert (await client.post(f"{INBOX}/{item['id']}/read", headers=other)).status_code == 404

    async def test_officials_texts_render_in_both_locales(self, sample: Any) -> None:
        from notify import templates

        context: dict[str, Any] = {
            "case_type": "claim",
            "case_id": "c-12345678",
            "stage": "county",
            "status": "accepted",
            "due_at": NOW,
            "day": "2027-03-02",
            "claim": 1,
            "certification": 0,
            "overdue": 0,
        }
        for name in ("official.escalated", "official.deadline_near", "official.digest"):
            for locale in templates.LOCALES:
                assert templates.render(name, locale, context).title
