"""Signing keys: the JWKS, rotation with the old key still published, sealed storage, the talent-code key set."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from gateway.cli import main
from gateway.crypto import SealError
from gateway.keys import rotate_signing_keys
from jose import jwt
from servicekit.testing import TestKeys


async def rotate(gateway: Any, retire_after: timedelta = timedelta(hours=1)) -> str:
    runtime = gateway.runtime
    async with runtime.database.transaction() as session:
        key = await rotate_signing_keys(session, runtime.key_sealer, retire_after)
    await runtime.reload_keys()
    return str(key.kid)


class TestJwks:
    async def test_it_lists_public_es256_signing_keys_only(self, gateway: Any) -> None:
        response = await gateway.client.get("/.well-known/jwks.json")
        assert response.status_code == 200
        keys = response.json()["keys"]
        assert len(keys) == 1
        key = keys[0]
        assert key["kty"] == "EC" and key["crv"] == "P-256"
        assert key["use"] == "sig" and key["alg"] == "ES256" and key["kid"]
        assert {"x", "y"} <= key.keys()
        assert "d" not in key

    async def test_the_private_key_is_stored_sealed(self, gateway: Any) -> None:
        rows = await gateway.sql("SELECT private_key_sealed FROM gw_signing_key")
        assert rows and all("PRIVATE KEY" not in r.private_key_sealed for r in rows)

    async def test_a_restart_keeps_the_same_key(self, gateway: Any, start_gateway: Any) -> None:
        before = gateway.runtime.keyring.kids
        again = await start_gateway()
        assert again.runtime.keyring.kids == before

    async def test_a_wrong_key_encryption_key_stops_start_up(self, gateway: Any, start_gateway: Any) -> None:
        with pytest.raises(SealError):
            await start_gateway(key_encryption_key="another-key-encryption-key")


class TestRotation:
    async def test_rotation_adds_a_key_and_keeps_the_old_one_published(self, gateway: Any) -> None:
        old_token = (await gateway.official("admin"))["access_token"]
        old_kid = jwt.get_unverified_header(old_token)["kid"]
        new_kid = await rotate(gateway)
        kids = [k["kid"] for k in (await gateway.client.get("/.well-known/jwks.json")).json()["keys"]]
        assert kids == [new_kid, old_kid]
        new_token = (await gateway.official("admin"))["access_token"]
        assert jwt.get_unverified_header(new_token)["kid"] == new_kid
        # Tokens signed with either key are accepted while both are published.
        for token in (old_token, new_token):
            response = await gateway.client.get("/api/v1/admin/talents", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200

    async def test_a_retired_key_is_no_longer_published_or_accepted(self, gateway: Any) -> None:
        old_token = (await gateway.official("admin"))["access_token"]
        old_kid = jwt.get_unverified_header(old_token)["kid"]
        headers = {"Authorization": f"Bearer {old_token}"}
        assert (await gateway.client.get("/api/v1/admin/talents", headers=headers)).status_code == 200
        await rotate(gateway, retire_after=timedelta(0))
        kids = [k["kid"] for k in (await gateway.client.get("/.well-known/jwks.json")).json()["keys"]]
        assert old_kid not in kids and len(kids) == 1
        response = await gateway.client.get("/api/v1/admin/talents", headers={"Authorization": f"Bearer {old_token}"})
        assert response.status_code == 401

    async def test_a_rotation_by_another_process_is_picked_up_without_a_restart(self, start_gateway: Any) -> None:
        gw = await start_gateway(signing_key_reload_interval_s=0.05)
        async with gw.runtime.database.transaction() as session:  # as `gateway rotate-keys` would
            key = await rotate_signing_keys(session, gw.runtime.key_sealer, timedelta(hours=1))
        for _ in range(100):
            if key.kid in gw.runtime.keyring.kids:
                break
            await asyncio.sleep(0.02)
        assert gw.runtime.keyring.active.kid == key.kid

    def test_the_cli_rotates_keys(
        self, gateway_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.setenv("TALENT_ENV", "dev")
        monkeypatch.setenv("GATEWAY_DATABASE_URL", gateway_database_url)
        main(["rotate-keys"])
        main(["rotate-keys"])
        out = capsys.readouterr().out
        assert out.count("new signing key gw-") == 2


class TestTalentCodeKeys:
    async def test_the_applicant_code_keys_have_their_own_key_set_as_plain_signature_keys(
        self, gateway: Any, upstream: Any
    ) -> None:
        code_key = {**TestKeys(kid="code-2026-1").public_jwk, "x-talent-use": "talent-code", "d": "leaked"}
        upstream.state["code_keys"] = [code_key]
        try:
            response = await gateway.client.get("/.well-known/talent-code/jwks.json")
            access = (await gateway.client.get("/.well-known/jwks.json")).json()["keys"]
        finally:
            upstream.state.pop("code_keys")
        assert response.status_code == 200
        assert response.headers["cache-control"] == "public, max-age=60"
        [key] = response.json()["keys"]
        assert key["kid"] == "code-2026-1" and key["use"] == "sig" and key["alg"] == "ES256"
        assert "d" not in key and "x-talent-use" not in key, "only the public RFC 7517 members are republished"
        assert [k["kid"] for k in access] == gateway.runtime.keyring.kids, "the access-token set holds no code key"

    async def test_a_code_key_never_verifies_an_access_token(self, gateway: Any, upstream: Any) -> None:
        forger = TestKeys(kid="code-forged")
        upstream.state["code_keys"] = [forger.public_jwk]
        try:
            await gateway.client.get("/.well-known/talent-code/jwks.json")
            headers = forger.headers("someone", ["admin"])
            response = await gateway.client.get("/api/v1/admin/talents", headers=headers)
        finally:
            upstream.state.pop("code_keys")
        assert response.status_code == 401

    async def test_without_the_applicant_the_code_key_set_is_empty_and_access_keys_still_served(
        self, start_gateway: Any, dead_url: str
    ) -> None:
        gw = await start_gateway(applicant_url=dead_url)
        assert (await gw.client.get("/.well-known/talent-code/jwks.json")).json() == {"keys": []}
        keys = (await gw.client.get("/.well-known/jwks.json")).json()["keys"]
        assert [k["use"] for k in keys] == ["sig"]
