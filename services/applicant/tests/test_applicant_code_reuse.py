"""GET /me/code is a read: it takes no write lock (after the talent's first code), and a code asked for again
moments later is the same code unless anything about the talent or the keys changed."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from .conftest import Officials, certify
from .test_applicant_reinstatement import reinstate, revoke


async def _code(client: httpx.AsyncClient, talent: dict[str, str]) -> dict[str, Any]:
    response = await client.get("/api/v1/me/code", headers=talent)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _valid(client: httpx.AsyncClient, officials: Officials, code: str) -> bool:
    response = await client.post(
        "/api/v1/codes/verify", json={"code": code, "scene": "hospital"}, headers=officials.partner("hospital")
    )
    assert response.status_code == 200, response.text
    return bool(response.json()["valid"])


class TestReuse:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"code_reuse_s": 30, "code_keys_reload_s": 3_600}

    async def test_a_code_asked_for_again_at_once_is_the_same_code(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials, tier="D")
        first = await _code(client, talent)
        assert await _code(client, talent) == first
        assert await _valid(client, officials, first["code"])

    async def test_a_revocation_ends_the_reuse_and_a_reinstatement_signs_anew(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials, tier="D")
        first = await _code(client, talent)
        talent_id = (await client.get("/api/v1/me/talent", headers=talent)).json()["talent_id"]
        await revoke(client, officials, talent_id)
        assert (await client.get("/api/v1/me/code", headers=talent)).status_code == 409
        assert not await _valid(client, officials, first["code"])
        assert (await reinstate(client, officials, talent_id)).status_code == 200
        again = await _code(client, talent)
        assert again["code"] != first["code"]
        assert await _valid(client, officials, again["code"])

    async def test_a_code_refresh_does_not_wait_for_a_writer(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        await certify(client, talent, officials, tier="D")
        await _code(client, talent)  # the first code allocates the talent's status-list entry (a write)
        talent_id = (await client.get("/api/v1/me/talent", headers=talent)).json()["talent_id"]
        applicant_app.state.code_keys.forget(talent_id)  # this refresh signs: the whole path runs beside the writer
        database = applicant_app.state.database
        async with database.transaction() as writer:
            connection = await writer.connection()
            await connection.exec_driver_sql("UPDATE talent SET points = points")  # holds the write lock (SQLite)
            response = await asyncio.wait_for(client.get("/api/v1/me/code", headers=talent), timeout=10)
        assert response.status_code == 200, response.text


class TestNoReuse:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"code_reuse_s": 0}

    async def test_every_code_is_signed_anew_when_reuse_is_off(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials, tier="D")
        assert (await _code(client, talent))["code"] != (await _code(client, talent))["code"]
