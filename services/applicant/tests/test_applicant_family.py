"""Family members under /api/v1/me/family: validated, encrypted and masked like the talent's own identity."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from applicant.models import FamilyMember
from fastapi import FastAPI
from servicekit.testing import TestKeys
from sqlmodel import select

from .conftest import register, resident_id

CHILD_ID = resident_id(birth="20180601", sequence="456")


def member(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "relation": "child",
        "name": "张小三",
        "id_type": "resident_id",
        "id_number": CHILD_ID,
        "birth_date": "2018-06-01",
    }
    body.update(overrides)
    return body


class TestAddFamilyMember:
    async def test_child_is_201_with_the_number_masked_and_stored_encrypted(
        self, client: httpx.AsyncClient, talent: dict[str, str], applicant_app: FastAPI
    ) -> None:
        await register(client, talent)
        response = await client.post("/api/v1/me/family", json=member(), headers=talent)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["id_number_masked"] == "330402********" + CHILD_ID[-4:]
        assert CHILD_ID not in response.text
        async with applicant_app.state.database.sessionmaker() as session:
            [row] = (await session.exec(select(FamilyMember))).all()
        assert CHILD_ID not in row.id_number_ciphertext
        assert applicant_app.state.protector.cipher.decrypt(row.id_number_ciphertext) == CHILD_ID

    async def test_listed_and_removed(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        await register(client, talent)
        created = (await client.post("/api/v1/me/family", json=member(), headers=talent)).json()
        listing = (await client.get("/api/v1/me/family", headers=talent)).json()
        assert [m["id"] for m in listing["items"]] == [created["id"]]
        assert (await client.delete(f"/api/v1/me/family/{created['id']}", headers=talent)).status_code == 204
        assert (await client.get("/api/v1/me/family", headers=talent)).json()["items"] == []

    async def test_another_talents_member_cannot_be_removed(
        self, client: httpx.AsyncClient, talent: dict[str, str], test_keys: TestKeys
    ) -> None:
        await register(client, talent)
        created = (await client.post("/api/v1/me/family", json=member(), headers=talent)).json()
        other = test_keys.headers(str(uuid.uuid4()), ["talent"])
        assert (await client.delete(f"/api/v1/me/family/{created['id']}", headers=other)).status_code == 404

    async def test_wrong_check_digit_is_422(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        await register(client, talent)
        wrong = CHILD_ID[:17] + ("0" if CHILD_ID[17] != "0" else "1")
        response = await client.post("/api/v1/me/family", json=member(id_number=wrong), headers=talent)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "id_number"

    async def test_birth_date_must_match_the_number(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        await register(client, talent)
        response = await client.post("/api/v1/me/family", json=member(birth_date="2018-06-02"), headers=talent)
        assert response.status_code == 422

    async def test_own_identity_number_is_422(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        await register(client, talent)
        body = member(relation="spouse", id_number=resident_id(), birth_date="1995-03-07")
        response = await client.post("/api/v1/me/family", json=body, headers=talent)
        assert response.status_code == 422
        assert "your own" in response.json()["detail"]

    async def test_the_same_person_twice_is_409(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        await register(client, talent)
        await client.post("/api/v1/me/family", json=member(), headers=talent)
        response = await client.post("/api/v1/me/family", json=member(), headers=talent)
        assert response.status_code == 409

    async def test_a_second_spouse_is_409(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        await register(client, talent)
        first = member(
            relation="spouse", id_number=resident_id(birth="19960101", sequence="222"), birth_date="1996-01-01"
        )
        second = member(
            relation="spouse", id_number=resident_id(birth="19970101", sequence="222"), birth_date="1997-01-01"
        )
        assert (await client.post("/api/v1/me/family", json=first, headers=talent)).status_code == 201
        response = await client.post("/api/v1/me/family", json=second, headers=talent)
        assert response.status_code == 409
        assert "spouse" in response.json()["detail"]

    @pytest.mark.parametrize(("field", "value"), [("relation", "cousin"), ("id_type", "driving_licence"), ("name", "")])
    async def test_unknown_values_are_422(
        self, client: httpx.AsyncClient, talent: dict[str, str], field: str, value: str
    ) -> None:
        await register(client, talent)
        response = await client.post("/api/v1/me/family", json=member(**{field: value}), headers=talent)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field

    async def test_without_a_profile_is_409(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        assert (await client.post("/api/v1/me/family", json=member(), headers=talent)).status_code == 409
