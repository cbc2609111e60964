"""A partner city's revoked code is refused by our verify too: the code's status entry is read from the ISSUING
city's own status list, fetched only from that city's key-set origin and verified under that city's keys, cached
for its ttl, the last good list kept through failed refetches, and no list at all failing closed."""

from __future__ import annotations

import base64
import json
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from applicant.codes import PREFIX, CodeRejected
from applicant.trust.models import PartnerCity
from applicant.trust.status import PartnerStatusLists
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jwk, jws

from .conftest import Officials

CITY_B, CITY_C = "320500", "320200"


def _key(kid: str) -> tuple[Any, dict[str, Any]]:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    private = jwk.construct(pem, "ES256")
    public = private.public_key().to_dict()
    public.update({"kid": kid, "use": "sig", "alg": "ES256"})
    return private, public


class City:
    """A partner city on a loopback port: its key set at /jwks.json and its status list at /status-list."""

    def __init__(self, code: str) -> None:
        self.city_code = code
        self.kid = f"{code}-{time.monotonic_ns()}"
        self.private, self.public = _key(self.kid)
        self.revoked: set[int] = set()
        self.ttl = 300
        self.failing = False
        self.list_requests = 0
        self.signer: Any = None  # another city's key signing this city's list (a forgery), or None
        self.typ = "statuslist+jwt"
        self.rotated: list[dict[str, Any]] = []  # public keys published after registration
        self.sub: str | None = None  # a `sub` other than the list's URI, or None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/jwks.json":
                    status, body, kind = (
                        200,
                        json.dumps({"keys": [owner.public, *owner.rotated]}).encode(),
                        "application/json",
                    )
                else:
                    owner.list_requests += 1
                    status, body, kind = (503, b"down", "text/plain") if owner.failing else owner.list_response()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def list_uri(self) -> str:
        return f"{self.origin}/status-list"

    def list_token(self) -> str:
        bits = bytearray(128)
        for idx in self.revoked:
            bits[idx // 8] |= 1 << (idx % 8)  # least significant bit first, as our own lists are written
        lst = base64.urlsafe_b64encode(zlib.compress(bytes(bits))).rstrip(b"=").decode()
        now = int(time.time())
        claims = {"sub": self.sub or self.list_uri, "iat": now, "exp": now + 3600, "ttl": self.ttl}
        claims["status_list"] = {"bits": 1, "lst": lst}
        private, kid = (self.private, self.kid) if self.signer is None else self.signer
        return str(jws.sign(claims, private, headers={"kid": kid, "typ": self.typ}, algorithm="ES256"))

    def list_response(self) -> tuple[int, bytes, str]:
        return 200, self.list_token().encode(), "application/statuslist+jwt"

    def code(self, idx: int | None = 5, *, uri: str | None = None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {"sub": "tp_partnertalent", "tier": "B", "city": self.city_code, "iat": now}
        claims["exp"] = now + 300
        if idx is not None:
            claims["status"] = {"status_list": {"idx": idx, "uri": uri or self.list_uri}}
        return PREFIX + jws.sign(claims, self.private, headers={"kid": self.kid, "typ": "TC1"}, algorithm="ES256")

    def row(self) -> PartnerCity:
        return PartnerCity(
            city_code=self.city_code,
            name=self.city_code,
            jwks_url=f"{self.origin}/jwks.json",
            jwks=json.dumps({"keys": [self.public]}),
            tier_map=json.dumps({"B": "B"}),
        )

    async def key_of(self, kid: str) -> Any:
        return jwk.construct(self.public, "ES256") if kid == self.kid else None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def city_b() -> Iterator[City]:
    city = City(CITY_B)
    yield city
    city.close()


@pytest.fixture
def city_c() -> Iterator[City]:
    city = City(CITY_C)
    yield city
    city.close()


async def register(client: httpx.AsyncClient, officials: Officials, city: City) -> None:
    body = {"name": city.city_code, "jwks_url": f"{city.origin}/jwks.json", "jwks": {"keys": [city.public]}}
    body["tier_map"] = {"B": "B"}
    response = await client.put(f"/api/v1/admin/trust/cities/{city.city_code}", json=body, headers=officials.admin)
    assert response.status_code == 200, response.text


async def verify(client: httpx.AsyncClient, officials: Officials, code: str) -> Any:
    response = await client.post(
        "/api/v1/codes/verify", json={"code": code, "scene": "hospital"}, headers=officials.partner("hospital")
    )
    assert response.status_code == 200, response.text
    return response.json()


async def reason(lists: PartnerStatusLists, city: City, code: str) -> str | None:
    """What the status check says of `code` (None: not refused)."""
    claims = json.loads(jws.get_unverified_claims(code.removeprefix(PREFIX)))
    try:
        await lists.check(city.row(), claims.get("status"), city.key_of, datetime.now(UTC))
    except CodeRejected as rejected:
        return rejected.reason
    return None


def status_lists(refetch_min_s: float = 30.0) -> PartnerStatusLists:
    return PartnerStatusLists(allow_private=True, refetch_min_s=refetch_min_s, timeout_s=5.0)


class TestRevokedAtTheIssuingCity:
    async def test_a_code_whose_bit_is_set_in_its_citys_list_answers_revoked_at_our_verify(
        self, client: httpx.AsyncClient, officials: Officials, city_b: City
    ) -> None:
        await register(client, officials, city_b)
        city_b.revoked = {13}
        assert (await verify(client, officials, city_b.code(5)))["valid"] is True
        refused = await verify(client, officials, city_b.code(13))
        assert (refused["valid"], refused["reason"]) == (False, "revoked")
        assert "privileges" not in refused or not refused["privileges"]

    async def test_a_code_without_a_status_claim_is_judged_by_signature_and_lifetime_alone(
        self, client: httpx.AsyncClient, officials: Officials, city_b: City
    ) -> None:
        await register(client, officials, city_b)
        city_b.failing = True
        assert (await verify(client, officials, city_b.code(None)))["valid"] is True
        assert city_b.list_requests == 0

    async def test_a_malformed_status_claim_is_refused(self, city_b: City) -> None:
        lists = status_lists()
        now = int(time.time())
        claims = {"sub": "x", "tier": "B", "city": CITY_B, "iat": now, "exp": now + 60, "status": {"idx": 1}}
        code = PREFIX + jws.sign(claims, city_b.private, headers={"kid": city_b.kid}, algorithm="ES256")
        assert await reason(lists, city_b, code) == "malformed"
        assert await reason(lists, city_b, city_b.code(10_000)) == "status_unavailable"  # beyond the list


class TestOnlyTheIssuingCitySpeaks:
    async def test_a_list_signed_by_another_trusted_citys_key_is_refused(
        self, client: httpx.AsyncClient, officials: Officials, city_b: City, city_c: City
    ) -> None:
        await register(client, officials, city_b)
        await register(client, officials, city_c)
        city_b.signer = (city_c.private, city_c.kid)  # C, trusted for its own codes, forges B's "nothing revoked"
        answer = await verify(client, officials, city_b.code(5))
        assert (answer["valid"], answer["reason"]) == (False, "status_unavailable")

    async def test_a_list_signed_by_the_citys_freshly_rotated_key_makes_us_fetch_its_key_set_once(
        self, client: httpx.AsyncClient, officials: Officials, city_b: City
    ) -> None:
        await register(client, officials, city_b)
        new_kid = f"{CITY_B}-rotated"
        new_private, new_public = _key(new_kid)
        city_b.rotated, city_b.signer = [new_public], (new_private, new_kid)
        answer = await verify(client, officials, city_b.code(5))  # the code under the old key, the list the new
        assert answer["valid"] is True, answer

    async def test_a_status_uri_on_another_origin_is_never_fetched(
        self, client: httpx.AsyncClient, officials: Officials, city_b: City, city_c: City
    ) -> None:
        await register(client, officials, city_b)
        answer = await verify(client, officials, city_b.code(5, uri=city_c.list_uri))
        assert (answer["valid"], answer["reason"]) == (False, "status_uri_untrusted")
        assert city_c.list_requests == 0

    async def test_a_list_whose_sub_is_not_the_uri_or_whose_typ_is_wrong_is_refused(self, city_b: City) -> None:
        lists = status_lists(refetch_min_s=0)
        city_b.sub = f"{city_b.origin}/another-list"
        assert await reason(lists, city_b, city_b.code(5)) == "status_unavailable"
        city_b.sub, city_b.typ = None, "JWT"
        assert await reason(lists, city_b, city_b.code(5)) == "status_unavailable"
        city_b.typ = "statuslist+jwt"
        assert await reason(lists, city_b, city_b.code(5)) is None


class TestCachingAndOutages:
    async def test_a_list_is_fetched_once_within_its_ttl_and_again_after_it(
        self, city_b: City, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        lists = status_lists()
        city_b.ttl = 60
        assert await reason(lists, city_b, city_b.code(5)) is None
        city_b.revoked = {5}
        assert await reason(lists, city_b, city_b.code(5)) is None  # the cached list, still within its ttl
        assert await reason(lists, city_b, city_b.code(6)) is None
        assert city_b.list_requests == 1
        later = time.monotonic() + 61
        monkeypatch.setattr("applicant.trust.status.time.monotonic", lambda: later)
        assert await reason(lists, city_b, city_b.code(5)) == "revoked"
        assert city_b.list_requests == 2

    async def test_the_ttl_is_capped_at_five_minutes(self, city_b: City, monkeypatch: pytest.MonkeyPatch) -> None:
        lists = status_lists()
        city_b.ttl = 86_400
        assert await reason(lists, city_b, city_b.code(5)) is None
        city_b.revoked = {5}
        later = time.monotonic() + 301
        monkeypatch.setattr("applicant.trust.status.time.monotonic", lambda: later)
        assert await reason(lists, city_b, city_b.code(5)) == "revoked"

    async def test_an_unreachable_list_keeps_the_last_good_one_and_is_retried_at_most_once_per_interval(
        self, city_b: City, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        lists = status_lists(refetch_min_s=30)
        city_b.ttl = 0
        city_b.revoked = {7}
        assert await reason(lists, city_b, city_b.code(7)) == "revoked"
        city_b.failing = True
        for _ in range(5):
            assert await reason(lists, city_b, city_b.code(7)) == "revoked"  # the last good list, until its exp
            assert await reason(lists, city_b, city_b.code(5)) is None
        assert city_b.list_requests == 2  # one good fetch, one failed retry, then none within 30 s
        later = time.monotonic() + 31
        monkeypatch.setattr("applicant.trust.status.time.monotonic", lambda: later)
        await reason(lists, city_b, city_b.code(7))
        assert city_b.list_requests == 3

    async def test_with_no_list_ever_obtained_a_code_with_a_status_claim_fails_closed(
        self, client: httpx.AsyncClient, officials: Officials, city_b: City
    ) -> None:
        await register(client, officials, city_b)
        city_b.failing = True
        answer = await verify(client, officials, city_b.code(5))
        assert (answer["valid"], answer["reason"]) == (False, "status_unavailable")
        assert not answer.get("privileges")


class TestOutsideDev:
    @pytest.mark.parametrize(
        "origin", ["http://keys.partner.example", "https://127.0.0.1", "https://[::1]", "https://localhost"]
    )
    async def test_only_https_lists_on_public_addresses_are_fetched(self, origin: str, city_b: City) -> None:
        # Refused before any connection is made: nothing here leaves the machine.
        lists = PartnerStatusLists(allow_private=False, refetch_min_s=0, timeout_s=1.0)
        row = city_b.row()
        row.jwks_url = f"{origin}/jwks.json"
        code = city_b.code(5, uri=f"{origin}/status-list")
        claims = json.loads(jws.get_unverified_claims(code.removeprefix(PREFIX)))
        with pytest.raises(CodeRejected) as refused:
            await lists.check(row, claims["status"], city_b.key_of, datetime.now(UTC))
        assert refused.value.reason in {"status_uri_untrusted", "status_unavailable"}
        assert city_b.list_requests == 0
