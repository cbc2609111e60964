"""PUT/GET /api/v1/me/profile: validation, protection of the identity number, and the registered event."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from applicant.config import ApplicantSettings
from applicant.models import TalentProfile
from fastapi import FastAPI
from servicekit.models import OutboxEvent
from servicekit.testing import TestKeys
from sqlmodel import select

from .conftest import profile_body, resident_id


async def _rows(app: FastAPI, model: Any) -> list[Any]:
    async with app.state.database.sessionmaker() as session:
        return list((await session.exec(select(model))).all())


class TestPutProfile:
    async def test_first_profile_registers_the_talent_and_masks_the_id(
        self, client: httpx.AsyncClient, talent: dict[str, str], applicant_app: FastAPI
    ) -> None:
        response = await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id_number_masked"] == "330402********" + resident_id()[-4:]
        assert "id_number" not in body

        events = await _rows(applicant_app, OutboxEvent)
        assert [e.event_type for e in events] == ["talent.applicant.talent.registered.v1"]
        payload = json.loads(events[0].payload)
        assert payload["subject"] == body["talent_id"]
        assert payload["data"]["works_in_city"] is True
        # No personal data in the event: no name, no identity number, no phone.
        assert "张三" not in events[0].payload and resident_id() not in events[0].payload

    async def test_identity_number_is_stored_encrypted(
        self, client: httpx.AsyncClient, talent: dict[str, str], applicant_app: FastAPI
    ) -> None:
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        [profile] = await _rows(applicant_app, TalentProfile)
        assert resident_id() not in profile.id_number_ciphertext
        assert profile.id_number_ciphertext.startswith("v1:")
        assert app_cipher(applicant_app).decrypt(profile.id_number_ciphertext) == resident_id()

    async def test_second_put_updates_and_emits_profile_updated(
        self, client: httpx.AsyncClient, talent: dict[str, str], applicant_app: FastAPI
    ) -> None:
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        response = await client.put(
            "/api/v1/me/profile", json=profile_body(social_insurance_months=30, locale="en"), headers=talent
        )
        assert response.status_code == 200
        assert response.json()["social_insurance_months"] == 30
        types = [e.event_type for e in await _rows(applicant_app, OutboxEvent)]
        assert types == ["talent.applicant.talent.registered.v1", "talent.applicant.talent.profile_updated.v1"]

    async def test_identity_number_of_another_account_is_409(
        self, client: httpx.AsyncClient, talent: dict[str, str], test_keys: TestKeys
    ) -> None:
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        other = test_keys.headers(str(uuid.uuid4()), ["talent"])
        response = await client.put("/api/v1/me/profile", json=profile_body(), headers=other)
        assert response.status_code == 409
        assert response.headers["content-type"] == "application/problem+json"
        assert "already registered" in response.json()["detail"]

    async def test_wrong_check_digit_is_422_naming_the_field(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        number = resident_id()
        wrong = number[:17] + ("0" if number[17] != "0" else "1")
        response = await client.put("/api/v1/me/profile", json=profile_body(id_number=wrong), headers=talent)
        assert response.status_code == 422
        assert response.json()["errors"] == [
            {"field": "id_number", "message": "the check digit of the resident identity number is wrong"}
        ]

    async def test_birth_date_not_matching_the_number_is_422(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        response = await client.put("/api/v1/me/profile", json=profile_body(birth_date="1995-03-08"), headers=talent)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "id_number"

    async def test_unknown_region_is_422(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        response = await client.put("/api/v1/me/profile", json=profile_body(region_code="110105"), headers=talent)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "region_code"

    async def test_talent_cannot_set_tier_or_status(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        response = await client.put(
            "/api/v1/me/profile", json=profile_body(tier="A", status="certified"), headers=talent
        )
        assert response.status_code == 422
        fields = {e["field"] for e in response.json()["errors"]}
        assert fields == {"tier", "status"}

    async def test_wrong_types_are_422_not_500(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        response = await client.put(
            "/api/v1/me/profile", json=profile_body(social_insurance_months="many", education=[]), headers=talent
        )
        assert response.status_code == 422
        assert {e["field"] for e in response.json()["errors"]} == {"social_insurance_months", "education"}

    async def test_an_official_may_not_put_a_profile(self, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
        headers = test_keys.headers("official-1", ["county_reviewer"], region="330402")
        response = await client.put("/api/v1/me/profile", json=profile_body(), headers=headers)
        assert response.status_code == 403

    async def test_no_token_is_401(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/api/v1/me/profile")).status_code == 401


class TestGetProfile:
    async def test_before_any_profile_is_404_with_next_step(
        self, client: httpx.AsyncClient, talent: dict[str, str]
    ) -> None:
        response = await client.get("/api/v1/me/profile", headers=talent)
        assert response.status_code == 404
        assert "PUT /api/v1/me/profile" in response.json()["detail"]

    async def test_returns_the_masked_profile(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        response = await client.get("/api/v1/me/profile", headers=talent)
        assert response.status_code == 200
        assert response.json()["id_number_masked"].startswith("330402****")
        assert resident_id() not in response.text

    async def test_talent_status_starts_registered(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        await client.put("/api/v1/me/profile", json=profile_body(), headers=talent)
        response = await client.get("/api/v1/me/talent", headers=talent)
        assert response.json()["status"] == "registered"
        assert response.json()["tier"] is None


def app_cipher(app: FastAPI) -> Any:
    return app.state.protector.cipher


class TestSettings:
    def test_placeholder_secrets_are_refused_outside_dev(self) -> None:
        with pytest.raises(ValueError, match="placeholder secret"):
            ApplicantSettings(TALENT_ENV="production")
