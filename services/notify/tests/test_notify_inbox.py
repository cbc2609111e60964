"""The inbox: one entry per (event, recipient) whatever the redeliveries, newest first, read/unread."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from contracts import CloudEvent, TalentRegistered, make_event
from fastapi import FastAPI
from notify.handlers import INBOX_HANDLERS
from notify.models import Notification
from servicekit.consumer import EventConsumer
from servicekit.testing import TestKeys
from sqlmodel import select


def registered(talent_id: str, locale: str = "zh-CN") -> CloudEvent:
    data = TalentRegistered(
        talent_id=talent_id, pseudonym="tp_x", region_code="330402", locale=locale, registered_at=datetime.now(UTC)
    )
    return make_event(data, source="applicant", subject=talent_id)


def consumer_of(app: FastAPI) -> EventConsumer:
    runtime = app.state.runtime
    return EventConsumer(
        runtime.database,
        runtime.publisher,
        bootstrap_servers=runtime.settings.kafka_bootstrap_servers,
        group_id="notify.inbox",
        handlers=INBOX_HANDLERS,
    )


async def apply(app: FastAPI, event: CloudEvent) -> bool:
    consumer = consumer_of(app)
    return await consumer.apply(event, consumer.handlers[event.type])


class TestInboxFromEvents:
    async def test_registration_becomes_one_inbox_entry_in_the_talents_locale(
        self, client: httpx.AsyncClient, notify_app: FastAPI, talent: dict[str, str], talent_id: str
    ) -> None:
        assert await apply(notify_app, registered(talent_id, locale="en"))
        response = await client.get("/api/v1/me/inbox", headers=talent)
        assert response.status_code == 200
        [item] = response.json()["items"]
        assert item["title"] == "Welcome to the Talent Code"
        assert item["read_at"] is None and item["category"] == "account"

    async def test_redelivered_event_gives_one_entry(
        self, client: httpx.AsyncClient, notify_app: FastAPI, talent: dict[str, str], talent_id: str
    ) -> None:
        event = registered(talent_id)
        assert await apply(notify_app, event) is True
        assert await apply(notify_app, event) is False
        async with notify_app.state.database.sessionmaker() as session:
            rows = (await session.exec(select(Notification))).all()
        assert len(rows) == 1
        assert rows[0].title == "欢迎使用人才码"

    async def test_another_talents_inbox_is_not_visible(
        self, client: httpx.AsyncClient, notify_app: FastAPI, talent_id: str, test_keys: TestKeys
    ) -> None:
        await apply(notify_app, registered(talent_id))
        stranger = test_keys.headers("someone-else", ["talent"])
        assert (await client.get("/api/v1/me/inbox", headers=stranger)).json()["items"] == []


class TestReadingTheInbox:
    async def test_pages_newest_first_with_a_cursor(
        self, client: httpx.AsyncClient, notify_app: FastAPI, talent: dict[str, str], talent_id: str
    ) -> None:
        events = [registered(talent_id) for _ in range(5)]
        for event in events:
            await apply(notify_app, event)
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

    async def test_mark_read_sets_read_at_and_filters_unread(
        self, client: httpx.AsyncClient, notify_app: FastAPI, talent: dict[str, str], talent_id: str
    ) -> None:
        await apply(notify_app, registered(talent_id))
        [item] = (await client.get("/api/v1/me/inbox", headers=talent)).json()["items"]
        response = await client.post(f"/api/v1/me/inbox/{item['id']}/read", headers=talent)
        assert response.status_code == 200 and response.json()["read_at"]
        assert (await client.get("/api/v1/me/inbox?unread=true", headers=talent)).json()["items"] == []

    async def test_marking_someone_elses_notification_is_404(
        self, client: httpx.AsyncClient, notify_app: FastAPI, talent_id: str, test_keys: TestKeys
    ) -> None:
        await apply(notify_app, registered(talent_id))
        owner = test_keys.headers(talent_id, ["talent"])
        [item] = (await client.get("/api/v1/me/inbox", headers=owner)).json()["items"]
        stranger = test_keys.headers("someone-else", ["talent"])
        assert (await client.post(f"/api/v1/me/inbox/{item['id']}/read", headers=stranger)).status_code == 404

    async def test_bad_cursor_and_limit_are_422(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        assert (await client.get("/api/v1/me/inbox?cursor=%%%", headers=talent)).status_code == 422
        assert (await client.get("/api/v1/me/inbox?limit=500", headers=talent)).status_code == 422
