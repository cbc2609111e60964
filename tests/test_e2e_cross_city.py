"""Two cities, one run (互认互通): city A is the normal stack; city B is a second applicant process of its own
(APPLICANT_ISSUING_CITY=320500, its own database, code keys and broker). A's admin puts B on A's trust list with
B's key-set URL (loopback); a code B issues verifies at A's gateway with the tier A's map gives it and the
privileges of that tier; a city not on the list is an untrusted issuer; a tampered code fails its signature;
when B rotates its keys, A fetches them on the first code with the new kid. A's published trust list verifies
offline with a standard JOSE library.

B has no gateway of its own: the test calls B's applicant directly, with tokens A's gateway signs (B trusts A's
gateway key set, as every service of the stack does). The fixtures (`city_b`, `b_client`, `trusted_b`,
`talent_in_b`, `code_from_b`, `verify_at_a`) are meant to be reused by further two-city steps (revocation seen
offline, settlement of usage). A's use of B's code is settled on A's statement for issuing city B (provisional
figures of the running month: a month is issued only once it has ended)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jws
from joserfc import jws as rfc_jws
from joserfc.jwk import KeySet
from servicekit.testing import TansuBroker, eventually, free_port

from .helpers import Headers, fresh_id_number, official, partner, profile, submit_certification, talent
from .stack import BIN, Stack, _database_url, wait_ready
from .test_e2e_status_list import FakeClock, offline_gate

CITY_A = "330400"
CITY_B = "320500"
# B's tiers as A recognises them: B's E counts as A's D here (a shown difference), B's A is not recognised.
TIER_MAP = {"B": "B", "C": "C", "D": "D", "E": "D"}


@dataclass
class City:
    """A second city: its applicant's base URL and process name (in the stack's processes, stopped with it)."""

    code: str
    url: str
    process: str
    broker: TansuBroker

    @property
    def jwks_url(self) -> str:
        # B's talent-code key set straight from its applicant (a real city publishes it through its gateway at
        # /.well-known/talent-code/jwks.json; the document is the same).
        return f"{self.url}/internal/code-keys"


@pytest.fixture(scope="module")
def city_b(stack: Stack) -> Iterator[City]:
    """City B: an applicant process with its own city code, database, code-key sealing key and broker."""
    broker = TansuBroker().start()
    port = free_port()
    name = "applicant-city-b"
    env = {
        **stack.env["applicant"],
        "APPLICANT_ISSUING_CITY": CITY_B,
        "APPLICANT_DATABASE_URL": _database_url(name, stack.workdir, stack.databases),
        "APPLICANT_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "APPLICANT_CODE_KEY_ENCRYPTION_KEYS": "b1:dev-insecure-city-b-code-key-sealing-key",
        "APPLICANT_PSEUDONYM_KEY": "dev-insecure-city-b-pseudonym-key",
        # B's codes name B's own revocation status list (B's origin; a real city's is its gateway).
        "APPLICANT_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    stack.start_process(name, [str(BIN / "applicant"), "serve", "--port", str(port)], env)
    city = City(code=CITY_B, url=f"http://127.0.0.1:{port}", process=name, broker=broker)
    try:
        wait_ready(city.url, process=stack.processes[name])
        yield city
    finally:
        process = stack.processes[name]
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
        broker.stop()


@pytest.fixture
async def b_client(city_b: City) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=city_b.url, timeout=30.0) as client:
        yield client


@pytest.fixture
async def admin_a(gateway: httpx.AsyncClient) -> Headers:
    return await official(gateway, "admin")


@pytest.fixture
async def trusted_b(gateway: httpx.AsyncClient, admin_a: Headers, city_b: City) -> dict[str, Any]:
    """B on A's trust list (idempotent PUT, the key set fetched from B's URL): A's view of B."""
    # B's first key is made on first use: have B make it before A fetches (A's fetch has a timeout of 5 s).
    async with httpx.AsyncClient(timeout=60.0) as client:
        assert (await client.get(city_b.jwks_url)).status_code == 200
    body = {"name": "苏州市 (city B)", "jwks_url": city_b.jwks_url, "tier_map": TIER_MAP}
    # A fetches B's key set while it answers: on a loaded machine that takes longer than the client's default.
    response = await gateway.put(f"/api/v1/admin/trust/cities/{city_b.code}", json=body, headers=admin_a, timeout=60.0)
    assert response.status_code == 200, response.text
    registered: dict[str, Any] = response.json()
    return registered


async def talent_in_b(gateway: httpx.AsyncClient, b_client: httpx.AsyncClient) -> Headers:
    """A talent certified (tier E) by city B's own officials' decisions: headers valid at B's applicant."""
    auth = await talent(gateway)
    stored = await b_client.put("/api/v1/me/profile", json=profile(fresh_id_number()), headers=auth)
    assert stored.status_code == 200, stored.text
    certification_id = await submit_certification(b_client, auth)
    for username in ("reviewer.nanhu", "approver.city"):
        decision = await b_client.post(
            f"/api/v1/reviews/certifications/{certification_id}/decisions",
            json={"decision": "approve", "tier": "E", "reason": "diploma checked"},
            headers=await official(gateway, username),
        )
        assert decision.status_code == 200, decision.text
    return auth


async def code_from_b(b_client: httpx.AsyncClient, auth: Headers) -> str:
    issued = await b_client.get("/api/v1/me/code", headers=auth)
    assert issued.status_code == 200, issued.text
    code: str = issued.json()["code"]
    return code


async def verify_at_a(gateway: httpx.AsyncClient, code: str, scene: str = "hospital") -> dict[str, Any]:
    """A partner of city A (the dev hospital or transit) verifies a code at A's gateway."""
    response = await gateway.post(
        "/api/v1/codes/verify", json={"code": code, "scene": scene}, headers=await partner(gateway, f"partner.{scene}")
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _claims(code: str) -> dict[str, Any]:
    segment = code.removeprefix("TC1:").split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    return decoded


class TestCodeFromCityBVerifiedInCityA:
    async def test_a_code_b_issued_verifies_at_a_with_the_mapped_tier_and_its_privileges(
        self, gateway: httpx.AsyncClient, b_client: httpx.AsyncClient, trusted_b: dict[str, Any], city_b: City
    ) -> None:
        assert trusted_b["jwks"]["keys"] and trusted_b["fetched_at"] is not None
        code = await code_from_b(b_client, await talent_in_b(gateway, b_client))
        assert _claims(code)["city"] == CITY_B and _claims(code)["tier"] == "E"

        result = await verify_at_a(gateway, code)
        assert result["valid"] is True, result
        assert result["issuing_city"] == CITY_B and result["mapped_tier"] == "D" and result["tier"] == "D"
        assert result["privileges"] == ["appointment_booking", "green_channel", "health_education", "health_records"]
        assert set(result) <= {"valid", "tier", "privileges", "expires_at", "issuing_city", "mapped_tier"}
        # The transit scene sees no tier of a local code, nor of a foreign one.
        transit = await verify_at_a(gateway, code, scene="transit")
        assert transit["valid"] is True and "tier" not in transit and "mapped_tier" not in transit

    async def test_a_city_not_on_the_list_is_an_untrusted_issuer(
        self, gateway: httpx.AsyncClient, trusted_b: dict[str, Any]
    ) -> None:
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        now = int(time.time())
        claims = {"sub": "tp_elsewhere", "tier": "A", "city": "310100", "iat": now, "exp": now + 300}
        signed = jws.sign(claims, jwk.construct(pem, "ES256"), headers={"kid": "sh-1", "typ": "TC1"}, algorithm="ES256")
        assert await verify_at_a(gateway, "TC1:" + signed) == {
            "valid": False, "reason": "untrusted_issuer", "privileges": [],
        }  # fmt: skip

    async def test_a_tampered_code_from_b_fails_its_signature(
        self, gateway: httpx.AsyncClient, b_client: httpx.AsyncClient, trusted_b: dict[str, Any]
    ) -> None:
        code = await code_from_b(b_client, await talent_in_b(gateway, b_client))
        header, _, signature = code.removeprefix("TC1:").split(".")
        claims = {**_claims(code), "tier": "B"}  # promoted by hand
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        result = await verify_at_a(gateway, f"TC1:{header}.{payload}.{signature}")
        assert result == {"valid": False, "reason": "bad_signature", "privileges": []}

    async def test_when_b_rotates_its_keys_a_fetches_them_on_the_first_code_with_the_new_kid(
        self, gateway: httpx.AsyncClient, b_client: httpx.AsyncClient, trusted_b: dict[str, Any], admin_a: Headers
    ) -> None:
        known = {key["kid"] for key in trusted_b["jwks"]["keys"]}
        # B's admin rotates B's code key (B trusts the same token issuer as A in this run).
        rotated = await b_client.post("/api/v1/admin/code-keys/rotate", headers=admin_a)
        assert rotated.status_code == 200, rotated.text
        new_kid = rotated.json()["kid"]
        assert new_kid not in known
        code = await code_from_b(b_client, await talent_in_b(gateway, b_client))
        assert jws.get_unverified_header(code.removeprefix("TC1:"))["kid"] == new_kid

        result = await verify_at_a(gateway, code)
        assert result["valid"] is True and result["issuing_city"] == CITY_B, result
        [b_now] = [
            c
            for c in (await gateway.get("/api/v1/admin/trust/cities", headers=admin_a)).json()
            if c["city_code"] == CITY_B
        ]
        assert new_kid in {key["kid"] for key in b_now["jwks"]["keys"]}


class TestPublishedTrustList:
    async def test_as_trust_list_names_b_and_verifies_offline_with_joserfc(
        self, gateway: httpx.AsyncClient, trusted_b: dict[str, Any], city_b: City
    ) -> None:
        published = (await gateway.get("/api/v1/trust/cities")).json()
        assert {"city_code": CITY_B, "name": "苏州市 (city B)", "jwks_url": city_b.jwks_url, "tier_map": TIER_MAP} in (
            published["items"]
        )
        key_set = KeySet.import_key_set((await gateway.get("/api/v1/trust/keys")).json())
        token = rfc_jws.deserialize_compact(published["signed"], key_set, algorithms=["ES256"])
        payload = json.loads(token.payload)
        assert payload["iss"] == CITY_A and payload["items"] == published["items"]


def _city_month() -> str:
    return (datetime.now(UTC) + timedelta(hours=8)).strftime("%Y-%m")


def _client_id(headers: Headers) -> str:
    """The partner's client id: the `sub` of the token A's gateway gave it (a statement's `partner`)."""
    token = headers["Authorization"].removeprefix("Bearer ")
    return str(json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))["sub"])


class TestUsageInASettledForB:
    async def test_a_code_from_b_used_in_a_is_on_as_statement_for_issuing_city_b(
        self, gateway: httpx.AsyncClient, b_client: httpx.AsyncClient, trusted_b: dict[str, Any], admin_a: Headers
    ) -> None:
        month = _city_month()
        finance = await official(gateway, "finance.city")
        hospital = await partner(gateway, "partner.hospital")
        hospital_id = _client_id(hospital)

        async def statement_for_b() -> dict[str, Any] | None:
            answer = await gateway.get(f"/api/v1/settlements?month={month}", headers=finance)
            assert answer.status_code == 200, answer.text
            assert answer.json()["provisional"] is True  # the month is running: figures so far
            found = [s for s in answer.json()["items"] if (s["partner"], s["issuing_city"]) == (hospital_id, CITY_B)]
            return found[0] if found else None

        before = await statement_for_b()
        code = await code_from_b(b_client, await talent_in_b(gateway, b_client))
        assert (await verify_at_a(gateway, code))["privileges"]  # granted: a use to settle

        async def counted() -> dict[str, Any] | None:
            now = await statement_for_b()
            return now if now and now["verifications"] > (before["verifications"] if before else 0) else None

        statement = await eventually(counted, timeout=60, what="the use settled on A's statement for B")
        # A's hospital only verifies in its scene: every privilege it granted to a B code counts once per use.
        privileges = {"appointment_booking", "green_channel", "health_education", "health_records"}
        assert {line["privilege"] for line in statement["lines"]} == privileges
        prices = (await gateway.get("/api/v1/admin/rules/benefits/settlement_prices", headers=admin_a)).json()
        for line in statement["lines"]:
            assert line["scene"] == "hospital" and line["count"] == statement["verifications"]
            in_force = [p for p in prices["document"]["prices"] if p["privilege"] == line["privilege"]]
            in_force = [p for p in in_force if p["valid_from"] <= f"{month}-01"] or in_force
            assert line["unit_price_fen"] == max(in_force, key=lambda p: p["valid_from"])["price_fen"]
            assert line["amount_fen"] == line["count"] * line["unit_price_fen"]
        assert statement["total_fen"] == sum(line["amount_fen"] for line in statement["lines"])

        # The hospital reads its own statements only; the running month cannot be issued yet.
        own = (await gateway.get(f"/api/v1/settlements?month={month}", headers=hospital)).json()
        assert own["items"] and {s["partner"] for s in own["items"]} == {hospital_id}
        early = await gateway.post("/api/v1/finance/settlements", json={"month": month}, headers=finance)
        assert early.status_code == 422, early.text


class TestRevocationInBSeenOfflineInA:
    async def test_a_gate_in_a_refuses_bs_code_once_b_revokes_its_holder_and_bs_list_says_so(
        self, gateway: httpx.AsyncClient, b_client: httpx.AsyncClient, trusted_b: dict[str, Any], city_b: City,
        admin_a: Headers,
    ) -> None:  # fmt: skip
        auth = await talent_in_b(gateway, b_client)
        code = await code_from_b(b_client, auth)
        entry = _claims(code)["status"]["status_list"]
        assert entry["uri"] == f"{city_b.url}/api/v1/codes/status-list"
        # A gate of city A trusting B's key set (the URL on A's trust list): B's code names B's list.
        seen: list[str] = []
        clock = FakeClock()
        with httpx.Client(timeout=10.0, event_hooks={"request": [lambda r: seen.append(str(r.url))]}) as http:
            gate = offline_gate.OfflineGate({CITY_B: trusted_b["jwks_url"]}, http=http, clock=clock)
            accepted = gate.check(code)
            assert (accepted.accepted, accepted.city, accepted.tier) == (True, CITY_B, "E")

            talent_id = (await b_client.get("/api/v1/me/talent", headers=auth)).json()["talent_id"]
            revoked = await b_client.post(
                f"/api/v1/admin/talents/{talent_id}/revoke", json={"reason": "失信"}, headers=admin_a
            )
            assert revoked.status_code == 200, revoked.text

            def refused_after_a_refresh() -> bool:
                clock.now += 60  # the gate's next refresh is due
                return bool(gate.check(code).reason == "revoked")

            await eventually(
                refused_after_a_refresh, timeout=70.0, interval=0.5, what="B's revocation seen offline in A"
            )
        assert all(url.startswith(city_b.url) for url in seen)  # B's key set and B's list, nothing of A's API
        assert not any("/codes/verify" in url for url in seen)


class TestRevocationInBRefusedByAsVerify:
    async def test_as_verify_answers_revoked_once_b_revokes_the_holder_and_bs_list_says_so(
        self, gateway: httpx.AsyncClient, b_client: httpx.AsyncClient, trusted_b: dict[str, Any], admin_a: Headers
    ) -> None:
        auth = await talent_in_b(gateway, b_client)
        code = await code_from_b(b_client, auth)
        assert (await verify_at_a(gateway, code))["valid"] is True  # A has read B's list: the bit is 0

        talent_id = (await b_client.get("/api/v1/me/talent", headers=auth)).json()["talent_id"]
        revoked = await b_client.post(
            f"/api/v1/admin/talents/{talent_id}/revoke", json={"reason": "失信"}, headers=admin_a
        )
        assert revoked.status_code == 200, revoked.text

        async def refused_at_a() -> bool:
            answer = await verify_at_a(gateway, code)
            return bool(answer["valid"] is False and answer["reason"] == "revoked" and not answer.get("privileges"))

        # A keeps B's list for its ttl (B's default: 60 s), then reads the one with the bit set.
        await eventually(refused_at_a, timeout=180.0, interval=2.0, what="B's revocation refused by A's verify")
