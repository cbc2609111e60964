"""City scale on PostgreSQL (issue 17): the platform's everyday reads, empty and with a city loaded.

    uv run python -m bench.bench_city                      # the city: 1,700,000 talents, 300,000 claims, 36,000 units
    uv run python -m bench.bench_city --talents 100000     # a quick run (claims and units scale alike)

PostgreSQL only: TEST_DATABASE_URL, else postgresql+asyncpg://postgres@127.0.0.1:5432/postgres. The whole platform
starts (tests.stack.running_stack, a Tansu broker of its own, a database per service). A handful of real talents
are made through the gateway as a talent and the officials would (sign-in, profile, certification approved by the
county and the city, one left waiting in the county's queue, a claim each where a policy is claimable). Then, with
`--concurrency` keep-alive connections (closed loop, wrk when installed) for `--seconds` each, through the gateway:

- a county reviewer's certification queue page (GET /reviews/certifications) and claim queue page (GET /reviews/claims),
  and the same two pages of a city approver (every region: the queues that grow with the city);
- GET /me/eligibility, GET /me/claims and GET /me/code of a real talent;
- a partner's POST /codes/verify of that talent's code.

The city is then loaded straight into the services' databases with asyncpg COPY (copy_records_to_table), one process
per service database: applicant's talents, profiles (identity number and phone sealed with the applicant's own keys:
a few hundred distinct sealed values reused, each row with a unique keyed-hash stand-in), certifications across
statuses (about 6 % waiting for a county review, 2 % for the city), their evidence and decisions, status-list
entries; benefits' talent read model and claims in realistic statuses with their history; housing's talent read
model, projects and units. Then VACUUM ANALYZE, and the same requests again with fresh tokens of the same talents.

Rows (bench/results/city.postgresql.json): load time and rows loaded, each p99 empty and city and their ratio
(target ≤ 2), and the storage per talent: pg_total_relation_size of every table of each service's database ÷ talents.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from servicekit.testing import TansuBroker

from bench.common import Figure, HttpCall, LoadStats, http_load, write_results
from tests.helpers import resident_id, sign_in_with_otp
from tests.stack import SERVICES, Stack, running_stack

SCENARIO = "city"
DEFAULT_DATABASE = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
FULL_TALENTS = 1_700_000
CLAIMS_PER_TALENT = 300_000 / FULL_TALENTS
UNITS_PER_TALENT = 36_000 / FULL_TALENTS
RATIO_TARGET = 2.0
DEV_PASSWORD = "dev-password"  # noqa: S105  (the dev accounts of docs/api.md; the stack runs TALENT_ENV=dev)
DEV_PARTNER_SECRET = "dev-secret"  # noqa: S105
REVIEWER = "reviewer.nanhu"  # county reviewer of 330402, the real talents' region
REAL_REGION = "330402"
REGIONS = ["330402", "330411", "330421", "330424", "330481", "330482", "330483"]
DEGREES = ["bachelor", "master", "doctor"]
TIERS_BY_PERCENT = ["A"] * 1 + ["B"] * 4 + ["C"] * 15 + ["D"] * 30 + ["E"] * 50
ROUTES = ["degree", "title", "employer_recommendation"]
COPY_BATCH = 20_000
SEALED_VALUES = 500  # distinct sealed identity numbers and phones, reused across the city's profiles

PROFILE: dict[str, Any] = {
    "name": "基准测试",
    "id_type": "resident_id",
    "birth_date": "1990-05-17",
    "locale": "zh-CN",
    "region_code": REAL_REGION,
    "education": {"degree": "doctor", "school": "浙江大学", "graduated_on": "2020-07-01"},
    "employer": {"name": "嘉兴某研究院", "credit_code": "91330402MA2B3C4D53", "region_code": REAL_REGION},
    "social_insurance_months": 24,
    "owns_home_in_city": False,
}


def pg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


# --- real talents, through the gateway ---------------------------------------------------------------------------


async def _token(client: httpx.AsyncClient, **form: str) -> str:
    response = await client.post("/api/v1/auth/token", data=form)
    response.raise_for_status()
    return str(response.json()["access_token"])


async def _official(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    token = await _token(client, grant_type="password", username=username, password=DEV_PASSWORD)
    return {"Authorization": f"Bearer {token}"}


async def make_talent(client: httpx.AsyncClient, number: int, *, certify: bool) -> str:
    """A talent with a profile and a certification (approved by county and city when `certify`); its phone."""
    phone = f"+86139{random.randrange(10**4):04d}{number:04d}"
    auth = {"Authorization": f"Bearer {await sign_in_with_otp(client, phone)}"}
    sequence = f"{random.randrange(1000):03d}"
    profile = {**PROFILE, "id_number": resident_id(birth="19900517", region=REAL_REGION, sequence=sequence)}
    (await client.put("/api/v1/me/profile", json=profile, headers=auth)).raise_for_status()
    evidence = [{"kind": "diploma", "reference": "bench", "sha256": "0" * 64}]
    submitted = await client.post(
        "/api/v1/me/certifications", json={"route": "degree", "claimed_tier": "D", "evidence": evidence}, headers=auth
    )
    submitted.raise_for_status()
    if certify:
        decisions = f"/api/v1/reviews/certifications/{submitted.json()['id']}/decisions"
        for official in (REVIEWER, "approver.city"):
            decided = await client.post(
                decisions, json={"decision": "approve", "reason": "bench"}, headers=await _official(client, official)
            )
            decided.raise_for_status()
    return phone


async def claim_something(client: httpx.AsyncClient, phone: str, timeout_s: float = 300) -> str | None:
    """Once benefits knows the talent certified, claim the first policy it may claim; the policy code or None."""
    auth = {"Authorization": f"Bearer {await sign_in_with_otp(client, phone)}"}
    deadline = time.monotonic() + timeout_s
    while True:
        items = (await client.get("/api/v1/me/eligibility", headers=auth)).json()["items"]
        eligible = [i["policy_code"] for i in items if i["eligible"]]
        if eligible:
            break
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(0.5)
    for code in eligible:
        response = await client.post("/api/v1/me/claims", json={"policy_code": code}, headers=auth)
        if response.status_code == 201:
            return str(code)
    return None


async def make_real_talents(gateway_url: str, certified: int) -> list[str]:
    """`certified` certified talents with a claim each where one is claimable, plus one waiting for the county."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as client:
        phones = [await make_talent(client, n, certify=True) for n in range(certified)]
        await make_talent(client, certified, certify=False)
        claimed = [await claim_something(client, phone) for phone in phones]
    print(f"real talents: {len(phones)} certified (claims: {claimed}), 1 waiting for the county", flush=True)
    return phones


# --- the measured requests ---------------------------------------------------------------------------------------

REQUESTS = (
    "GET /reviews/certifications (county queue page)",
    "GET /reviews/claims (county queue page)",
    "GET /reviews/certifications (city approver's queue page)",
    "GET /reviews/claims (city approver's queue page)",
    "GET /me/eligibility",
    "GET /me/claims",
    "GET /me/code",
    "POST /codes/verify (partner)",
)


async def calls_for(gateway_url: str, phone: str) -> dict[str, HttpCall]:
    """Fresh tokens (a city's load outlasts an access token) and a fresh code of the same talent."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=60) as client:
        talent = {"Authorization": f"Bearer {await sign_in_with_otp(client, phone)}"}
        reviewer = await _official(client, REVIEWER)
        approver = await _official(client, "approver.city")
        partner = await _token(
            client, grant_type="client_credentials", client_id="partner.hospital", client_secret=DEV_PARTNER_SECRET
        )
        code = (await client.get("/api/v1/me/code", headers=talent)).json()["code"]
    base = f"{gateway_url}/api/v1"
    verify_headers = {"Authorization": f"Bearer {partner}", "Content-Type": "application/json"}
    verify_body = json.dumps({"code": code, "scene": "hospital"}).encode()
    return dict(
        zip(
            REQUESTS,
            (
                HttpCall("GET", f"{base}/reviews/certifications?limit=20", reviewer, expect='"items"'),
                HttpCall("GET", f"{base}/reviews/claims?limit=20", reviewer, expect='"items"'),
                HttpCall("GET", f"{base}/reviews/certifications?limit=20", approver, expect='"items"'),
                HttpCall("GET", f"{base}/reviews/claims?limit=20", approver, expect='"items"'),
                HttpCall("GET", f"{base}/me/eligibility", talent, expect='"items"'),
                HttpCall("GET", f"{base}/me/claims", talent, expect='"items"'),
                HttpCall("GET", f"{base}/me/code", talent, expect='"code"'),
                HttpCall("POST", f"{base}/codes/verify", verify_headers, verify_body, expect='"valid":true'),
            ),
            strict=True,
        )
    )


async def measure(stack: Stack, phone: str, concurrency: int, seconds: float) -> dict[str, LoadStats]:
    calls = await calls_for(stack.gateway_url, phone)
    async with httpx.AsyncClient(timeout=120) as client:  # one checked request each before the load
        for name, call in calls.items():
            response = await client.request(call.method, call.url, headers=dict(call.headers), content=call.body)
            if call.expect is None or call.expect not in response.text:
                raise RuntimeError(f"{name}: {response.status_code} {response.text[:500]}")
    pids = {name: stack.processes[name].pid for name in ("gateway", "applicant", "benefits")}
    found: dict[str, LoadStats] = {}
    watching = asyncio.create_task(slow_queries(stack))
    try:
        await _load_each(calls, found, concurrency, seconds, pids)
    finally:
        watching.cancel()
        slow = await asyncio.gather(watching, return_exceptions=True)
    if isinstance(slow[0], dict) and slow[0]:
        print("  statements seen running ≥ 0.5 s during the load (database, longest seen, statement):")
        for (database, query), longest in sorted(slow[0].items(), key=lambda kv: -kv[1])[:12]:
            print(f"    {database:<28} {longest:6.1f} s  {query}")
    return found


async def slow_queries(stack: Stack) -> dict[tuple[str, str], float]:
    """Statements of the stack's databases running ≥ 0.5 s, sampled from pg_stat_activity until cancelled."""
    names = [url.rsplit("/", 1)[1] for url in (stack.env[s][f"{s.upper()}_DATABASE_URL"] for s in SERVICES)]
    seen: dict[tuple[str, str], float] = {}
    connection = await asyncpg.connect(pg_dsn(os.environ["TEST_DATABASE_URL"]))
    try:
        while True:
            rows = await connection.fetch(
                "SELECT datname, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query,"
                " extract(epoch FROM now() - query_start) AS s FROM pg_stat_activity"
                " WHERE state = 'active' AND datname = ANY($1::text[]) AND now() - query_start > interval '0.5 s'",
                names,
            )
            for row in rows:
                key = (row["datname"].split("_")[1], row["query"])
                seen[key] = max(seen.get(key, 0.0), float(row["s"]))
            await asyncio.sleep(0.5)
    except asyncio.CancelledError:
        return seen
    finally:
        await connection.close()


async def _load_each(
    calls: dict[str, HttpCall], found: dict[str, LoadStats], concurrency: int, seconds: float, pids: dict[str, int]
) -> None:
    for name, call in calls.items():
        stats = await http_load(call, concurrency=concurrency, duration_s=seconds, warmup_s=2.0, cpu_pids=pids)
        if stats.requests == 0:  # none answered within the window: its length is a floor of the p99
            stats.quantiles_ms = {0.5: seconds * 1000, 0.99: seconds * 1000}
        found[name] = stats
        cpu = ", ".join(f"{k} {v:.0f}" for k, v in stats.cpu_us_per_request.items())
        print(
            f"  {name:<50} {stats.rps:7.1f} req/s  p50 {stats.percentile(0.5):7.1f} ms  p99 "
            f"{stats.percentile(0.99):7.1f} ms  errors {stats.errors}  CPU µs/req [{cpu}]",
            flush=True,
        )


# --- the city, generated ---------------------------------------------------------------------------------------------


def _h(i: int, salt: int = 0) -> int:
    """A cheap, well-spread hash of a row number: every fact of talent i is drawn from it, the same in each service."""
    x = (i * 0x9E3779B1 + salt * 0x85EBCA77) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x2C1B3C6D) & 0xFFFFFFFF
    x ^= x >> 12
    return x


def talent_id(i: int) -> str:
    return f"c17c17c1-0000-4000-8000-{i:012d}"


def pseudonym(i: int) -> str:
    return f"tp_city{i:017d}"


class City:
    """The facts of generated talent i (status, tier, region, dates), shared by every service's rows."""

    def __init__(self, talents: int, now: datetime) -> None:
        self.talents = talents
        self.claims = round(talents * CLAIMS_PER_TALENT)
        self.units = max(1, round(talents * UNITS_PER_TALENT))
        self.now = now

    def facts(self, i: int) -> tuple[str, str, str | None, str, str, datetime]:
        """(talent status, certification status, tier, region, degree, registered at)."""
        h = _h(i)
        u = h % 100
        if u < 80:
            status, certification = "certified", "certified"
        elif u < 85:
            status, certification = "expired", "certified"
        elif u < 87:
            status, certification = "revoked", "certified"
        elif u < 93:
            status, certification = "registered", "submitted"  # the counties' queues
        elif u < 95:
            status, certification = "registered", "county_approved"  # the city's queue
        elif u < 97:
            status, certification = "registered", "returned"
        else:
            status, certification = "registered", "rejected"
        tier = TIERS_BY_PERCENT[(h >> 8) % 100]
        registered = self.now - timedelta(minutes=(h >> 12) % (3 * 365 * 24 * 60))
        if certification in ("submitted", "county_approved"):  # waiting now: submitted in the last months
            registered = self.now - timedelta(minutes=(h >> 12) % (120 * 24 * 60))
        return status, certification, tier, REGIONS[(h >> 4) % len(REGIONS)], DEGREES[(h >> 20) % 3], registered


def applicant_tables(
    city: City, sealed: list[tuple[str, str, str, str]], taken: set[int]
) -> dict[str, tuple[list[str], Any]]:
    """`taken`: the status-list entries the real talents hold already (never drawn again)."""
    now = city.now
    n = city.talents
    holders = len(taken) + sum(1 for i in range(n) if city.facts(i)[1] == "certified")
    size = 1 << 17  # as applicant.status_list sizes the list: at least twice the entries, a power of two
    while size < 2 * holders:
        size *= 2

    def talents() -> Iterator[tuple[Any, ...]]:
        for i in range(n):
            status, certification, tier, _, _, at = city.facts(i)
            held = certification == "certified"
            certified_at = at + timedelta(days=20) if held else None
            until = (certified_at + timedelta(days=3 * 365)).date() if certified_at else None
            revoked = certified_at + timedelta(days=200) if status == "revoked" and certified_at else None
            yield (
                talent_id(i), pseudonym(i), status, tier if held else None, 60 if held else 0, until,
                certified_at, revoked, at, certified_at or at,
            )  # fmt: skip

    def profiles() -> Iterator[tuple[Any, ...]]:
        for i in range(n):
            _, _, _, region, degree, at = city.facts(i)
            cipher, masked, phone, phone_masked = sealed[i % len(sealed)]
            h = _h(i, 1)
            yield (
                talent_id(i), f"城市{h % 9973:04d}", "resident_id", cipher, f"{i:064x}", masked,
                date(1975 + h % 25, 1 + h % 12, 1 + h % 28), None, phone, phone_masked, "zh-CN", "Asia/Shanghai",
                region, degree, "浙江大学", date(2000 + h % 24, 7, 1), None, f"嘉兴企业{h % 20000:05d}",
                f"9133{h % 10**14:014d}", region, None, (h >> 8) % 120, (h >> 16) % 10 == 0, at, at,
            )  # fmt: skip

    def certifications() -> Iterator[tuple[Any, ...]]:
        for i in range(n):
            _, certification, tier, region, _, at = city.facts(i)
            held = certification == "certified"
            submitted = at + timedelta(hours=1)
            waiting = certification in ("submitted", "county_approved")
            yield (
                f"c17cert0-0000-4000-8000-{i:012d}", talent_id(i), ROUTES[i % 3], tier, tier, None, region,
                certification, 1, submitted, submitted + timedelta(days=20 if held else 3),
                (submitted + timedelta(days=3 * 365)).date() if held else None,
                submitted + timedelta(days=10) if waiting else None, None, None,
                None if certification == "submitted" else REVIEWER, None, None,
            )  # fmt: skip

    def evidence() -> Iterator[tuple[Any, ...]]:
        for i in range(n):
            yield (f"c17cert0-0000-4000-8000-{i:012d}", 1, "diploma", "city", "0" * 64, None)

    def decisions() -> Iterator[tuple[Any, ...]]:
        for i in range(n):
            _, certification, tier, _, _, at = city.facts(i)
            cid = f"c17cert0-0000-4000-8000-{i:012d}"
            if certification == "submitted":
                continue
            county = "reject" if certification == "rejected" else "return" if certification == "returned" else "approve"
            yield (cid, 1, "county", county, tier, "city", REVIEWER, at + timedelta(days=2))
            if certification == "certified":
                yield (cid, 1, "city", "approve", tier, "city", "approver.city", at + timedelta(days=20))

    def status_index() -> Iterator[tuple[Any, ...]]:
        for i in range(n):
            idx = (i * 2_654_435_761) % size  # an odd multiplier: distinct for every i below size
            if city.facts(i)[1] == "certified" and idx not in taken:  # every holder has shown a code once
                yield (talent_id(i), idx, now)

    return {
        "talent": (
            ["id", "pseudonym", "status", "tier", "points", "certified_until", "certified_at", "revoked_at",
             "created_at", "updated_at"],
            talents,
        ),
        "talent_profile": (
            ["talent_id", "name", "id_type", "id_number_ciphertext", "id_number_hash", "id_number_masked",
             "birth_date", "email", "phone_ciphertext", "phone_masked", "locale", "time_zone", "region_code",
             "degree", "school", "graduated_on", "title", "employer_name", "employer_credit_code",
             "employer_region_code", "employer_industry", "social_insurance_months", "owns_home_in_city",
             "created_at", "updated_at"],
            profiles,
        ),
        "talent_certification": (
            ["id", "talent_id", "route", "claimed_tier", "tier", "programme_code", "region_code", "status", "round",
             "submitted_at", "updated_at", "certified_until", "stage_due_at", "escalated_at", "recommendation_id",
             "officer_id", "officer_name", "officer_phone"],
            certifications,
        ),
        "talent_certification_evidence": (
            ["certification_id", "round", "kind", "reference", "sha256", "document_id"],
            evidence,
        ),
        "talent_certification_decision": (
            ["certification_id", "round", "stage", "decision", "tier", "reason", "decided_by", "decided_at"],
            decisions,
        ),
        "talent_status_index": (["talent_id", "idx", "created_at"], status_index),
    }  # fmt: skip


# Claim statuses by share (percent) of a city's claims: most are paid, a backlog is open at every stage.
CLAIM_STATUSES = (
    ["disbursed"] * 48 + ["rejected"] * 10 + ["withdrawn"] * 5 + ["stopped"] * 2 + ["submitted"] * 6
    + ["accepted"] * 7 + ["county_approved"] * 5 + ["city_approved"] * 4 + ["publicized"] * 5
    + ["returned"] * 4 + ["payment_failed"] * 2 + ["appealed"] * 2
)  # fmt: skip


def benefits_tables(city: City, policies: list[tuple[str, int]]) -> dict[str, tuple[list[str], Any]]:
    now = city.now
    n = city.talents

    def talents() -> Iterator[tuple[Any, ...]]:
        for i in range(n):
            status, certification, tier, region, degree, at = city.facts(i)
            held = certification == "certified"
            h = _h(i, 1)
            yield (
                talent_id(i), pseudonym(i), status, at, tier if held else None, 60 if held else 0,
                (at + timedelta(days=3 * 365 + 20)).date() if held else None, region if held else None, at, region,
                degree, date(2000 + h % 24, 7, 1), date(1975 + h % 25, 1 + h % 12, 1 + h % 28), None, region,
                False, (h >> 8) % 120, (h >> 16) % 10 == 0, True, "{}", False, "城**", f"嘉兴企业{h % 20000:05d}",
                None, None, False, "[]", None, None, "{}", at,
            )  # fmt: skip

    def claims() -> Iterator[tuple[Any, ...]]:
        for j in range(city.claims):
            i = (j * 5 + j // n) % n  # spread over the talents, a few with more than one claim
            _, _, _, region, _, _ = city.facts(i)
            h = _h(j, 2)
            status = CLAIM_STATUSES[h % len(CLAIM_STATUSES)]
            code, version = policies[(h >> 8) % len(policies)]
            submitted = now - timedelta(minutes=(h >> 10) % (2 * 365 * 24 * 60))
            if status in ("submitted", "accepted", "county_approved", "city_approved", "returned", "appealed"):
                submitted = now - timedelta(minutes=(h >> 10) % (60 * 24 * 60))
            amount = (50_000, 120_000, 500_000, 2_000_000)[(h >> 4) % 4]
            paid = status == "disbursed"
            yield (
                f"c17claim-0000-4000-8000-{j:012d}", talent_id(i), code, version, status, (h >> 6) % 3 == 0,
                amount, "{}", submitted.year, region, pseudonym(i), submitted, submitted + timedelta(days=3),
                submitted + timedelta(days=10) if status in ("submitted", "accepted", "county_approved") else None,
                1 if status in ("city_approved", "publicized", "disbursed", "payment_failed") else 0,
                submitted + timedelta(days=12) if status in ("publicized", "disbursed") else None,
                submitted + timedelta(days=19) if paid else None, paid or status == "payment_failed",
                f"PAY{j:012d}" if paid else None, submitted + timedelta(days=25) if paid else None,
                None if status == "submitted" else REVIEWER, "[]", (h >> 7) % 4 == 0, False, "[]",
            )  # fmt: skip

    def history() -> Iterator[tuple[Any, ...]]:
        for j in range(city.claims):
            h = _h(j, 2)
            status = CLAIM_STATUSES[h % len(CLAIM_STATUSES)]
            submitted = now - timedelta(minutes=(h >> 10) % (2 * 365 * 24 * 60))
            cid = f"c17claim-0000-4000-8000-{j:012d}"
            yield (cid, submitted, "submit", "acceptance", None, "submitted", "talent", "", "[]")
            if status != "submitted":
                yield (cid, submitted + timedelta(days=3), "decide", "county", "submitted", status, REVIEWER, "", "[]")

    return {
        "benefit_talent": (
            ["talent_id", "pseudonym", "status", "status_as_of", "tier", "points", "certified_until",
             "certified_region_code", "profile_as_of", "region_code", "degree", "graduated_on", "birth_date", "title",
             "employer_region_code", "employer_in_shortage_catalogue", "social_insurance_months", "owns_home_in_city",
             "works_in_city", "provenance", "housing_voucher_used", "name_masked", "employer_name", "attestation_id",
             "attestation_outcome", "attestation_blocking", "attestation_mismatched_facts", "attested_at",
             "attestation_as_of", "change_requests", "updated_at"],
            talents,
        ),
        "benefit_claim": (
            ["id", "talent_id", "policy_code", "policy_version", "status", "auto", "amount_fen", "details", "year",
             "region_code", "talent_pseudonym", "submitted_at", "updated_at", "stage_due_at", "city_approvals",
             "publicized_until", "publicity_ended_at", "budget_committed", "payment_reference", "disbursed_at",
             "officer_id", "reasons", "straight_through", "sampled", "manual_review_reasons"],
            claims,
        ),
        "benefit_claim_history": (
            ["claim_id", "at", "action", "stage", "from_status", "to_status", "actor", "reason", "reasons"],
            history,
        ),
    }  # fmt: skip


def housing_tables(city: City) -> dict[str, tuple[list[str], Any]]:
    now = city.now
    n = city.talents
    per_project = 200
    projects = max(1, -(-city.units // per_project))

    def talents() -> Iterator[tuple[Any, ...]]:
        for i in range(n):
            status, certification, tier, region, _, at = city.facts(i)
            held = certification == "certified"
            h = _h(i, 1)
            yield (
                talent_id(i), pseudonym(i), status, tier if held else None, 60 if held else 0,
                (at + timedelta(days=3 * 365 + 20)).date() if held else None, region, True, (h >> 16) % 10 == 0,
                False, 0, None, at, at, at, None, None, False, "[]", None, None, at,
            )  # fmt: skip

    def project_rows() -> Iterator[tuple[Any, ...]]:
        for p in range(projects):
            yield (f"c17proj0-0000-4000-8000-{p:012d}", f"人才公寓{p:04d}", REGIONS[p % len(REGIONS)],
                   ("government", "park", "enterprise")[p % 3], f"嘉兴市{p}号", "admin", now)  # fmt: skip

    def units() -> Iterator[tuple[Any, ...]]:
        for u in range(city.units):
            h = _h(u, 3)
            kind = ("studio", "1BR", "2BR", "3BR")[h % 4]
            status = "leased" if h % 10 < 7 else "available" if h % 10 < 9 else "withdrawn"
            yield (
                f"c17unit0-0000-4000-8000-{u:012d}", f"c17proj0-0000-4000-8000-{u // per_project:012d}",
                f"{u % per_project // 20 + 1}-{u % 20 + 1:02d}", kind, 30.0 + 20 * (h % 4), 150_000 + 50_000 * (h % 4),
                status, None, now, now,
            )  # fmt: skip

    return {
        "housing_talent": (
            ["talent_id", "pseudonym", "status", "tier", "points", "certified_until", "region_code", "works_in_city",
             "owns_home_in_city", "voucher_used", "decline_count", "barred_until", "status_as_of", "points_as_of",
             "profile_as_of", "attestation_id", "attestation_outcome", "attestation_blocking",
             "attestation_mismatched_facts", "attested_at", "attestation_as_of", "updated_at"],
            talents,
        ),
        "housing_project": (
            ["id", "name", "region_code", "supply_model", "address", "created_by", "created_at"],
            project_rows,
        ),
        "housing_unit": (
            ["id", "project_id", "number", "unit_type", "area_m2", "monthly_rent_fen", "status", "round_id",
             "created_at", "updated_at"],
            units,
        ),
    }  # fmt: skip


async def _copy(
    dsn: str, tables: dict[str, tuple[list[str], Callable[[], Iterator[tuple[Any, ...]]]]]
) -> dict[str, int]:
    connection = await asyncpg.connect(dsn)
    counts: dict[str, int] = {}
    try:
        await connection.execute("SET synchronous_commit TO off")  # a bulk load: no flush wait per batch
        for table, (columns, rows) in tables.items():
            count = 0
            batch: list[tuple[Any, ...]] = []
            for row in rows():
                batch.append(row)
                if len(batch) == COPY_BATCH:
                    await connection.copy_records_to_table(table, records=batch, columns=columns)
                    count += len(batch)
                    batch = []
            if batch:
                await connection.copy_records_to_table(table, records=batch, columns=columns)
                count += len(batch)
            counts[table] = count
        for table in tables:
            await connection.execute(f"VACUUM (ANALYZE) {table}")
    finally:
        await connection.close()
    return counts


def _sealed_values(applicant_env: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """A few hundred identity numbers and phones sealed with the applicant's own keys (as its settings build them)."""
    os.environ.update(applicant_env)
    from applicant.config import ApplicantSettings
    from applicant.identity import mask
    from applicant.service import Protector

    protector = Protector.from_settings(ApplicantSettings())
    values = []
    for k in range(SEALED_VALUES):
        number = resident_id(birth=f"19{80 + k % 20}0101", region=REGIONS[k % len(REGIONS)], sequence=f"{k:03d}")
        phone = f"+86138{k:08d}"
        values.append(
            (
                protector.cipher.encrypt(number),
                mask(number),
                protector.phone_cipher.encrypt(phone),
                "+86 138****" + phone[-4:],
            )
        )
    return values


def load_service(service: str, dsn: str, talents: int, now: datetime, extra: Any) -> dict[str, int]:
    """One service's rows, in a process of its own (so the three databases load side by side)."""
    city = City(talents, now)
    if service == "applicant":
        environment, taken = extra
        tables = applicant_tables(city, _sealed_values(environment), taken)
    elif service == "benefits":
        tables = benefits_tables(city, extra)
    else:
        tables = housing_tables(city)
    return asyncio.run(_copy(dsn, tables))


async def load_city(stack: Stack, talents: int) -> tuple[float, dict[str, int]]:
    dsns = {
        name: pg_dsn(stack.env[name][f"{name.upper()}_DATABASE_URL"]) for name in ("applicant", "benefits", "housing")
    }
    connection = await asyncpg.connect(dsns["benefits"])
    try:
        rows = await connection.fetch("SELECT code, version FROM benefit_policy WHERE current AND active ORDER BY code")
    finally:
        await connection.close()
    policies = [(r["code"], r["version"]) for r in rows]
    connection = await asyncpg.connect(dsns["applicant"])
    try:
        taken = {int(r["idx"]) for r in await connection.fetch("SELECT idx FROM talent_status_index")}
    finally:
        await connection.close()
    extras: dict[str, Any] = {
        "applicant": (stack.env["applicant"], taken),
        "benefits": policies,
        "housing": None,
    }
    now = datetime.now(UTC)
    started = time.perf_counter()
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(max_workers=3, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [
            loop.run_in_executor(pool, load_service, name, dsn, talents, now, extras[name])
            for name, dsn in dsns.items()
        ]
        counts: dict[str, int] = {}
        for found in await asyncio.gather(*futures):
            counts.update(found)
    return time.perf_counter() - started, counts


async def storage(stack: Stack) -> dict[str, int]:
    """Bytes of every table (with its indexes and TOAST) of each service's database."""
    sizes = {}
    for name in ("applicant", "benefits", "housing", "notify", "insight"):
        connection = await asyncpg.connect(pg_dsn(stack.env[name][f"{name.upper()}_DATABASE_URL"]))
        try:
            sizes[name] = int(
                await connection.fetchval(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname = 'public'"
                )
            )
        finally:
            await connection.close()
    return sizes


# --- the scenario --------------------------------------------------------------------------------------------------


async def run(talents: int, concurrency: int, seconds: float, real: int) -> list[Figure]:
    os.environ.setdefault("TEST_DATABASE_URL", DEFAULT_DATABASE)
    if not os.environ["TEST_DATABASE_URL"].startswith("postgresql"):
        raise SystemExit("bench_city runs on PostgreSQL only (TEST_DATABASE_URL=postgresql+asyncpg://...)")
    os.environ["GATEWAY_RATE_LIMIT_ENABLED"] = "false"
    broker = TansuBroker().start()
    try:
        with running_stack(broker) as stack:
            phones = await make_real_talents(stack.gateway_url, real)
            empty_sizes = await storage(stack)
            print(f"empty database, {concurrency} connections, {seconds:g} s each:", flush=True)
            empty = await measure(stack, phones[0], concurrency, seconds)
            load_s, counts = await load_city(stack, talents)
            print(f"loaded {sum(counts.values()):,} rows in {load_s:.1f} s: {counts}", flush=True)
            sizes = await storage(stack)
            print(f"city of {talents:,} talents, {concurrency} connections, {seconds:g} s each:", flush=True)
            city = await measure(stack, phones[0], concurrency, seconds)
    finally:
        broker.stop()
    size = f"{talents:,} talents"
    figures = [
        Figure(SCENARIO, f"city load ({size}, COPY, 3 databases side by side, VACUUM ANALYZE included)", "s", load_s,
               None, False),
        Figure(SCENARIO, "rows loaded", "rows", float(sum(counts.values()))),
    ]  # fmt: skip
    figures += [Figure(SCENARIO, f"rows loaded: {table}", "rows", float(n)) for table, n in counts.items()]
    for name in REQUESTS:
        before, after = empty[name].percentile(0.99), city[name].percentile(0.99)
        figures += [
            Figure(SCENARIO, f"{name} p99, empty", "ms", before, None, False),
            Figure(SCENARIO, f"{name} p99, city", "ms", after, None, False, before),
            Figure(SCENARIO, f"{name} p99 city/empty", "ratio", after / before if before else 0.0, RATIO_TARGET, False),
            Figure(SCENARIO, f"{name} errors (empty + city)", "requests",
                   float(empty[name].errors + city[name].errors), 0, False),
        ]  # fmt: skip
        for process, cpu in city[name].cpu_us_per_request.items():
            base = empty[name].cpu_us_per_request.get(process)
            figures.append(Figure(SCENARIO, f"{name} {process} CPU, city", "µs/req", cpu, None, False, base))
    total = talents + real + 1
    figures.append(
        Figure(SCENARIO, "storage per talent (all services)", "bytes", sum(sizes.values()) / total, None, False)
    )
    for name, bytes_ in sizes.items():
        figures.append(Figure(SCENARIO, f"storage per talent: {name}", "bytes", bytes_ / total, None, False))
        figures.append(Figure(SCENARIO, f"storage of {name}, empty database", "bytes", float(empty_sizes[name])))
    load = empty[REQUESTS[0]].load_average
    if load is not None:
        figures.append(Figure(SCENARIO, "load average (1 min) at the start", "load", load[0], None, False))
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--talents", type=int, default=FULL_TALENTS, help="claims and units scale alike")
    parser.add_argument("--concurrency", type=int, default=int(os.environ.get("BENCH_CONCURRENCY", "8")))
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "8")))
    parser.add_argument("--real", type=int, default=3, help="real talents made through the API (certified)")
    args = parser.parse_args(argv)
    write_results(SCENARIO, asyncio.run(run(args.talents, args.concurrency, args.seconds, args.real)))


if __name__ == "__main__":
    main()
