"""Housing test fixtures: the kit's testbed (a fresh migrated database per test, the app on the test broker, a
client) and the scenario helpers."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from contracts import CloudEvent, EventData, TalentCertified, TalentRegistered, make_event
from fastapi import FastAPI
from housing.config import HousingSettings
from housing.handlers import READ_MODEL_HANDLERS
from housing.main import build_app
from servicekit.consumer import EventConsumer
from servicekit.testing import TestKeys
from servicekit.testing_fixtures import ServiceTestbed

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
TESTBED = ServiceTestbed("housing", HousingSettings, build_app, ALEMBIC_INI)
housing_databases, housing_settings, housing_app, client, settings_overrides = TESTBED.fixtures()


@pytest.fixture
def officer(test_keys: TestKeys) -> dict[str, str]:
    return test_keys.headers("housing.city", ["housing_officer"])


class Platform:
    """Drives a test scenario: events into the read model, officers and talents through the API."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient, keys: TestKeys, officer: dict[str, str]) -> None:
        self.app = app
        self.client = client
        self.keys = keys
        self.officer = officer
        runtime = app.state.runtime
        self.consumer = EventConsumer(
            runtime.database,
            runtime.publisher,
            bootstrap_servers=runtime.settings.kafka_bootstrap_servers,
            group_id="housing.talents",
            handlers=READ_MODEL_HANDLERS,
        )

    async def deliver(self, data: EventData, *, subject: str, time: datetime | None = None) -> CloudEvent:
        event = make_event(data, source="applicant", subject=subject)
        if time is not None:
            event = event.model_copy(update={"time": time})
        await self.consumer.apply(event, self.consumer.handlers[event.type])
        return event

    async def talent(
        self,
        tier: str = "C",
        points: int = 60,
        *,
        works_in_city: bool = True,
        owns_home_in_city: bool = False,
        certified: bool = True,
    ) -> tuple[str, dict[str, str]]:
        """A talent known to housing through the applicant's events; returns (id, auth headers)."""
        talent_id = str(uuid.uuid4())
        await self.deliver(
            TalentRegistered(
                talent_id=talent_id,
                pseudonym=f"tp_{talent_id[:8]}",
                region_code="330402",
                locale="zh-CN",
                registered_at=datetime.now(UTC),
                works_in_city=works_in_city,
                owns_home_in_city=owns_home_in_city,
            ),
            subject=talent_id,
        )
        if certified:
            await self.deliver(
                TalentCertified(
                    talent_id=talent_id,
                    pseudonym=f"tp_{talent_id[:8]}",
                    tier=tier,  # type: ignore[arg-type]
                    points=points,
                    certified_until=date.today() + timedelta(days=3 * 365),
                    region_code="330402",
                ),
                subject=talent_id,
            )
        return talent_id, self.keys.headers(talent_id, ["talent"])

    async def project(self, name: str = "秀湖人才公寓") -> str:
        body = {"name": name, "region_code": "330402", "supply_model": "government", "address": "嘉兴市南湖区 1 号"}
        response = await self.client.post("/api/v1/housing/projects", json=body, headers=self.officer)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def units(self, project_id: str, *specs: tuple[str, str, int]) -> list[str]:
        """specs: (number, unit_type, monthly_rent_fen)."""
        body = {"units": [{"number": n, "unit_type": t, "area_m2": 45.5, "monthly_rent_fen": r} for n, t, r in specs]}
        url = f"/api/v1/housing/projects/{project_id}/units"
        response = await self.client.post(url, json=body, headers=self.officer)
        assert response.status_code == 201, response.text
        return [u["id"] for u in response.json()["items"]]

    async def round(self, unit_ids: list[str], **extra: Any) -> str:
        body = {
            "name": "2026 第一批",
            "unit_ids": unit_ids,
            "closes_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
            **extra,
        }
        response = await self.client.post("/api/v1/housing/rounds", json=body, headers=self.officer)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    async def apply(self, round_id: str, talent: dict[str, str], **body: Any) -> httpx.Response:
        payload = {"preferred_project_ids": [], "household_size": 1, **body}
        return await self.client.post(f"/api/v1/housing/rounds/{round_id}/applications", json=payload, headers=talent)

    async def close_and_draw(self, round_id: str) -> dict[str, Any]:
        closed = await self.client.post(f"/api/v1/housing/rounds/{round_id}/close", headers=self.officer)
        assert closed.status_code == 200, closed.text
        drawn = await self.client.post(f"/api/v1/housing/rounds/{round_id}/draw", headers=self.officer)
        assert drawn.status_code == 200, drawn.text
        body: dict[str, Any] = drawn.json()
        return body

    async def mine(self, talent: dict[str, str]) -> dict[str, Any]:
        response = await self.client.get("/api/v1/me/housing", headers=talent)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def open_offer(self, talent: dict[str, str]) -> dict[str, Any] | None:
        return next((o for o in (await self.mine(talent))["offers"] if o["status"] == "open"), None)


@pytest.fixture
def platform(housing_app: FastAPI, client: httpx.AsyncClient, test_keys: TestKeys, officer: dict[str, str]) -> Platform:
    return Platform(housing_app, client, test_keys, officer)
