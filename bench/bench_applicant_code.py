"""Talent code: code refresh (GET /api/v1/me/code) and partner verify (POST /api/v1/codes/verify), through
the gateway and straight to the applicant service with the same token and the same worker count; plus
offline verifications per second per core (a pure python-jose loop over the published JWKS).

Figures: requests/s, p50 and p99 of each, the gateway/direct throughput ratio (target ≥ 0.6) and
verify through the gateway (target ≥ 1,000 requests/s). The stack is the real one of the cross-service
tests (every process on this machine, SQLite unless TEST_DATABASE_URL points at PostgreSQL, the Tansu broker);
the gateway's rate limits are switched off because this measures throughput, not the limits. The load
generator runs in this process and shares the machine's cores with the gateway and the service, so the
figures are a floor for a deployment where they have cores of their own.

Run: `uv run python -m bench.bench_applicant_code` (BENCH_SECONDS=10 and BENCH_CONCURRENCY=32 by default).
Writes bench/results/applicant_code.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from typing import Any

import httpx
from jose import jwk, jws
from servicekit.testing import TansuBroker

from bench.common import Figure, LoadStats, closed_loop, write_results
from tests.stack import running_stack
from tests.test_e2e_registration import resident_id, sign_in_with_otp

SCENARIO = "applicant_code"
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
OFFLINE_VERIFICATIONS = 5_000
VERIFY_TARGET_RPS = 1_000.0
# The dev accounts of shared/API.md (the stack runs with TALENT_ENV=dev).
DEV_PASSWORD = "dev-password"  # noqa: S105
DEV_PARTNER_SECRET = "dev-secret"  # noqa: S105
GATEWAY_RATIO_TARGET = 0.6

PROFILE: dict[str, Any] = {
    "name": "基准测试",
    "id_type": "resident_id",
    "birth_date": "1990-05-17",
    "locale": "zh-CN",
    "region_code": "330402",
    "education": {"degree": "doctor", "school": "浙江大学", "graduated_on": "2020-07-01"},
    "employer": {"name": "嘉兴某研究院", "credit_code": "91330402MA2B3C4D53", "region_code": "330402"},
    "social_insurance_months": 24,
    "owns_home_in_city": False,
}


async def _token(client: httpx.AsyncClient, **form: str) -> str:
    response = await client.post("/api/v1/auth/token", data=form)
    response.raise_for_status()
    return str(response.json()["access_token"])


async def prepare(gateway_url: str) -> tuple[str, str, str]:
    """A certified talent's token, a hospital partner's token, and one fresh code."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        talent = await sign_in_with_otp(client, f"+86137{random.randrange(10**8):08d}")
        auth = {"Authorization": f"Bearer {talent}"}
        profile = {**PROFILE, "id_number": resident_id(birth="19900517", sequence=f"{random.randrange(1000):03d}")}
        (await client.put("/api/v1/me/profile", json=profile, headers=auth)).raise_for_status()
        evidence = [{"kind": "diploma", "reference": "bench", "sha256": "0" * 64}]
        submitted = await client.post(
            "/api/v1/me/certifications",
            json={"route": "degree", "claimed_tier": "D", "evidence": evidence},
            headers=auth,
        )
        submitted.raise_for_status()
        decisions = f"/api/v1/reviews/certifications/{submitted.json()['id']}/decisions"
        for official in ("reviewer.nanhu", "approver.city"):
            token = await _token(client, grant_type="password", username=official, password=DEV_PASSWORD)
            decided = await client.post(
                decisions, json={"decision": "approve", "reason": "bench"}, headers={"Authorization": f"Bearer {token}"}
            )
            decided.raise_for_status()
        partner = await _token(
            client, grant_type="client_credentials", client_id="partner.hospital", client_secret=DEV_PARTNER_SECRET
        )
        code = (await client.get("/api/v1/me/code", headers=auth)).json()["code"]
        return talent, partner, str(code)


async def measure(base_url: str, talent: str, partner: str, code: str) -> dict[str, LoadStats]:
    code_headers = {"Authorization": f"Bearer {talent}"}
    verify_headers = {"Authorization": f"Bearer {partner}"}
    verify_body = json.dumps({"code": code, "scene": "hospital"})

    async def refresh(client: httpx.AsyncClient) -> httpx.Response:
        return await client.get(f"{base_url}/api/v1/me/code", headers=code_headers)

    async def verify(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post(
            f"{base_url}/api/v1/codes/verify",
            content=verify_body,
            headers={**verify_headers, "content-type": "application/json"},
        )

    def valid(response: httpx.Response) -> bool:
        return response.status_code == 200 and response.json().get("valid") is True

    return {
        "code": await closed_loop(refresh, concurrency=CONCURRENCY, duration_s=SECONDS),
        "verify": await closed_loop(verify, concurrency=CONCURRENCY, duration_s=SECONDS, ok=valid),
    }


def offline_rate(jwks: dict[str, Any], code: str) -> float:
    """Verifications per second on one core: header, key by kid (built once), signature, claims, expiry."""
    keys = {k["kid"]: jwk.construct(k, "ES256") for k in jwks["keys"] if k.get("kid", "").startswith("tc-")}
    started = time.perf_counter()
    for _ in range(OFFLINE_VERIFICATIONS):
        token = code.removeprefix("TC1:")
        key = keys[jws.get_unverified_header(token)["kid"]]
        claims = json.loads(jws.verify(token, key, algorithms=["ES256"]))
        assert claims["exp"] > time.time()
    return OFFLINE_VERIFICATIONS / (time.perf_counter() - started)


def figures_of(name: str, via: LoadStats, direct: LoadStats, target_rps: float | None) -> list[Figure]:
    ratio = via.rps / direct.rps if direct.rps else 0.0
    return [
        Figure(SCENARIO, f"{name} via gateway", "req/s", via.rps, target_rps, baseline=direct.rps),
        Figure(SCENARIO, f"{name} via gateway p50", "ms", via.percentile(0.5), None, False),
        Figure(SCENARIO, f"{name} via gateway p99", "ms", via.percentile(0.99), None, False),
        Figure(SCENARIO, f"{name} direct", "req/s", direct.rps),
        Figure(SCENARIO, f"{name} direct p50", "ms", direct.percentile(0.5), None, False),
        Figure(SCENARIO, f"{name} direct p99", "ms", direct.percentile(0.99), None, False),
        Figure(SCENARIO, f"{name} gateway/direct throughput", "ratio", ratio, GATEWAY_RATIO_TARGET),
        Figure(SCENARIO, f"{name} errors (via + direct)", "requests", float(via.errors + direct.errors), 0, False),
    ]


async def run() -> list[Figure]:
    os.environ.setdefault("GATEWAY_RATE_LIMIT_ENABLED", "false")
    broker = TansuBroker().start()
    try:
        with running_stack(broker) as stack:
            talent, partner, code = await prepare(stack.gateway_url)
            via = await measure(stack.gateway_url, talent, partner, code)
            direct = await measure(stack.service_urls["applicant"], talent, partner, code)
            async with httpx.AsyncClient() as client:
                jwks = (await client.get(f"{stack.gateway_url}/.well-known/jwks.json")).json()
    finally:
        broker.stop()
    figures = figures_of("GET /me/code", via["code"], direct["code"], None)
    figures += figures_of("POST /codes/verify", via["verify"], direct["verify"], VERIFY_TARGET_RPS)
    figures.append(Figure(SCENARIO, "offline verifications per core", "verif/s", offline_rate(jwks, code)))
    return figures


def main() -> None:
    write_results(SCENARIO, asyncio.run(run()))


if __name__ == "__main__":
    main()
