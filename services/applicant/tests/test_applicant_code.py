"""The talent code: issue, QR images, partner verification by scene, the JWKS, offline checks, key rotation."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from applicant.cli import rotate_code_key
from applicant.codes import PREFIX
from applicant.config import ApplicantSettings
from applicant.main import build_app
from applicant.models import TalentCodeKey
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from jose import jwk, jws
from servicekit.auth import StaticJwks
from servicekit.db import Database, utcnow
from servicekit.testing import TestKeys, serve_in_process
from sqlmodel import select

from .conftest import Officials, certify, register


def _payload(code: str) -> dict[str, Any]:
    segment = code[len(PREFIX) :].split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


def _sign(claims: dict[str, Any], kid: str, key: Any) -> str:
    return PREFIX + jws.sign(claims, key, headers={"kid": kid, "typ": "TC1"}, algorithm="ES256")


def _foreign_key() -> Any:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return jwk.construct(pem, "ES256")


async def _verify(
    client: httpx.AsyncClient, officials: Officials, code: str, scene: str = "hospital", kind: str | None = None
) -> Any:
    response = await client.post(
        "/api/v1/codes/verify", json={"code": code, "scene": scene}, headers=officials.partner(kind or scene)
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
async def certified(client: httpx.AsyncClient, talent: dict[str, str], officials: Officials) -> dict[str, Any]:
    """A tier-D certified talent's fresh code response."""
    await certify(client, talent, officials, tier="D")
    response = await client.get("/api/v1/me/code", headers=talent)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestIssueCode:
    async def test_code_is_a_short_lived_jws_with_a_pseudonym_and_no_personal_data(
        self, client: httpx.AsyncClient, talent: dict[str, str], certified: dict[str, Any]
    ) -> None:
        code = certified["code"]
        assert code.startswith("TC1:")
        payload = _payload(code)
        assert set(payload) == {"sub", "tier", "city", "iat", "exp", "status"}
        assert set(payload["status"]["status_list"]) == {"idx", "uri"}  # its entry in the revocation status list
        assert payload["tier"] == "D" and payload["city"] == "330400"
        assert payload["exp"] - payload["iat"] == 300
        talent_id = (await client.get("/api/v1/me/talent", headers=talent)).json()["talent_id"]
        assert payload["sub"].startswith("tp_") and talent_id not in code
        header = jws.get_unverified_header(code[4:])
        assert header["alg"] == "ES256" and header["kid"] == certified["kid"] and header["kid"].startswith("tc-")

    async def test_no_code_before_certification(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        await register(client, talent)
        response = await client.get("/api/v1/me/code", headers=talent)
        assert response.status_code == 409
        assert "certified" in response.json()["detail"]

    async def test_png_and_svg_images_are_not_cached(
        self, client: httpx.AsyncClient, talent: dict[str, str], certified: dict[str, Any]
    ) -> None:
        png = await client.get("/api/v1/me/code.png", headers=talent)
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content.startswith(b"\x89PNG") and png.headers["cache-control"] == "no-store"
        svg = await client.get("/api/v1/me/code.svg", headers=talent)
        assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content

    async def test_image_before_certification_is_409(self, client: httpx.AsyncClient, talent: dict[str, str]) -> None:
        await register(client, talent)
        assert (await client.get("/api/v1/me/code.png", headers=talent)).status_code == 409


class TestVerify:
    async def test_hospital_sees_validity_tier_and_its_privileges(
        self, client: httpx.AsyncClient, officials: Officials, certified: dict[str, Any]
    ) -> None:
        result = await _verify(client, officials, certified["code"])
        assert result["valid"] is True and result["tier"] == "D"
        assert result["privileges"] == ["appointment_booking", "green_channel", "health_education", "health_records"]
        assert datetime.fromisoformat(result["expires_at"]) == datetime.fromisoformat(certified["expires_at"])
        assert "certified_until" not in result and "reason" not in result

    async def test_transit_sees_only_the_fare_privilege(
        self, client: httpx.AsyncClient, officials: Officials, certified: dict[str, Any]
    ) -> None:
        result = await _verify(client, officials, certified["code"], "transit")
        assert result["valid"] is True and result["privileges"] == ["fare_privilege"]
        assert "tier" not in result

    async def test_partner_city_sees_tier_and_validity_only(
        self, client: httpx.AsyncClient, officials: Officials, certified: dict[str, Any]
    ) -> None:
        result = await _verify(client, officials, certified["code"], "partner_city")
        assert result["valid"] is True and result["tier"] == "D" and result["privileges"] == []
        assert result["certified_until"]

    async def test_partner_city_may_verify_for_any_scene(
        self, client: httpx.AsyncClient, officials: Officials, certified: dict[str, Any]
    ) -> None:
        result = await _verify(client, officials, certified["code"], "school", kind="partner_city")
        assert result["privileges"] == ["points_based_places"]

    async def test_a_scene_outside_the_partner_kind_is_403(
        self, client: httpx.AsyncClient, officials: Officials, certified: dict[str, Any]
    ) -> None:
        response = await client.post(
            "/api/v1/codes/verify",
            json={"code": certified["code"], "scene": "bank"},
            headers=officials.partner("hospital"),
        )
        assert response.status_code == 403
        assert response.json()["errors"][0]["field"] == "scene"

    async def test_only_partners_verify(
        self, client: httpx.AsyncClient, talent: dict[str, str], certified: dict[str, Any]
    ) -> None:
        response = await client.post(
            "/api/v1/codes/verify", json={"code": certified["code"], "scene": "hospital"}, headers=talent
        )
        assert response.status_code == 403

    async def test_tampered_code_is_bad_signature(
        self, client: httpx.AsyncClient, officials: Officials, certified: dict[str, Any]
    ) -> None:
        header, _payload_segment, signature = certified["code"][4:].split(".")
        claims = _payload(certified["code"])
        claims["tier"] = "A"
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        result = await _verify(client, officials, f"TC1:{header}.{forged}.{signature}")
        assert result == {"valid": False, "reason": "bad_signature", "privileges": []}

    async def test_code_signed_by_an_unknown_key_is_rejected(
        self, client: httpx.AsyncClient, officials: Officials, certified: dict[str, Any]
    ) -> None:
        claims = _payload(certified["code"])
        assert (await _verify(client, officials, _sign(claims, "tc-foreign", _foreign_key())))[
            "reason"
        ] == "unknown_key"
        # A foreign key that claims a known kid fails on the signature.
        impostor = _sign(claims, certified["kid"], _foreign_key())
        assert (await _verify(client, officials, impostor))["reason"] == "bad_signature"

    async def test_expired_code_is_rejected(
        self, client: httpx.AsyncClient, officials: Officials, certified: dict[str, Any], applicant_app: FastAPI
    ) -> None:
        keyring = applicant_app.state.code_keys
        claims = _payload(certified["code"])
        claims.update(iat=claims["iat"] - 900, exp=claims["iat"] - 600)
        stale = _sign(claims, certified["kid"], keyring._loaded.signing_key)
        assert await _verify(client, officials, stale) == {"valid": False, "reason": "expired", "privileges": []}

    @pytest.mark.parametrize("code", ["hello", "TC1:", "TC1:a.b.c", "TC1:" + "x" * 1990, "TC2:eyJ.eyJ.sig"])
    async def test_malformed_codes_are_rejected_not_500(
        self, client: httpx.AsyncClient, officials: Officials, code: str
    ) -> None:
        result = await _verify(client, officials, code)
        assert result == {"valid": False, "reason": "malformed", "privileges": []}

    async def test_a_code_of_a_re_tiered_talent_is_rejected(
        self, client: httpx.AsyncClient, officials: Officials, certified: dict[str, Any], applicant_app: FastAPI
    ) -> None:
        claims = _payload(certified["code"])
        claims["tier"] = "B"
        other_tier = _sign(claims, certified["kid"], applicant_app.state.code_keys._loaded.signing_key)
        assert (await _verify(client, officials, other_tier))["reason"] == "tier_changed"

    async def test_bad_body_is_422(self, client: httpx.AsyncClient, officials: Officials) -> None:
        response = await client.post(
            "/api/v1/codes/verify", json={"code": "", "scene": "zoo"}, headers=officials.partner("hospital")
        )
        assert response.status_code == 422
        assert {e["field"] for e in response.json()["errors"]} == {"code", "scene"}


class TestCodeKeys:
    async def test_jwks_publishes_only_public_code_keys(
        self, client: httpx.AsyncClient, certified: dict[str, Any]
    ) -> None:
        response = await client.get("/internal/code-keys")
        assert response.status_code == 200
        [key] = response.json()["keys"]
        assert key["kid"] == certified["kid"]
        assert (key["use"], key["alg"]) == ("sig", "ES256")
        assert key["key_ops"] == ["verify"] and "d" not in key

    async def test_anyone_can_verify_a_code_offline_with_the_jwks(
        self, client: httpx.AsyncClient, certified: dict[str, Any]
    ) -> None:
        jwks = (await client.get("/internal/code-keys")).json()
        token = certified["code"].removeprefix("TC1:")
        kid = jws.get_unverified_header(token)["kid"]
        [public] = [k for k in jwks["keys"] if k["kid"] == kid]
        claims = json.loads(jws.verify(token, public, algorithms=["ES256"]))
        assert claims["tier"] == "D" and claims["exp"] > utcnow().timestamp()

    async def test_the_signing_key_survives_a_restart(
        self, applicant_settings: ApplicantSettings, test_keys: TestKeys, client: httpx.AsyncClient
    ) -> None:
        first = (await client.get("/internal/code-keys")).json()
        async with _replica(applicant_settings, test_keys) as again:
            assert (await again.get("/internal/code-keys")).json() == first

    async def test_admin_rotation_keeps_old_codes_valid_and_publishes_both_keys(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials, certified: dict[str, Any]
    ) -> None:
        rotated = await client.post("/api/v1/admin/code-keys/rotate", headers=officials.admin)
        assert rotated.status_code == 200, rotated.text
        new_kid = rotated.json()["kid"]
        assert new_kid != certified["kid"]
        kids = [k["kid"] for k in (await client.get("/internal/code-keys")).json()["keys"]]
        assert kids == [certified["kid"], new_kid]
        fresh = (await client.get("/api/v1/me/code", headers=talent)).json()
        assert fresh["kid"] == new_kid
        assert (await _verify(client, officials, certified["code"]))["valid"] is True
        assert (await _verify(client, officials, fresh["code"]))["valid"] is True
        log = (await client.get("/api/v1/audit/applicant?action=code_key.rotate", headers=officials.auditor)).json()
        assert [e["subject_id"] for e in log["items"]] == [new_kid]

    async def test_only_an_admin_rotates(self, client: httpx.AsyncClient, officials: Officials) -> None:
        assert (await client.post("/api/v1/admin/code-keys/rotate", headers=officials.city)).status_code == 403

    async def test_a_key_retires_after_its_grace_period(
        self, client: httpx.AsyncClient, officials: Officials, certified: dict[str, Any], applicant_app: FastAPI
    ) -> None:
        await client.post("/api/v1/admin/code-keys/rotate", headers=officials.admin)
        async with applicant_app.state.database.transaction() as session:
            old = await session.get(TalentCodeKey, certified["kid"])
            assert old is not None
            old.retires_at = utcnow() - timedelta(seconds=1)
        applicant_app.state.code_keys.invalidate()
        assert certified["kid"] not in [k["kid"] for k in (await client.get("/internal/code-keys")).json()["keys"]]
        assert (await _verify(client, officials, certified["code"]))["reason"] == "unknown_key"

    async def test_cli_rotation_reaches_a_running_replica_on_the_first_unknown_kid(
        self,
        client: httpx.AsyncClient,
        officials: Officials,
        talent: dict[str, str],
        certified: dict[str, Any],
        applicant_settings: ApplicantSettings,
        test_keys: TestKeys,
    ) -> None:
        new_kid = await asyncio.to_thread(rotate_code_key, applicant_settings)
        async with _replica(applicant_settings, test_keys) as replica:
            code = (await replica.get("/api/v1/me/code", headers=talent)).json()
        assert code["kid"] == new_kid
        # The first app still holds the old key set in memory, and learns the new kid when it sees it.
        assert (await _verify(client, officials, code["code"]))["valid"] is True
        database = Database(applicant_settings.database_url)
        try:
            async with database.sessionmaker() as session:
                keys = (await session.exec(select(TalentCodeKey))).all()
        finally:
            await database.dispose()
        assert sorted(k.retires_at is None for k in keys) == [False, True]


def _replica(settings: ApplicantSettings, keys: TestKeys) -> Any:
    """Another process of the service on the same database (a restart, or a second replica)."""
    return serve_in_process(build_app(settings, key_source=StaticJwks(keys.jwks()), run_workers=False))
