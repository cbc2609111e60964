"""The revocation status list (IETF OAuth Token Status List): each talent's entry, carried in its codes; the signed
list with the bit set on revocation and cleared on reinstatement, padded, verifiable with joserfc; refreshed at
once after a change in this process; cacheable (ETag, max-age)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from applicant import status_list
from applicant.codes import PREFIX
from applicant.models import Talent
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet
from servicekit.testing import TestKeys
from sqlmodel import select

from .conftest import Officials, certify, resident_id

LIST = "/api/v1/codes/status-list"
MIN_BITS = 2_048


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"public_base_url": "https://talent.example.org", "status_list_min_bits": MIN_BITS}


def _payload(code: str) -> dict[str, Any]:
    segment = code[len(PREFIX) :].split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


async def _code(client: httpx.AsyncClient, talent: dict[str, str]) -> str:
    response = await client.get("/api/v1/me/code", headers=talent)
    assert response.status_code == 200, response.text
    code: str = response.json()["code"]
    return code


async def _list(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """The served token verified with joserfc against the talent-code JWKS: (header, claims, bitstring)."""
    response = await client.get(LIST)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/statuslist+jwt"
    keys = KeySet.import_key_set((await client.get("/internal/code-keys")).json())
    token = jwt.decode(response.text, keys, algorithms=["ES256"])
    return dict(token.header), dict(token.claims), status_list.decode(token.claims["status_list"]["lst"])


async def _revoke(client: httpx.AsyncClient, officials: Officials, talent_id: str) -> None:
    response = await client.post(
        f"/api/v1/admin/talents/{talent_id}/revoke", json={"reason": "失信"}, headers=officials.admin
    )
    assert response.status_code == 200, response.text


async def _reinstate(client: httpx.AsyncClient, officials: Officials, talent_id: str) -> None:
    response = await client.post(
        f"/api/v1/admin/talents/{talent_id}/reinstatement", json={"reason": "lifted"}, headers=officials.admin
    )
    assert response.status_code == 200, response.text


class TestCodesCarryTheirEntry:
    async def test_a_code_names_its_entry_and_the_public_list_url(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        status = _payload(await _code(client, talent))["status"]["status_list"]
        assert status["uri"] == "https://talent.example.org/api/v1/codes/status-list"
        assert isinstance(status["idx"], int) and 0 <= status["idx"] < MIN_BITS

    async def test_the_entry_is_the_same_in_every_code_of_a_talent_and_differs_between_talents(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, test_keys: TestKeys
    ) -> None:
        await certify(client, talent, officials)
        first = [_payload(await _code(client, talent))["status"]["status_list"]["idx"] for _ in range(3)]
        other = test_keys.headers("a0000000-0000-4000-8000-000000000002", ["talent"])
        await certify(client, other, officials, id_number=resident_id(sequence="124"))
        second = _payload(await _code(client, other))["status"]["status_list"]["idx"]
        assert len(set(first)) == 1 and second != first[0]

    async def test_a_code_without_an_entry_still_verifies(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        await certify(client, talent, officials)
        async with applicant_app.state.database.sessionmaker() as session:
            [row] = (await session.exec(select(Talent))).all()
        keyring = await applicant_app.state.code_keys.refresh_if_stale(applicant_app.state.database)
        older = keyring.issue(
            pseudonym=row.pseudonym, tier="E", city="330400", not_after=row.certified_at + timedelta(days=1)
        )
        assert "status" not in _payload(older.code)
        verify = await client.post(
            "/api/v1/codes/verify",
            json={"code": older.code, "scene": "hospital"},
            headers=officials.partner("hospital"),
        )
        assert verify.json()["valid"] is True


class TestTheSignedList:
    async def test_the_list_is_a_status_list_token_under_a_code_key(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        await certify(client, talent, officials)
        await _code(client, talent)
        header, claims, _ = await _list(client)
        kids = {key["kid"] for key in (await client.get("/internal/code-keys")).json()["keys"]}
        assert header["typ"] == "statuslist+jwt" and header["alg"] == "ES256" and header["kid"] in kids
        assert claims["sub"] == "https://talent.example.org/api/v1/codes/status-list"
        assert claims["ttl"] == 60 and claims["exp"] > claims["iat"]
        assert claims["status_list"]["bits"] == 1

    async def test_the_list_is_padded_to_its_minimum_size_and_all_clear_without_refusals(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        _, _, empty = await _list(client)
        assert len(empty) * 8 == MIN_BITS and not any(empty)
        await certify(client, talent, officials)
        await _code(client, talent)
        _, _, one = await _list(client)
        assert len(one) * 8 == MIN_BITS and not any(one)

    async def test_revocation_sets_the_bit_at_once_and_reinstatement_clears_it(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        certified = await certify(client, talent, officials)
        talent_id = certified["talent_id"]
        idx = _payload(await _code(client, talent))["status"]["status_list"]["idx"]
        _, _, before = await _list(client)  # cached now: the revocation must make it stale
        assert status_list.bit_at(before, idx) == 0

        await _revoke(client, officials, talent_id)
        _, _, revoked = await _list(client)
        assert status_list.bit_at(revoked, idx) == 1
        assert sum(bin(byte).count("1") for byte in revoked) == 1  # only this talent's bit

        await _reinstate(client, officials, talent_id)
        _, _, reinstated = await _list(client)
        assert status_list.bit_at(reinstated, idx) == 0
        code = await _code(client, talent)
        assert _payload(code)["status"]["status_list"]["idx"] == idx  # the entry survives the revocation

    async def test_a_certification_past_its_date_is_refused_in_the_list(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, applicant_app: FastAPI
    ) -> None:
        await certify(client, talent, officials)
        idx = _payload(await _code(client, talent))["status"]["status_list"]["idx"]
        async with applicant_app.state.database.transaction() as session:
            [row] = (await session.exec(select(Talent))).all()
            assert row.certified_until is not None
            row.certified_until -= timedelta(days=10 * 366)  # run out, the expiry timer not yet fired
            session.add(row)
        status_list.changes.bump()
        _, _, bits = await _list(client)
        assert status_list.bit_at(bits, idx) == 1


class TestServing:
    async def test_the_list_is_cacheable_and_answers_304_for_the_same_etag(self, client: httpx.AsyncClient) -> None:
        first = await client.get(LIST)
        assert first.headers["vary"] == "Accept"
        max_age = int(first.headers["cache-control"].removeprefix("public, max-age="))
        assert 0 <= max_age <= 60
        again = await client.get(LIST, headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304 and again.content == b""

    async def test_json_is_served_when_asked_for(self, client: httpx.AsyncClient) -> None:
        token = (await client.get(LIST)).text
        response = await client.get(LIST, headers={"Accept": "application/json"})
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        assert response.json() == {"status_list_token": token}
        assert response.headers["etag"] != (await client.get(LIST)).headers["etag"]

    async def test_the_list_needs_no_sign_in(self, client: httpx.AsyncClient) -> None:
        assert (await client.get(LIST, headers={"Authorization": ""})).status_code == 200


class TestEncoding:
    def test_bits_are_read_least_significant_first_as_the_draft_says(self) -> None:
        # The draft's example: statuses [1,0,0,1,1,1,0,1, 1,1,0,0,0,1,0,1] are the bytes 0xB9 0xA3.
        bits = bytes([0xB9, 0xA3])
        statuses = [status_list.bit_at(bits, i) for i in range(16)]
        assert statuses == [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
        assert status_list.decode(status_list.encode(bits)) == bits

    def test_the_size_doubles_to_keep_half_of_the_entries_free(self) -> None:
        assert status_list.list_size(0, 1_024) == 1_024
        assert status_list.list_size(512, 1_024) == 1_024
        assert status_list.list_size(513, 1_024) == 2_048
        assert status_list.list_size(5_000, 1_024) == 16_384
