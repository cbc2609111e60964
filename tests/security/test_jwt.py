"""OWASP API2, broken authentication: forged, stale and misdirected access tokens are refused with 401, by
the gateway AND by every service on its own port (defence in depth: a service reached without the gateway
trusts no token the gateway would not have issued).

The properly signed variants (expired, wrong audience, …) are signed with the running gateway's real
signing key, read from its database with its dev key-encryption key, and the talent-code variant with the
applicant's real talent-code key: only the one claim or header under test is wrong. A correctly signed
token is accepted everywhere first, so each 401 is the attack's doing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from applicant.codes import CodeKeyRing
from applicant.config import ApplicantSettings
from applicant.main import code_key_sealer
from gateway.config import GatewaySettings
from gateway.crypto import Sealer
from gateway.keys import KeyRing
from jose import jwk, jwt
from jose.backends.base import Key
from servicekit.db import Database
from servicekit.testing import TestKeys

from .conftest import Scene

# A talent's own read on each service, and on the gateway (which routes it to applicant).
TALENT_READS = {
    "applicant": "/api/v1/me/talent",
    "benefits": "/api/v1/me/claims",
    "housing": "/api/v1/me/housing",
    "notify": "/api/v1/me/inbox",
}
ISSUER = GatewaySettings.model_fields["jwt_issuer"].default
AUDIENCE = GatewaySettings.model_fields["jwt_audience"].default


def in_s(seconds: int) -> int:
    """A NumericDate `seconds` from now (negative: in the past)."""
    return int(time.time()) + seconds


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"


class Forger:
    """Builds the tokens under test around one subject; `claims()` is what the gateway itself would issue."""

    def __init__(self, sub: str, kid: str, private: Key, public_jwk: dict[str, Any], code_key: tuple[str, Key]):
        self.sub, self.kid, self.private, self.public_jwk, self.code_key = sub, kid, private, public_jwk, code_key

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "sub": self.sub,
            "roles": ["talent"],
            "scope": "talent",
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def signed(self, **overrides: Any) -> str:
        return str(jwt.encode(self.claims(**overrides), self.private, algorithm="ES256", headers={"kid": self.kid}))

    def alg_none(self) -> str:
        return unsigned({"alg": "none", "typ": "JWT", "kid": self.kid}, self.claims()) + "."

    def hs256_with_the_public_key(self) -> str:
        # The classic key-confusion attack: the published public key (PEM) used as an HMAC secret.
        secret = jwk.construct(self.public_jwk, "ES256").to_pem()
        signing_input = unsigned({"alg": "HS256", "typ": "JWT", "kid": self.kid}, self.claims())
        return f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"

    def unknown_kid(self) -> str:
        return TestKeys(kid="attacker-key", issuer=ISSUER, audience=AUDIENCE).token(self.sub, ["talent"])

    def attackers_key_under_the_real_kid(self) -> str:
        return TestKeys(kid=self.kid, issuer=ISSUER, audience=AUDIENCE).token(self.sub, ["talent"])

    def signature_stripped(self) -> str:
        return self.signed().rsplit(".", 1)[0] + "."

    def talent_code_key(self) -> str:
        kid, key = self.code_key
        return str(jwt.encode(self.claims(), key, algorithm="ES256", headers={"kid": kid}))


async def _gateway_signing_key(scene: Scene) -> tuple[str, Key, dict[str, Any]]:
    """The running gateway's active signing key (its database, its dev key-encryption key)."""
    settings = GatewaySettings(environment="dev", database_url=scene.stack.env["gateway"]["GATEWAY_DATABASE_URL"])
    keyring = KeyRing(Sealer(settings.key_encryption_key.get_secret_value(), "signing-keys"))
    database = Database(settings.database_url)
    try:
        async with database.transaction() as session:
            await keyring.reload(session)
    finally:
        await database.dispose()
    return keyring.active.kid, keyring.active.private, keyring.active.public_jwk


async def _talent_code_key(scene: Scene) -> tuple[str, Key]:
    """The applicant's talent-code signing key (published in its own JWKS, /.well-known/talent-code/jwks.json)."""
    settings = ApplicantSettings(TALENT_ENV="dev", database_url=scene.stack.env["applicant"]["APPLICANT_DATABASE_URL"])
    keyring = CodeKeyRing(code_key_sealer(settings), reload_s=0, lifetime=timedelta(minutes=5))
    database = Database(settings.database_url)
    try:
        await keyring.reload(database)
    finally:
        await database.dispose()
    loaded = keyring._loaded  # the ring signs only code claims; the attack needs the key itself
    assert loaded.signing_kid is not None and loaded.signing_key is not None
    return loaded.signing_kid, loaded.signing_key


@pytest.fixture(scope="module")
async def forger(scene: Scene) -> Forger:
    kid, private, public_jwk = await _gateway_signing_key(scene)
    return Forger(scene.alice_id, kid, private, public_jwk, await _talent_code_key(scene))


async def _real_talent_code(scene: Scene) -> str:
    async with httpx.AsyncClient(base_url=scene.stack.gateway_url, timeout=20.0) as gateway:
        response = await gateway.get("/api/v1/me/code", headers=scene.alice)
        assert response.status_code == 200, response.text
        return str(response.json()["code"])


def doors(scene: Scene) -> list[tuple[str, str]]:
    """(who answers, URL): the gateway, and each service directly on its own port."""
    return [("gateway", scene.stack.gateway_url + TALENT_READS["applicant"])] + [
        (name, scene.stack.service_urls[name] + path) for name, path in TALENT_READS.items()
    ]


async def answers(scene: Scene, token: str) -> dict[str, int]:
    async with httpx.AsyncClient(timeout=20.0) as client:
        return {
            who: (await client.get(url, headers={"Authorization": f"Bearer {token}"})).status_code
            for who, url in doors(scene)
        }


ATTACKS: dict[str, Callable[[Forger], str]] = {
    "alg none": Forger.alg_none,
    "HS256 signed with the public key": Forger.hs256_with_the_public_key,
    "expired an hour ago": lambda f: f.signed(iat=in_s(-7200), nbf=in_s(-7200), exp=in_s(-3600)),
    "valid only from an hour on": lambda f: f.signed(nbf=in_s(3600)),
    "without expiry": lambda f: f.signed(exp=None),
    "wrong audience": lambda f: f.signed(aud="another-platform"),
    "wrong issuer": lambda f: f.signed(iss="https://attacker.example"),
    "unknown kid": Forger.unknown_kid,
    "attacker's key under the real kid": Forger.attackers_key_under_the_real_kid,
    "signature stripped": Forger.signature_stripped,
    "signed with the talent-code key": Forger.talent_code_key,
}


async def test_a_token_signed_like_the_gateways_is_accepted_everywhere(scene: Scene, forger: Forger) -> None:
    assert set((await answers(scene, forger.signed())).values()) == {200}


@pytest.mark.parametrize("attack", ATTACKS)
async def test_a_forged_or_misdirected_token_is_401_at_the_gateway_and_at_every_service(
    scene: Scene, forger: Forger, attack: str
) -> None:
    token = ATTACKS[attack](forger)
    assert await answers(scene, token) == dict.fromkeys(dict(doors(scene)), 401)


@pytest.mark.parametrize("prefix", ["", "TC1:"])
async def test_a_talent_code_is_not_an_access_token(scene: Scene, prefix: str) -> None:
    code = (await _real_talent_code(scene)).removeprefix("TC1:")
    assert await answers(scene, prefix + code) == dict.fromkeys(dict(doors(scene)), 401)
