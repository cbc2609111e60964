"""Sign-in: one-time codes, passwords, client credentials, refresh rotation, and the access token itself."""

from __future__ import annotations

import base64
import logging
import uuid
from typing import Any

from jose import jwt
from servicekit.auth import StaticJwks, TokenVerifier

PHONE = "+8613800000001"


class TestOtpRequest:
    async def test_a_code_is_issued_with_its_lifetime_and_in_dev_the_code_itself(self, gateway: Any) -> None:
        response = await gateway.client.post("/api/v1/auth/otp", json={"phone": PHONE})
        assert response.status_code == 202
        body = response.json()
        assert body["expires_in"] == 300
        assert len(body["dev_code"]) == 6 and body["dev_code"].isdigit()

    async def test_outside_dev_the_code_is_not_in_the_response(self, start_gateway: Any) -> None:
        gw = await start_gateway(
            environment="test",
            hash_key="h" * 32,
            data_encryption_key="d" * 32,
            key_encryption_key="k" * 32,
        )
        response = await gw.client.post("/api/v1/auth/otp", json={"phone": PHONE})
        assert response.status_code == 202
        assert response.json() == {"expires_in": 300}

    async def test_a_phone_not_in_e164_form_is_refused_with_the_field_named(self, gateway: Any, problem: Any) -> None:
        response = await gateway.client.post("/api/v1/auth/otp", json={"phone": "13800000001"})
        assert response.status_code == 422
        body = problem(response)
        assert body["errors"][0]["field"] == "phone"

    async def test_a_mainland_landline_is_refused(self, gateway: Any, problem: Any) -> None:
        response = await gateway.client.post("/api/v1/auth/otp", json={"phone": "+86057312345678"})
        assert response.status_code == 422
        assert "mobile" in problem(response)["detail"]

    async def test_international_numbers_and_spaced_numbers_are_accepted(self, gateway: Any) -> None:
        for phone in ("+44 7700 900123", "+86 138-0000-0002"):
            assert (await gateway.client.post("/api/v1/auth/otp", json={"phone": phone})).status_code == 202

    async def test_unknown_fields_are_refused(self, gateway: Any, problem: Any) -> None:
        response = await gateway.client.post("/api/v1/auth/otp", json={"phone": PHONE, "extra": 1})
        assert response.status_code == 422
        assert problem(response)["errors"][0] == {"field": "extra", "message": "unknown field"}

    async def test_a_second_code_within_a_minute_is_refused_with_retry_after(
        self, start_gateway: Any, problem: Any
    ) -> None:
        gw = await start_gateway(otp_min_interval_s=60)
        assert (await gw.client.post("/api/v1/auth/otp", json={"phone": PHONE})).status_code == 202
        response = await gw.client.post("/api/v1/auth/otp", json={"phone": PHONE})
        assert response.status_code == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        problem(response)
        # Another phone is not affected.
        assert (await gw.client.post("/api/v1/auth/otp", json={"phone": "+8613800000009"})).status_code == 202

    async def test_the_sixth_code_within_an_hour_is_refused(self, gateway: Any, problem: Any) -> None:
        for _ in range(5):
            assert (await gateway.client.post("/api/v1/auth/otp", json={"phone": PHONE})).status_code == 202
        response = await gateway.client.post("/api/v1/auth/otp", json={"phone": PHONE})
        assert response.status_code == 429
        assert 3500 < int(response.headers["Retry-After"]) <= 3601
        assert "hour" in problem(response)["detail"]

    async def test_neither_the_phone_nor_the_code_is_stored_in_clear(self, gateway: Any) -> None:
        tokens = await gateway.talent(PHONE)
        rows = await gateway.sql("SELECT * FROM gw_account WHERE kind = 'talent'")
        challenges = await gateway.sql("SELECT code_hash FROM gw_otp_challenge")
        assert len(rows) == 1
        assert PHONE not in repr(rows) and PHONE[3:] not in repr(rows)
        assert all(len(c.code_hash) == 64 for c in challenges)
        assert rows[0].id == jwt.get_unverified_claims(tokens["access_token"])["sub"]


class TestPersonalData:
    async def test_no_phone_number_reaches_the_logs(self, gateway: Any, caplog: Any) -> None:
        caplog.set_level(logging.DEBUG)
        await gateway.talent(PHONE)
        await gateway.token(grant_type="otp", phone=PHONE, code="000000")
        assert caplog.records
        assert PHONE[3:] not in caplog.text and PHONE[-8:] not in caplog.text


class TestOtpSignIn:
    async def test_the_first_sign_in_creates_a_talent_with_a_new_uuid(self, gateway: Any) -> None:
        tokens = await gateway.talent(PHONE)
        assert tokens["token_type"] == "Bearer"
        assert tokens["expires_in"] == 900
        assert tokens["scope"] == "talent"
        assert tokens["refresh_token"]
        claims = jwt.get_unverified_claims(tokens["access_token"])
        assert uuid.UUID(claims["sub"])
        assert claims["roles"] == ["talent"]

    async def test_signing_in_again_with_the_same_phone_is_the_same_talent(self, gateway: Any) -> None:
        first = jwt.get_unverified_claims((await gateway.talent(PHONE))["access_token"])
        second = jwt.get_unverified_claims((await gateway.talent("+86 138 0000 0001"))["access_token"])
        assert first["sub"] == second["sub"]

    async def test_a_wrong_code_says_how_many_attempts_are_left(self, gateway: Any, problem: Any) -> None:
        code = await gateway.otp_code(PHONE)
        wrong = "000000" if code != "000000" else "111111"
        response = await gateway.token(grant_type="otp", phone=PHONE, code=wrong)
        assert response.status_code == 400
        body = problem(response)
        assert body["error"] == "invalid_grant"
        assert body["attempts_left"] == 4

    async def test_the_sixth_attempt_is_refused_even_with_the_right_code(self, gateway: Any, problem: Any) -> None:
        code = await gateway.otp_code(PHONE)
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            assert (await gateway.token(grant_type="otp", phone=PHONE, code=wrong)).status_code == 400
        response = await gateway.token(grant_type="otp", phone=PHONE, code=code)
        assert response.status_code == 400
        assert "request a new code" in problem(response)["detail"]

    async def test_a_code_signs_in_only_once(self, gateway: Any, problem: Any) -> None:
        code = await gateway.otp_code(PHONE)
        assert (await gateway.token(grant_type="otp", phone=PHONE, code=code)).status_code == 200
        response = await gateway.token(grant_type="otp", phone=PHONE, code=code)
        assert response.status_code == 400
        assert problem(response)["error"] == "invalid_grant"

    async def test_a_newer_code_replaces_the_older_one(self, gateway: Any) -> None:
        old = await gateway.otp_code(PHONE)
        new = await gateway.otp_code(PHONE)
        if old != new:
            assert (await gateway.token(grant_type="otp", phone=PHONE, code=old)).status_code == 400
        assert (await gateway.token(grant_type="otp", phone=PHONE, code=new)).status_code == 200

    async def test_an_expired_code_is_refused(self, gateway: Any) -> None:
        code = await gateway.otp_code(PHONE)
        await gateway.sql("UPDATE gw_otp_challenge SET expires_at = created_at")
        assert (await gateway.token(grant_type="otp", phone=PHONE, code=code)).status_code == 400


class TestPasswordSignIn:
    async def test_an_official_gets_roles_and_region(self, gateway: Any) -> None:
        tokens = await gateway.official("reviewer.nanhu")
        claims = jwt.get_unverified_claims(tokens["access_token"])
        assert claims["roles"] == ["county_reviewer"]
        assert claims["region"] == "330402"
        assert tokens["scope"] == "county_reviewer"

    async def test_unknown_user_and_wrong_password_get_the_same_answer(self, gateway: Any, problem: Any) -> None:
        unknown = await gateway.token(grant_type="password", username="nobody", password="dev-password")
        wrong = await gateway.token(grant_type="password", username="approver.city", password="wrong")
        assert unknown.status_code == wrong.status_code == 400
        assert problem(unknown)["detail"] == problem(wrong)["detail"]
        assert problem(unknown)["error"] == "invalid_grant"

    async def test_a_success_resets_the_failure_count(self, gateway: Any) -> None:
        for _ in range(4):
            await gateway.token(grant_type="password", username="auditor.city", password="wrong")
        await gateway.official("auditor.city")
        for _ in range(4):
            await gateway.token(grant_type="password", username="auditor.city", password="wrong")
        await gateway.official("auditor.city")

    async def test_a_partner_cannot_use_the_password_grant(self, gateway: Any) -> None:
        response = await gateway.token(grant_type="password", username="partner.hospital", password="dev-secret")
        assert response.status_code == 400


class TestClientCredentials:
    async def test_a_partner_gets_the_partner_role_and_its_kind(self, gateway: Any) -> None:
        tokens = await gateway.partner("partner.transit")
        claims = jwt.get_unverified_claims(tokens["access_token"])
        assert claims["roles"] == ["partner"]
        assert claims["partner_kind"] == "transit"
        assert "refresh_token" not in tokens

    async def test_http_basic_client_authentication_works(self, gateway: Any) -> None:
        basic = base64.b64encode(b"partner.hospital:dev-secret").decode()
        response = await gateway.client.post(
            "/api/v1/auth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
        )
        assert response.status_code == 200
        assert jwt.get_unverified_claims(response.json()["access_token"])["partner_kind"] == "hospital"

    async def test_a_wrong_secret_is_401_invalid_client(self, gateway: Any, problem: Any) -> None:
        response = await gateway.token(grant_type="client_credentials", client_id="partner.hospital", client_secret="x")
        assert response.status_code == 401
        assert problem(response)["error"] == "invalid_client"
        assert response.headers["WWW-Authenticate"].startswith("Basic")

    async def test_an_official_is_not_a_client(self, gateway: Any) -> None:
        response = await gateway.token(grant_type="client_credentials", client_id="admin", client_secret="dev-password")
        assert response.status_code == 401


class TestRefreshRotation:
    async def test_a_refresh_token_is_exchanged_for_new_tokens(self, gateway: Any) -> None:
        first = await gateway.talent(PHONE)
        response = await gateway.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert response.status_code == 200
        second = response.json()
        assert second["refresh_token"] != first["refresh_token"]
        a, b = (jwt.get_unverified_claims(t["access_token"]) for t in (first, second))
        assert a["sub"] == b["sub"] and a["jti"] != b["jti"]

    async def test_reusing_a_rotated_token_after_the_grace_window_revokes_the_whole_family(
        self, start_gateway: Any, problem: Any
    ) -> None:
        gateway = await start_gateway(refresh_grace_s=0)
        first = await gateway.talent(PHONE)
        second = (await gateway.token(grant_type="refresh_token", refresh_token=first["refresh_token"])).json()
        reuse = await gateway.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert reuse.status_code == 400
        assert "revoked" in problem(reuse)["detail"]
        # The token the thief or the victim still holds is dead too.
        after = await gateway.token(grant_type="refresh_token", refresh_token=second["refresh_token"])
        assert after.status_code == 400
        assert "revoked" in problem(after)["detail"]

    async def test_another_sign_in_is_a_separate_family(self, start_gateway: Any) -> None:
        gateway = await start_gateway(refresh_grace_s=0)
        one = await gateway.talent(PHONE)
        other = await gateway.talent(PHONE)
        await gateway.token(grant_type="refresh_token", refresh_token=one["refresh_token"])
        await gateway.token(grant_type="refresh_token", refresh_token=one["refresh_token"])  # reuse: family 1 dies
        assert (
            await gateway.token(grant_type="refresh_token", refresh_token=other["refresh_token"])
        ).status_code == 200

    async def test_an_unknown_or_expired_refresh_token_is_refused(self, gateway: Any) -> None:
        assert (await gateway.token(grant_type="refresh_token", refresh_token="nope")).status_code == 400
        tokens = await gateway.official("admin")
        await gateway.sql("UPDATE gw_refresh_token SET expires_at = created_at")
        response = await gateway.token(grant_type="refresh_token", refresh_token=tokens["refresh_token"])
        assert response.status_code == 400
        assert "expired" in response.json()["detail"]


class TestTokenRequests:
    async def test_a_json_body_is_400_invalid_request(self, gateway: Any, problem: Any) -> None:
        response = await gateway.client.post("/api/v1/auth/token", json={"grant_type": "password"})
        assert response.status_code == 400
        assert problem(response)["error"] == "invalid_request"

    async def test_an_unknown_grant_type_is_400_unsupported(self, gateway: Any, problem: Any) -> None:
        response = await gateway.token(grant_type="implicit")
        assert response.status_code == 400
        assert problem(response)["error"] == "unsupported_grant_type"

    async def test_missing_fields_are_named(self, gateway: Any, problem: Any) -> None:
        response = await gateway.token(grant_type="password", username="admin")
        assert response.status_code == 400
        assert "password" in problem(response)["detail"]

    async def test_token_responses_are_not_cached(self, gateway: Any) -> None:
        response = await gateway.token(grant_type="password", username="admin", password="dev-password")
        assert response.headers["Cache-Control"] == "no-store"


class TestAccessToken:
    async def test_it_is_es256_with_every_claim_services_check(self, gateway: Any) -> None:
        tokens = await gateway.official("approver.city")
        header = jwt.get_unverified_header(tokens["access_token"])
        claims = jwt.get_unverified_claims(tokens["access_token"])
        assert header["alg"] == "ES256"
        assert header["kid"] in gateway.runtime.keyring.kids
        assert claims["iss"] == "talent-gateway" and claims["aud"] == "talent-platform"
        assert claims["exp"] - claims["iat"] == 900
        assert claims["nbf"] == claims["iat"]
        assert claims["jti"]

    async def test_a_service_verifies_it_with_the_published_jwks(self, gateway: Any) -> None:
        tokens = await gateway.official("reviewer.xiuzhou")
        document = (await gateway.client.get("/.well-known/jwks.json")).json()
        verifier = TokenVerifier(StaticJwks(document), issuer="talent-gateway", audience="talent-platform")
        principal = await verifier.verify(tokens["access_token"])
        assert principal.roles == frozenset({"county_reviewer"})
        assert principal.region == "330411"
