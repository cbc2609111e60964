"""Talent codes verify with off-the-shelf JWKS clients, exactly as a partner would use them: PyJWT's
`PyJWKClient`, joserfc and npm `jose` (vendored; skipped without node), pointed at the gateway's
`/.well-known/talent-code/jwks.json`, with no code of ours.

The whole platform runs as real processes; the talent is certified through the real endpoints, the code comes
from `GET /api/v1/me/code`, and the verifiers read nothing but the public key set. The two key sets never
cross: a code does not verify against the access-token keys, nor an access token against the code keys.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from joserfc import errors as jose_errors
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from jwt.utils import base64url_decode, base64url_encode
from servicekit.testing import eventually

from .stack import Stack
from .test_e2e_benefits import _certified_talent, _official

CODE_JWKS = "/.well-known/talent-code/jwks.json"
NODE_VERIFIER = Path(__file__).with_name("verify_talent_code.mjs")
ACCESS_JWKS = "/.well-known/jwks.json"


async def _fresh_code(gateway: httpx.AsyncClient, talent: dict[str, str]) -> str:
    issued = await gateway.get("/api/v1/me/code", headers=talent)
    assert issued.status_code == 200, issued.text
    code: str = issued.json()["code"]
    assert code.startswith("TC1:")
    return code.removeprefix("TC1:")


def _pyjwt_verify(url: str, token: str) -> dict[str, Any]:
    """What the README tells a partner to write (PyJWKClient fetches over HTTP: run it off the event loop)."""
    key = jwt.PyJWKClient(url).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["ES256"])
    return claims


async def _node_jose_verify(url: str, token: str) -> dict[str, Any]:
    """npm `jose` (vendored, run by node): createRemoteJWKSet + jwtVerify, as a JavaScript partner writes it."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    process = await asyncio.create_subprocess_exec(
        node, str(NODE_VERIFIER), url, token, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


def _joserfc_verify(document: dict[str, Any], token: str) -> dict[str, Any]:
    """A second, independent JOSE library: the key set imported as published, the key picked by kid."""
    decoded = jose_jwt.decode(token, KeySet.import_key_set(document), algorithms=["ES256"])
    jose_jwt.JWTClaimsRegistry(exp={"essential": True}, tier={"essential": True}).validate(decoded.claims)
    return dict(decoded.claims)


@pytest.fixture(scope="module")
async def certified(stack: Stack) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=10.0) as gateway:
        _, auth = await _certified_talent(gateway)
    return auth


class TestTalentCodeKeySetForStandardClients:
    async def test_the_key_set_holds_only_plain_es256_signature_keys(
        self, gateway: httpx.AsyncClient, certified: dict[str, str]
    ) -> None:
        kid = jwt.get_unverified_header(await _fresh_code(gateway, certified))["kid"]

        async def published() -> httpx.Response | None:
            response = await gateway.get(CODE_JWKS)
            return response if kid in {k["kid"] for k in response.json()["keys"]} else None

        # The applicant makes its first key when it first signs; the gateway rereads the set within its cache time.
        response = await eventually(published, timeout=30, what="the signing code key in the talent-code set")
        assert response.headers["cache-control"] == "public, max-age=60"
        keys = response.json()["keys"]
        for key in keys:
            assert (key["kty"], key["crv"], key["use"], key["alg"]) == ("EC", "P-256", "sig", "ES256")
            assert key["kid"].startswith("tc-") and "d" not in key
        access = (await gateway.get(ACCESS_JWKS)).json()["keys"]
        assert {k["kid"] for k in access}.isdisjoint({k["kid"] for k in keys})
        assert all(k["kid"].startswith("gw-") for k in access)

    async def test_pyjwt_pyjwkclient_verifies_a_real_code_offline(
        self, gateway: httpx.AsyncClient, stack: Stack, certified: dict[str, str]
    ) -> None:
        token = await _fresh_code(gateway, certified)
        header = jwt.get_unverified_header(token)
        assert header["alg"] == "ES256" and header["kid"].startswith("tc-") and header["typ"] == "TC1"
        claims = await asyncio.to_thread(_pyjwt_verify, stack.gateway_url + CODE_JWKS, token)
        assert claims["tier"] == "E" and claims["city"] == "330400" and claims["sub"].startswith("tp_")

    async def test_joserfc_verifies_the_same_code(self, gateway: httpx.AsyncClient, certified: dict[str, str]) -> None:
        token = await _fresh_code(gateway, certified)
        claims = _joserfc_verify((await gateway.get(CODE_JWKS)).json(), token)
        assert claims["tier"] == "E" and claims["sub"].startswith("tp_")

    async def test_a_tampered_code_is_refused_by_both_libraries(
        self, gateway: httpx.AsyncClient, stack: Stack, certified: dict[str, str]
    ) -> None:
        token = await _fresh_code(gateway, certified)
        head, payload, signature = token.split(".")
        forged_payload = base64url_encode(base64url_decode(payload).replace(b'"tier":"E"', b'"tier":"A"')).decode()
        assert forged_payload != payload
        forged = f"{head}.{forged_payload}.{signature}"
        with pytest.raises(jwt.InvalidSignatureError):
            await asyncio.to_thread(_pyjwt_verify, stack.gateway_url + CODE_JWKS, forged)
        with pytest.raises(jose_errors.BadSignatureError):
            _joserfc_verify((await gateway.get(CODE_JWKS)).json(), forged)

    async def test_npm_jose_verifies_the_same_code_and_refuses_it_against_the_access_token_keys(
        self, gateway: httpx.AsyncClient, stack: Stack, certified: dict[str, str]
    ) -> None:
        token = await _fresh_code(gateway, certified)
        verified = await _node_jose_verify(stack.gateway_url + CODE_JWKS, token)
        assert verified["ok"] is True, verified
        assert verified["claims"]["tier"] == "E" and verified["kid"] == jwt.get_unverified_header(token)["kid"]
        crossed = await _node_jose_verify(stack.gateway_url + ACCESS_JWKS, token)
        assert crossed == {"ok": False, "code": "ERR_JWKS_NO_MATCHING_KEY"}


class TestTheTwoKeySetsNeverCross:
    async def test_an_access_token_key_never_verifies_a_code(
        self, gateway: httpx.AsyncClient, stack: Stack, certified: dict[str, str]
    ) -> None:
        token = await _fresh_code(gateway, certified)
        with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
            await asyncio.to_thread(_pyjwt_verify, stack.gateway_url + ACCESS_JWKS, token)
        with pytest.raises(jose_errors.InvalidKeyIdError):
            _joserfc_verify((await gateway.get(ACCESS_JWKS)).json(), token)

    async def test_a_code_key_never_verifies_an_access_token(self, gateway: httpx.AsyncClient, stack: Stack) -> None:
        access_token = (await _official(gateway, "admin"))["Authorization"].removeprefix("Bearer ")
        with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
            await asyncio.to_thread(_pyjwt_verify, stack.gateway_url + CODE_JWKS, access_token)
        with pytest.raises(jose_errors.InvalidKeyIdError):
            jose_jwt.decode(
                access_token, KeySet.import_key_set((await gateway.get(CODE_JWKS)).json()), algorithms=["ES256"]
            )

    async def test_a_code_presented_as_an_access_token_is_refused(
        self, gateway: httpx.AsyncClient, certified: dict[str, str]
    ) -> None:
        token = await _fresh_code(gateway, certified)
        response = await gateway.get("/api/v1/me/talent", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


class TestRotation:
    async def test_after_a_rotation_old_and_new_keys_are_published_and_codes_of_both_verify(
        self, gateway: httpx.AsyncClient, stack: Stack, certified: dict[str, str]
    ) -> None:
        old_token = await _fresh_code(gateway, certified)
        old_kid = jwt.get_unverified_header(old_token)["kid"]
        rotated = await gateway.post("/api/v1/admin/code-keys/rotate", headers=await _official(gateway, "admin"))
        assert rotated.status_code == 200, rotated.text
        new_kid = rotated.json()["kid"]
        assert new_kid != old_kid

        async def both_published() -> bool:
            kids = {k["kid"] for k in (await gateway.get(CODE_JWKS)).json()["keys"]}
            return {old_kid, new_kid} <= kids

        await eventually(both_published, timeout=60, what="the old and the new code key in the talent-code set")
        new_token = await _fresh_code(gateway, certified)
        assert jwt.get_unverified_header(new_token)["kid"] == new_kid

        # One client for both codes, as a partner keeps one: it finds each key by the code's kid.
        client = jwt.PyJWKClient(stack.gateway_url + CODE_JWKS)
        for token in (old_token, new_token):
            key = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
            assert jwt.decode(token, key, algorithms=["ES256"])["tier"] == "E"
            assert _joserfc_verify((await gateway.get(CODE_JWKS)).json(), token)["tier"] == "E"
