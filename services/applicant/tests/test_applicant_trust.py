"""Cross-city recognition (互认互通): the trust list of partner cities, its signed publication checked offline with a
standard JOSE library, and partner cities' codes verified with their mapped tier (keys refetched on rotation)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from applicant.cli import rotate_trust_list_key
from applicant.codes import PREFIX
from applicant.config import ApplicantSettings
from applicant.trust.jwks import JwksRefused, fetch_jwks
from applicant.trust.recognition import PartnerKeys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from jose import jwk, jws
from joserfc import jws as rfc_jws
from joserfc.jwk import KeySet
from servicekit.testing import eventually

from .conftest import Officials

CITY_B = "320500"


class PartnerCityKeys:
    """City B's talent-code keys, made here, and its key set served on a loopback port (as B would publish it)."""

    def __init__(self) -> None:
        self.keys: list[tuple[str, Any, dict[str, Any]]] = []
        self.requests = 0
        self.failing = False
        self.rotate()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                body = b"oops" if owner.failing else json.dumps(owner.jwks()).encode()
                self.send_response(503 if owner.failing else 200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/talent-code/jwks.json"

    def rotate(self) -> str:
        """A new signing key; the old ones stay published."""
        kid = f"b-{len(self.keys)}-{time.monotonic_ns()}"
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        private = jwk.construct(pem, "ES256")
        public = private.public_key().to_dict()
        public.update({"kid": kid, "use": "sig", "alg": "ES256"})
        self.keys.append((kid, private, public))
        return kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public for _, _, public in self.keys]}

    def code(self, tier: str = "B", *, city: str = CITY_B, lifetime: int = 300, kid_index: int = -1) -> str:
        kid, private, _ = self.keys[kid_index]
        now = int(time.time())
        claims = {"sub": "tp_partnercitytalent", "tier": tier, "city": city, "iat": now, "exp": now + lifetime}
        return PREFIX + jws.sign(claims, private, headers={"kid": kid, "typ": "TC1"}, algorithm="ES256")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def city_b() -> Iterator[PartnerCityKeys]:
    keys = PartnerCityKeys()
    yield keys
    keys.close()


def city_body(city: PartnerCityKeys, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "苏州市",
        "jwks_url": city.url,
        "jwks": city.jwks(),
        "tier_map": {"A": "A", "B": "B", "C": "C", "D": "D"},
    }
    body.update(overrides)
    return body


async def put_city(client: httpx.AsyncClient, officials: Officials, body: dict[str, Any], code: str = CITY_B) -> Any:
    return await client.put(f"/api/v1/admin/trust/cities/{code}", json=body, headers=officials.admin)


async def verify(client: httpx.AsyncClient, officials: Officials, code: str, scene: str = "hospital") -> Any:
    response = await client.post(
        "/api/v1/codes/verify", json={"code": code, "scene": scene}, headers=officials.partner(scene)
    )
    assert response.status_code == 200, response.text
    return response.json()


class TestTrustListAdministration:
    async def test_an_admin_registers_a_partner_city_and_the_same_put_twice_changes_nothing(
        self, client: httpx.AsyncClient, officials: Officials, city_b: PartnerCityKeys
    ) -> None:
        first = await put_city(client, officials, city_body(city_b))
        assert first.status_code == 200, first.text
        again = await put_city(client, officials, city_body(city_b))
        assert again.json() == first.json()
        listed = (await client.get("/api/v1/admin/trust/cities", headers=officials.admin)).json()
        assert [c["city_code"] for c in listed] == [CITY_B]
        assert listed[0]["tier_map"] == {"A": "A", "B": "B", "C": "C", "D": "D"}
        assert listed[0]["updated_by"] == "official-admin"
        chain = await client.get("/api/v1/audit/applicant", headers=officials.auditor)
        entries = [e for e in chain.json()["items"] if e["action"].startswith("trust_city")]
        assert [e["action"] for e in entries] == ["trust_city.put"]  # the repeat recorded nothing
        assert "x" not in json.dumps(entries[0]["after"]["kids"])  # kids, never key material

    async def test_without_a_pasted_key_set_it_is_fetched_from_the_url(
        self, client: httpx.AsyncClient, officials: Officials, city_b: PartnerCityKeys
    ) -> None:
        body = city_body(city_b)
        del body["jwks"]
        response = await put_city(client, officials, body)
        assert response.status_code == 200, response.text
        assert response.json()["jwks"] == city_b.jwks() and response.json()["fetched_at"] is not None

    async def test_our_own_city_cannot_be_a_partner(
        self, client: httpx.AsyncClient, officials: Officials, city_b: PartnerCityKeys
    ) -> None:
        response = await put_city(client, officials, city_body(city_b), code="330400")
        assert response.status_code == 409
        assert response.headers["content-type"].startswith("application/problem+json")

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            (lambda k: k.update({"d": "c2VjcmV0"}), "jwks"),  # a private key pasted by mistake
            (lambda k: k.update({"crv": "P-384"}), "jwks"),
            (lambda k: k.update({"use": "enc"}), "jwks"),
            (lambda k: k.pop("kid"), "jwks"),
        ],
    )
    async def test_a_key_set_with_anything_but_public_p256_signing_keys_is_refused(
        self, client: httpx.AsyncClient, officials: Officials, city_b: PartnerCityKeys, change: Any, field: str
    ) -> None:
        key_set = city_b.jwks()
        change(key_set["keys"][0])
        response = await put_city(client, officials, city_body(city_b, jwks=key_set))
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field
        assert "c2VjcmV0" not in response.text

    @pytest.mark.parametrize(
        "tier_map", [{}, {"A": "F"}, {"Z": "A"}, {"A": 1}], ids=["empty", "bad-ours", "bad-theirs", "not-a-tier"]
    )
    async def test_a_tier_map_outside_a_to_e_is_refused(
        self, client: httpx.AsyncClient, officials: Officials, city_b: PartnerCityKeys, tier_map: Any
    ) -> None:
        response = await put_city(client, officials, city_body(city_b, tier_map=tier_map))
        assert response.status_code == 422, response.text

    async def test_only_admins_manage_the_list_and_deleting_an_unknown_city_is_404(
        self, client: httpx.AsyncClient, officials: Officials, city_b: PartnerCityKeys
    ) -> None:
        response = await client.put(
            f"/api/v1/admin/trust/cities/{CITY_B}", json=city_body(city_b), headers=officials.auditor
        )
        assert response.status_code == 403
        response = await client.delete("/api/v1/admin/trust/cities/310000", headers=officials.admin)
        assert response.status_code == 404


class TestPublishedTrustList:
    async def test_the_list_is_signed_with_its_own_key_and_verifies_offline_with_joserfc(
        self, client: httpx.AsyncClient, officials: Officials, city_b: PartnerCityKeys
    ) -> None:
        assert (await put_city(client, officials, city_body(city_b))).status_code == 200
        published = (await client.get("/api/v1/trust/cities")).json()  # public: no token
        assert published["items"] == [
            {"city_code": CITY_B, "name": "苏州市", "jwks_url": city_b.url, "tier_map": city_body(city_b)["tier_map"]}
        ]
        key_set = (await client.get("/api/v1/trust/keys")).json()
        code_kids = {k["kid"] for k in (await client.get("/internal/code-keys")).json()["keys"]}
        assert all(k["kid"].startswith("tl-") and k["kid"] not in code_kids for k in key_set["keys"])
        assert all("d" not in k for k in key_set["keys"])
        token = rfc_jws.deserialize_compact(published["signed"], KeySet.import_key_set(key_set), algorithms=["ES256"])
        payload = json.loads(token.payload)
        assert payload["iss"] == "330400" and payload["items"] == published["items"]
        assert isinstance(payload["iat"], int) and len(payload["version"]) == 16
        assert token.protected["typ"] == "trust-list+jwt"

    async def test_the_version_changes_when_the_list_does(
        self, client: httpx.AsyncClient, officials: Officials, city_b: PartnerCityKeys
    ) -> None:
        def version(signed: str) -> str:
            return str(json.loads(jws.get_unverified_claims(signed))["version"])

        empty = version((await client.get("/api/v1/trust/cities")).json()["signed"])
        assert (await put_city(client, officials, city_body(city_b))).status_code == 200
        listed = version((await client.get("/api/v1/trust/cities")).json()["signed"])
        assert listed != empty
        assert (await client.delete(f"/api/v1/admin/trust/cities/{CITY_B}", headers=officials.admin)).status_code == 204
        assert version((await client.get("/api/v1/trust/cities")).json()["signed"]) == empty

    async def test_after_a_rotation_the_new_key_signs_and_the_old_one_stays_published(
        self, client: httpx.AsyncClient, applicant_settings: ApplicantSettings
    ) -> None:
        before = (await client.get("/api/v1/trust/keys")).json()["keys"]
        new_kid = await asyncio.to_thread(rotate_trust_list_key, applicant_settings)
        after = (await client.get("/api/v1/trust/keys")).json()
        assert [k["kid"] for k in after["keys"]] == [*(k["kid"] for k in before), new_kid]
        signed = (await client.get("/api/v1/trust/cities")).json()["signed"]
        assert jws.get_unverified_header(signed)["kid"] == new_kid
        rfc_jws.deserialize_compact(signed, KeySet.import_key_set(after), algorithms=["ES256"])


class TestForeignCodes:
    async def test_a_partner_citys_code_is_recognised_with_the_mapped_tier_and_its_privileges(
        self, client: httpx.AsyncClient, officials: Officials, city_b: PartnerCityKeys
    ) -> None:
        body = city_body(city_b, tier_map={"A": "A", "B": "C", "C": "D"})
        assert (await put_city(client, officials, body)).status_code == 200
        result = await verify(client, officials, city_b.code("B"))
        assert result["valid"] is True
        assert result["issuing_city"] == CITY_B and result["mapped_tier"] == "C" and result["tier"] == "C"
        assert result["privileges"] == [
            "appointment_booking", "green_channel", "expert_consultation", "health_education", "health_records",
            "foreign_language_service",
        ]  # fmt: skip
        # A scene that does not disclose the tier sees no tier, mapped or not: no more than a local code.
        transit = await verify(client, officials, city_b.code("B"), scene="transit")
        assert transit == {
            "valid": True, "privileges": ["fare_privilege"], "expires_at": transit["expires_at"],
            "issuing_city": CITY_B,
        }  # fmt: skip

    async def test_a_code_of_a_city_not_on_the_list_is_an_untrusted_issuer(
        self, client: httpx.AsyncClient, officials: Officials, city_b: PartnerCityKeys
    ) -> None:
        assert await verify(client, officials, city_b.code()) == {
            "valid": False, "reason": "untrusted_issuer", "privileges": [],
        }  # fmt: skip
        assert (await put_city(client, officials, city_body(city_b))).status_code == 200
        assert (await verify(client, officials, city_b.code(city="310000")))["reason"] == "untrusted_issuer"
        assert (await client.delete(f"/api/v1/admin/trust/cities/{CITY_B}", headers=officials.admin)).status_code == 204
        assert (await verify(client, officials, city_b.code()))["reason"] == "untrusted_issuer"

    async def test_tampered_expired_and_unmapped_codes_are_refused(
        self, client: httpx.AsyncClient, officials: Officials, city_b: PartnerCityKeys
    ) -> None:
        assert (await put_city(client, officials, city_body(city_b))).status_code == 200
        header, payload, signature = city_b.code("D")[len(PREFIX) :].split(".")
        claims = json.loads(jws.get_unverified_claims(f"{header}.{payload}.{signature}"))
        claims["tier"] = "A"  # promoted by hand: the signature no longer matches
        forged_payload = jws.sign(claims, "k", algorithm="HS256").split(".")[1]
        tampered = PREFIX + f"{header}.{forged_payload}.{signature}"
        assert (await verify(client, officials, tampered))["reason"] == "bad_signature"
        assert (await verify(client, officials, city_b.code(lifetime=-60)))["reason"] == "expired"
        assert (await verify(client, officials, city_b.code("E")))["reason"] == "tier_not_recognised"

    async def test_a_rotated_partner_key_is_fetched_once_on_its_first_code(
        self, client: httpx.AsyncClient, officials: Officials, city_b: PartnerCityKeys
    ) -> None:
        assert (await put_city(client, officials, city_body(city_b))).status_code == 200
        city_b.rotate()
        fetches = city_b.requests
        assert (await verify(client, officials, city_b.code()))["valid"] is True
        assert city_b.requests == fetches + 1
        # A forged kid does not turn every verify into a fetch: one refetch per city per interval at most.
        _, private, _ = city_b.keys[-1]
        claims = json.loads(jws.get_unverified_claims(city_b.code()[len(PREFIX) :]))
        for attempt in range(3):
            bogus = PREFIX + jws.sign(claims, private, headers={"kid": f"nope-{attempt}"}, algorithm="ES256")
            assert (await verify(client, officials, bogus))["reason"] == "unknown_key"
        assert city_b.requests == fetches + 1

    async def test_a_failed_fetch_keeps_the_stored_keys(
        self, client: httpx.AsyncClient, officials: Officials, city_b: PartnerCityKeys
    ) -> None:
        assert (await put_city(client, officials, city_body(city_b))).status_code == 200
        city_b.failing = True
        city_b.rotate()
        assert (await verify(client, officials, city_b.code()))["reason"] == "unknown_key"
        assert (await verify(client, officials, city_b.code(kid_index=0)))["valid"] is True


class TestScheduledRefresh:
    async def test_partner_key_sets_are_refetched_on_schedule_without_any_code(
        self, client: httpx.AsyncClient, officials: Officials, city_b: PartnerCityKeys, applicant_app: FastAPI
    ) -> None:
        assert (await put_city(client, officials, city_body(city_b))).status_code == 200
        new_kid = city_b.rotate()

        async def stored_kids() -> set[str]:
            listed = (await client.get("/api/v1/admin/trust/cities", headers=officials.admin)).json()
            return {key["kid"] for key in listed[0]["jwks"]["keys"]}

        assert new_kid not in await stored_kids()
        keys = PartnerKeys(allow_private=True, refetch_min_s=30, refresh_s=0.2, timeout_s=5)
        async with keys.running(applicant_app.state.database):
            await eventually(lambda: _has(stored_kids(), new_kid), what="the rotated key stored by the schedule")


async def _has(kids: Any, kid: str) -> bool:
    return kid in await kids


class TestKeySetUrlsOutsideDev:
    @pytest.mark.parametrize(
        ("url", "why"),
        [
            ("http://keys.partner.example/jwks.json", "must be https"),
            ("ftp://keys.partner.example/jwks.json", "must be https"),
            ("https://user:pw@keys.partner.example/jwks.json", "credentials"),
            ("https://127.0.0.1/jwks.json", "private or loopback"),
            ("https://[::1]/jwks.json", "private or loopback"),
            ("https://[::ffff:10.0.0.1]/jwks.json", "private or loopback"),
            ("https://169.254.169.254/latest/jwks.json", "private or loopback"),
            ("https://localhost/jwks.json", "private or loopback"),
        ],
    )
    async def test_only_https_to_public_addresses_is_fetched(self, url: str, why: str) -> None:
        # Refused before any connection is made: nothing here leaves the machine.
        with pytest.raises(JwksRefused, match=why):
            await fetch_jwks(url, allow_private=False, timeout_s=1.0)
