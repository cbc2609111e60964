"""Preferences: channels per category (critical ones locked on), locale, quiet hours; bad input is a clear 422."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from contracts import TalentPointsChanged, TalentRegistered

URL = "/api/v1/me/notification-preferences"


class TestReadingPreferences:
    async def test_defaults_come_from_the_catalogue(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        response = await client.get(URL, headers=talent)
        assert response.status_code == 200
        body = response.json()
        assert body["locale"] == "zh-CN" and body["time_zone"] == "Asia/Shanghai"
        assert body["channels"]["points"] == ["in_app"]
        assert body["channels"]["offers"] == ["in_app", "sms", "email"]
        assert set(body["critical_categories"]) == {"offers", "deadlines", "escalations"}
        assert body["quiet_hours"] == {"start": "22:00", "end": "08:00"}


class TestChangingPreferences:
    async def test_a_category_can_drop_email_and_sms(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        response = await client.put(URL, json={"channels": {"benefits": ["in_app"]}}, headers=talent)
        assert response.status_code == 200
        assert response.json()["channels"]["benefits"] == ["in_app"]
        assert (await client.get(URL, headers=talent)).json()["channels"]["certification"] == [
            "in_app",
            "email",
            "sms",
        ]

    async def test_switching_off_a_critical_categorys_sms_is_422(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        response = await client.put(URL, json={"channels": {"offers": ["in_app", "email"]}}, headers=talent)
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {"field": "channels.offers", "message": response.json()["errors"][0]["message"]}
        ]
        assert "critical" in response.json()["detail"] and "sms" in response.json()["detail"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"channels": {"benefits": ["email"]}}, "channels.benefits"),
            ({"channels": {"lottery": ["in_app"]}}, "channels.lottery"),
            ({"channels": {"benefits": ["in_app", "pigeon"]}}, "channels.benefits.1"),
            ({"quiet_hours": {"start": "25:00", "end": "08:00"}}, "quiet_hours.start"),
            ({"quiet_hours": {"start": "08:00", "end": "08:00"}}, "quiet_hours"),
            ({"locale": "fr"}, "locale"),
            ({"colour": "blue"}, "colour"),
        ],
    )
    async def test_bad_input_is_422_naming_the_field(
        self, client: httpx.AsyncClient, talent: dict[str, str], body: dict[str, Any], field: str
    ) -> None:
        response = await client.put(URL, json=body, headers=talent)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in response.json()["errors"]]

    async def test_quiet_hours_can_be_moved_and_switched_off(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        moved = await client.put(URL, json={"quiet_hours": {"start": "23:30", "end": "06:45"}}, headers=talent)
        assert moved.json()["quiet_hours"] == {"start": "23:30", "end": "06:45"}
        off = await client.put(URL, json={"quiet_hours": None}, headers=talent)
        assert off.json()["quiet_hours"] is None
        unchanged = await client.put(URL, json={"locale": "en"}, headers=talent)
        assert unchanged.json()["quiet_hours"] is None and unchanged.json()["locale"] == "en"

    async def test_the_chosen_locale_wins_over_the_profiles(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], talent_id: str
    ) -> None:
        await driver.inbox(event_of(TalentRegistered, talent_id=talent_id, locale="zh-CN"))
        await client.put(URL, json={"locale": "en"}, headers=talent)
        await driver.inbox(event_of(TalentPointsChanged, talent_id=talent_id, points=61))
        [latest, _] = (await client.get("/api/v1/me/inbox", headers=talent)).json()["items"]
        assert latest["title"] == "Your talent points are now 61"

    async def test_preferences_are_a_talents_own(self, client: httpx.AsyncClient) -> None:
        assert (await client.put(URL, json={"locale": "en"})).status_code == 401
