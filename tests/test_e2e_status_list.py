"""The offline gate (examples/offline_gate.py, the example code itself) against the running platform: it accepts a
certified talent's code with only the talent-code key set and the status list; once an admin revokes the talent
and the published list has the talent's bit set, the gate's next refresh (one ttl later) refuses the same code,
without ever calling the verify API, and the verify API agrees. The list is a Status List Token that verifies
with joserfc under the key set at /.well-known/talent-code/jwks.json."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from applicant import status_list
from joserfc import jwt
from joserfc.jwk import KeySet
from servicekit.testing import eventually

from .helpers import certified_talent, official, partner
from .stack import Stack

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "offline_gate.py"
CITY = "330400"


def load_example() -> ModuleType:
    """examples/offline_gate.py as a module (examples/ is not a package: it is what a partner would copy)."""
    spec = importlib.util.spec_from_file_location("offline_gate", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


offline_gate = load_example()


class FakeClock:
    """The gate's clock: the test moves it past a list's ttl instead of waiting a minute."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def requests_seen() -> list[str]:
    return []


@pytest.fixture
def gate_http(requests_seen: list[str]) -> Iterator[httpx.Client]:
    """The gate's HTTP client, recording every path it asks for."""

    def record(request: httpx.Request) -> None:
        requests_seen.append(request.url.path)

    with httpx.Client(timeout=10.0, event_hooks={"request": [record]}) as client:
        yield client


async def _bit_of(gateway: httpx.AsyncClient, idx: int) -> int:
    """The talent's bit in the list the platform serves now, the token checked with joserfc."""
    keys = KeySet.import_key_set((await gateway.get("/.well-known/talent-code/jwks.json")).json())
    response = await gateway.get("/api/v1/codes/status-list")
    assert response.status_code == 200 and response.headers["content-type"] == "application/statuslist+jwt"
    token = jwt.decode(response.text, keys, algorithms=["ES256"])
    assert token.header["typ"] == "statuslist+jwt"
    return status_list.bit_at(status_list.decode(token.claims["status_list"]["lst"]), idx)


class TestOfflineGate:
    async def test_a_revoked_talents_code_is_refused_offline_after_the_next_refresh_and_the_api_agrees(
        self, stack: Stack, gateway: httpx.AsyncClient, gate_http: httpx.Client, requests_seen: list[str]
    ) -> None:
        talent_id, auth = await certified_talent(gateway)
        issued = await gateway.get("/api/v1/me/code", headers=auth)
        assert issued.status_code == 200, issued.text
        code = issued.json()["code"]
        clock = FakeClock()
        gate = offline_gate.OfflineGate(
            {CITY: f"{stack.gateway_url}/.well-known/talent-code/jwks.json"}, http=gate_http, clock=clock
        )

        accepted = gate.check(code)
        assert (accepted.accepted, accepted.city, accepted.tier) == (True, CITY, "E")
        assert gate.check(code).accepted and gate.status_list_fetches == 1  # the list is held for its ttl

        revoked = await gateway.post(
            f"/api/v1/admin/talents/{talent_id}/revoke",
            json={"reason": "失信"},
            headers=await official(gateway, "admin"),
        )
        assert revoked.status_code == 200, revoked.text
        idx = offline_gate.jwt.decode(code[4:], options={"verify_signature": False})["status"]["status_list"]["idx"]

        async def published() -> bool:
            return await _bit_of(gateway, idx) == 1

        # At once here (one applicant process); a change made by another replica within status_list_cache_s.
        await eventually(published, timeout=70.0, interval=0.5, what="the talent's bit set in the status list")

        assert gate.check(code).accepted  # within its ttl the gate still holds the list it fetched
        clock.now += 60
        refused = gate.check(code)
        assert (refused.accepted, refused.reason) == (False, "revoked")
        assert gate.status_list_fetches == 2
        assert not any(path.endswith("/codes/verify") for path in requests_seen)
        assert set(requests_seen) == {"/.well-known/talent-code/jwks.json", "/api/v1/codes/status-list"}

        verify = await gateway.post(
            "/api/v1/codes/verify",
            json={"code": code, "scene": "hospital"},
            headers=await partner(gateway, "partner.hospital"),
        )
        assert verify.json() == {"valid": False, "reason": "revoked", "privileges": []}

    async def test_a_tampered_code_and_an_unknown_city_are_refused_offline(
        self, stack: Stack, gateway: httpx.AsyncClient, gate_http: httpx.Client
    ) -> None:
        _, auth = await certified_talent(gateway)
        code = (await gateway.get("/api/v1/me/code", headers=auth)).json()["code"]
        gate = offline_gate.OfflineGate(
            {CITY: f"{stack.gateway_url}/.well-known/talent-code/jwks.json"}, http=gate_http
        )
        header, payload, signature = code[4:].split(".")
        forged = f"TC1:{header}.{payload}.{signature[:-4]}AAAA"
        assert gate.check(forged).reason == "bad_signature"
        elsewhere = offline_gate.OfflineGate({"320500": "http://127.0.0.1:9/jwks.json"}, http=gate_http)
        assert elsewhere.check(code).reason == "untrusted_issuer"
        assert gate.check("not a code").reason == "malformed"
