"""Access tokens: ES256 only, iss/aud/exp/nbf checked, keys from a cached JWKS refetched once on an unknown kid."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI
from servicekit.auth import CurrentPrincipal, HttpJwks, Principal, StaticJwks, TokenVerifier, require_roles
from servicekit.problems import Unauthorized, install_problem_handlers
from servicekit.testing import TestKeys, free_port

ISSUER, AUDIENCE = "talent-gateway", "talent-platform"


class CountingJwks:
    """A JWKS source that counts its fetches; keys can be added (rotation) while it serves."""

    def __init__(self, *keys: TestKeys) -> None:
        self.keys = list(keys)
        self.fetches = 0

    async def fetch(self) -> dict[str, Any]:
        self.fetches += 1
        return {"keys": [k.public_jwk for k in self.keys]}


def app_with(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    app.state.token_verifier = verifier

    @app.get("/me")
    async def me(principal: CurrentPrincipal) -> dict[str, Any]:
        return {"sub": principal.sub, "roles": sorted(principal.roles), "region": principal.region}

    @app.get("/review", dependencies=[Depends(require_roles("county_reviewer", "city_approver"))])
    async def review() -> dict[str, str]:
        return {"ok": "reviewed"}

    return app


@pytest.fixture
def keys() -> TestKeys:
    return TestKeys(kid="key-1", issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture
def jwks(keys: TestKeys) -> CountingJwks:
    return CountingJwks(keys)


@pytest.fixture
def verifier(jwks: CountingJwks) -> TokenVerifier:
    return TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture
async def client(verifier: TokenVerifier) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_with(verifier))
    async with httpx.AsyncClient(transport=transport, base_url="http://kit") as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    return {"sub": "u-1", "roles": ["talent"], "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 900} | overrides


def unsigned(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}.{b64(signature)}"


def assert_unauthorized(response: httpx.Response, detail_part: str = "") -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 401 and body["type"].endswith("/unauthorized")
    assert detail_part.lower() in body["detail"].lower()


class TestTokenVerifier:
    async def test_a_valid_es256_token_is_accepted(self, client: httpx.AsyncClient, keys: TestKeys) -> None:
        response = await client.get("/me", headers=keys.headers("talent-7", ["talent"], region="330402"))

        assert response.status_code == 200, response.text
        assert response.json() == {"sub": "talent-7", "roles": ["talent"], "region": "330402"}

    async def test_the_principal_carries_the_claims(self, verifier: TokenVerifier, keys: TestKeys) -> None:
        principal = await verifier.verify(keys.token("partner-1", ["partner"], partner_kind="bank"))

        assert principal == Principal(
            sub="partner-1",
            roles=frozenset({"partner"}),
            scope="partner",
            partner_kind="bank",
            token_id=principal.claims["jti"],
        )

    async def test_alg_none_is_refused(self, client: httpx.AsyncClient) -> None:
        token = unsigned({"alg": "none", "typ": "JWT", "kid": "key-1"}, claims())

        assert_unauthorized(await client.get("/me", headers=bearer(token)), "only es256")

    async def test_hs256_signed_with_the_public_key_is_refused(self, client: httpx.AsyncClient, keys: TestKeys) -> None:
        # The classic key-confusion attack: HMAC keyed with the (public) verification key.
        secret = json.dumps(keys.public_jwk, sort_keys=True).encode()
        header = {"alg": "HS256", "typ": "JWT", "kid": "key-1"}
        signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims()).encode())}"
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()

        assert_unauthorized(await client.get("/me", headers=bearer(f"{signing_input}.{b64(signature)}")), "only es256")

    async def test_an_es256_header_with_a_forged_signature_is_refused(self, client: httpx.AsyncClient) -> None:
        token = unsigned({"alg": "ES256", "kid": "key-1"}, claims(), signature=b"\x01" * 64)

        assert_unauthorized(await client.get("/me", headers=bearer(token)), "not valid")

    async def test_an_expired_token_is_refused(self, client: httpx.AsyncClient, keys: TestKeys) -> None:
        token = keys.token("u-1", ["talent"], lifetime=timedelta(minutes=-1))

        assert_unauthorized(await client.get("/me", headers=bearer(token)), "expired")

    async def test_a_token_not_yet_valid_is_refused(self, client: httpx.AsyncClient, keys: TestKeys) -> None:
        later = int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())
        token = keys.token("u-1", ["talent"], nbf=later)

        assert_unauthorized(await client.get("/me", headers=bearer(token)), "not valid")

    async def test_a_token_for_another_audience_is_refused(self, client: httpx.AsyncClient, keys: TestKeys) -> None:
        token = keys.token("u-1", ["talent"], aud="another-platform")

        assert_unauthorized(await client.get("/me", headers=bearer(token)), "audience")

    async def test_a_token_from_another_issuer_is_refused(self, client: httpx.AsyncClient, keys: TestKeys) -> None:
        token = keys.token("u-1", ["talent"], iss="someone-else")

        assert_unauthorized(await client.get("/me", headers=bearer(token)), "issuer")

    @pytest.mark.parametrize("missing", ["exp", "iat", "sub"])
    async def test_a_token_missing_a_required_claim_is_refused(
        self, client: httpx.AsyncClient, keys: TestKeys, missing: str
    ) -> None:
        from jose import jwt

        payload = {k: v for k, v in claims().items() if k != missing}
        token = jwt.encode(payload, keys.private_pem, algorithm="ES256", headers={"kid": keys.kid})

        assert_unauthorized(await client.get("/me", headers=bearer(token)))

    async def test_a_malformed_roles_claim_is_refused(self, client: httpx.AsyncClient, keys: TestKeys) -> None:
        token = keys.token("u-1", "admin")  # type: ignore[arg-type]  # a string, not a list

        assert_unauthorized(await client.get("/me", headers=bearer(token)), "roles")

    @pytest.mark.parametrize(
        "authorization",
        [None, "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer a.b.c"],
        ids=["absent", "empty", "garbage", "basic", "bad-segments"],
    )
    async def test_a_missing_or_malformed_credential_is_refused(
        self, client: httpx.AsyncClient, authorization: str | None
    ) -> None:
        headers = {"Authorization": authorization} if authorization is not None else {}

        response = await client.get("/me", headers=headers)

        assert_unauthorized(response)
        if authorization is None:
            assert response.headers["www-authenticate"] == "Bearer"


class TestSigningKeys:
    async def test_keys_are_fetched_once_and_cached(
        self, client: httpx.AsyncClient, keys: TestKeys, jwks: CountingJwks
    ) -> None:
        for _ in range(5):
            assert (await client.get("/me", headers=keys.headers("u-1", ["talent"]))).status_code == 200

        assert jwks.fetches == 1

    async def test_an_unknown_kid_is_refused_after_exactly_one_refetch(
        self, client: httpx.AsyncClient, keys: TestKeys, jwks: CountingJwks
    ) -> None:
        assert (await client.get("/me", headers=keys.headers("u-1", ["talent"]))).status_code == 200
        stranger = TestKeys(kid="key-unknown", issuer=ISSUER, audience=AUDIENCE)

        first = await client.get("/me", headers=stranger.headers("u-1", ["talent"]))
        assert_unauthorized(first, "unknown key")
        assert jwks.fetches == 2, "one refetch for the unknown kid"

        # More tokens with unknown kids right after must not hammer the gateway.
        for _ in range(3):
            assert_unauthorized(await client.get("/me", headers=stranger.headers("u-1", ["talent"])), "unknown key")
        assert jwks.fetches == 2

    async def test_a_key_added_by_rotation_is_accepted_after_one_refetch(
        self, client: httpx.AsyncClient, keys: TestKeys, jwks: CountingJwks
    ) -> None:
        assert (await client.get("/me", headers=keys.headers("u-1", ["talent"]))).status_code == 200
        rotated = TestKeys(kid="key-2", issuer=ISSUER, audience=AUDIENCE)
        jwks.keys.append(rotated)  # the gateway publishes its next key next to the current one

        responses = await asyncio.gather(
            *(client.get("/me", headers=rotated.headers(f"u-{i}", ["talent"])) for i in range(5))
        )

        assert [r.status_code for r in responses] == [200] * 5
        assert jwks.fetches == 2, "concurrent requests with the new kid share one refetch"
        assert (await client.get("/me", headers=keys.headers("u-1", ["talent"]))).status_code == 200

    async def test_keys_of_other_algorithms_or_uses_in_the_jwks_are_ignored(self, keys: TestKeys) -> None:
        document = {
            "keys": [dict(keys.public_jwk, use="enc"), {"kty": "oct", "kid": "key-1", "alg": "HS256", "k": "c2VjcmV0"}]
        }
        verifier = TokenVerifier(StaticJwks(document), issuer=ISSUER, audience=AUDIENCE)

        with pytest.raises(Unauthorized, match="unknown key"):
            await verifier.verify(keys.token("u-1", ["talent"]))

    async def test_a_malformed_entry_in_the_jwks_does_not_break_the_other_keys(
        self, client: httpx.AsyncClient, keys: TestKeys, jwks: CountingJwks
    ) -> None:
        broken = TestKeys(kid="key-broken", issuer=ISSUER, audience=AUDIENCE)
        broken.public_jwk = dict(broken.public_jwk, x="AAAA")  # not a point on the curve
        jwks.keys.insert(0, broken)

        assert (await client.get("/me", headers=keys.headers("u-1", ["talent"]))).status_code == 200
        assert_unauthorized(await client.get("/me", headers=broken.headers("u-1", ["talent"])), "unknown key")

    async def test_an_unreachable_jwks_endpoint_gives_401_not_500(self, keys: TestKeys) -> None:
        verifier = TokenVerifier(
            HttpJwks(f"http://127.0.0.1:{free_port()}/.well-known/jwks.json", timeout=1.0),
            issuer=ISSUER,
            audience=AUDIENCE,
        )
        transport = httpx.ASGITransport(app=app_with(verifier))
        async with httpx.AsyncClient(transport=transport, base_url="http://kit") as http:
            response = await http.get("/me", headers=keys.headers("u-1", ["talent"]))

        assert_unauthorized(response, "cannot be fetched")


class TestRoles:
    async def test_a_caller_without_the_role_gets_403(self, client: httpx.AsyncClient, keys: TestKeys) -> None:
        response = await client.get("/review", headers=keys.headers("u-1", ["talent"]))

        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert "county_reviewer" in response.json()["detail"]

    async def test_a_caller_with_one_of_the_roles_passes(self, client: httpx.AsyncClient, keys: TestKeys) -> None:
        response = await client.get("/review", headers=keys.headers("r-1", ["city_approver"], region="330400"))

        assert response.status_code == 200

    async def test_an_anonymous_caller_gets_401_not_403(self, client: httpx.AsyncClient) -> None:
        assert_unauthorized(await client.get("/review"))

    def test_an_unknown_role_name_is_a_programming_error(self) -> None:
        with pytest.raises(ValueError, match="unknown roles"):
            require_roles("talent", "superuser")


class TestVerifiedTokenCache:
    """A verified token is remembered until its exp (no ECDSA on a repeat); nothing else is ever cached."""

    def verifier(self, jwks: CountingJwks, **kwargs: Any) -> TokenVerifier:
        return TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE, **kwargs)

    async def test_a_repeated_token_skips_the_signature_check(
        self, keys: TestKeys, jwks: CountingJwks, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        verifier = self.verifier(jwks)
        token = keys.token("t-1", ["talent"])
        first = await verifier.verify(token)
        calls = 0
        original = verifier._verify

        async def counting(token: str) -> Principal:
            nonlocal calls
            calls += 1
            return await original(token)

        monkeypatch.setattr(verifier, "_verify", counting)
        assert await verifier.verify(token) is first
        assert calls == 0
        # The cache holds a digest of the token, never the token itself.
        assert all(isinstance(k, bytes) and len(k) == 32 for k in verifier._verified)

    async def test_a_cached_token_is_used_only_until_its_exp(
        self, keys: TestKeys, jwks: CountingJwks, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        now = [datetime.now(UTC).timestamp()]
        verifier = self.verifier(jwks, clock=lambda: now[0])
        token = keys.token("t-1", ["talent"], lifetime=timedelta(seconds=30))
        await verifier.verify(token)
        fresh: list[str] = []
        original = verifier._verify

        async def counting(token: str) -> Principal:
            fresh.append(token)
            return await original(token)

        monkeypatch.setattr(verifier, "_verify", counting)
        now[0] += 25
        await verifier.verify(token)
        assert fresh == []  # still before exp: from the cache
        now[0] += 10  # past exp on the verifier's clock: the entry is not used, the token is verified afresh
        await verifier.verify(token)
        assert fresh == [token]

    async def test_invalid_tokens_are_not_cached(self, keys: TestKeys, jwks: CountingJwks) -> None:
        verifier = self.verifier(jwks)
        expired = keys.token("t-1", ["talent"], lifetime=timedelta(minutes=-5))
        forged = keys.token("t-1", ["talent"])[:-4] + "AAAA"
        for token in (expired, forged, expired):
            with pytest.raises(Unauthorized):
                await verifier.verify(token)
        assert not verifier._verified

    async def test_the_cache_is_bounded(self, keys: TestKeys, jwks: CountingJwks) -> None:
        verifier = self.verifier(jwks, cache_size=3)
        tokens = [keys.token(f"t-{i}", ["talent"]) for i in range(5)]
        for token in tokens:
            await verifier.verify(token)
        assert len(verifier._verified) == 3
        await verifier.verify(tokens[2])  # used: becomes the most recent
        await verifier.verify(keys.token("t-9", ["talent"]))
        assert hashlib.sha256(tokens[2].encode()).digest() in verifier._verified
        assert hashlib.sha256(tokens[3].encode()).digest() not in verifier._verified

    async def test_a_changed_key_set_empties_the_cache(self, keys: TestKeys, jwks: CountingJwks) -> None:
        verifier = self.verifier(jwks, min_refetch_interval_s=0.0)
        await verifier.verify(keys.token("t-1", ["talent"]))
        assert verifier._verified
        other = TestKeys(kid="key-2", issuer=ISSUER, audience=AUDIENCE)
        jwks.keys = [other]  # key-1 withdrawn, key-2 published
        await verifier.verify(other.token("t-2", ["talent"]))  # unknown kid: refetch
        assert [p.sub for _, p in verifier._verified.values()] == ["t-2"]
