"""Sign-in and scene-setting helpers shared by the cross-service tests (end-to-end, fuzzing, security).

Everything goes through the gateway's public API, as a client would: the dev accounts of docs/api.md,
OTP sign-in for talents (the gateway returns the code with TALENT_ENV=dev), and the real review endpoints.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from gateway.routes import access_rule
from servicekit.identifiers import CREDIT_ALPHABET, credit_check_char
from servicekit.testing import eventually

Headers = dict[str, str]

DEV_PASSWORD = "dev-password"  # the dev officials' password (TALENT_ENV=dev)
DEV_SECRET = "dev-secret"  # the dev partners' client secret
# Every role a dev account holds, and the account that holds it (docs/api.md, "Dev accounts").
OFFICIALS = {
    "county_reviewer": "reviewer.nanhu",
    "city_approver": "approver.city",
    "finance_officer": "finance.city",
    "housing_officer": "housing.city",
    "auditor": "auditor.city",
    "leader": "leader.city",
    "admin": "admin",
}
PARTNERS = {"hospital": "partner.hospital", "transit": "partner.transit"}
# The dev employer (用人单位) account: role employer, bound to this employer; it signs in like an official.
DEV_EMPLOYER = "employer.demo"
DEV_EMPLOYER_CREDIT_CODE = "91330402MA2B3C4D53"
DEV_EMPLOYER_NAME = "嘉兴某科技有限公司"
ROLES = ("talent", *OFFICIALS, "employer", "partner")
# How long a test waits out the gateway's sign-in rate limit (per client address) before giving up.
SIGN_IN_PATIENCE_S = 90.0
# How long a test waits for an event to travel outbox → Kafka → a consumer before calling it lost: seconds on a
# quiet machine, much longer on two cores running several stacks (a wait ends as soon as its condition holds).
EVENT_PATIENCE_S = float(os.environ.get("EVENT_WAIT_TIMEOUT_S", "120"))

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_numbers = itertools.count(1)


def gateway_allows(identity: str, method: str, path: str) -> bool:
    """Whether the gateway's role rules (routes.ACCESS_RULES) let a role, or "anonymous", call an operation."""
    rule = access_rule(method, path)
    if rule.public:
        return True
    return identity != "anonymous" and (not rule.roles or identity in rule.roles)


def resident_id(birth: str = "19950307", region: str = "330402", sequence: str = "123") -> str:
    """A resident identity number with a valid check digit (GB 11643)."""
    first17 = f"{region}{birth}{sequence}"
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def unique_phone(prefix: str = "+86137") -> str:
    """A phone number no other test (or test process) uses."""
    return f"{prefix}{os.getpid() % 10_000:04d}{next(_numbers) % 10_000:04d}"


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


async def _post_auth(gateway: httpx.AsyncClient, path: str, **kwargs: Any) -> httpx.Response:
    """A sign-in call that waits out the gateway's per-address sign-in rate limit (tests share one address)."""
    waited = 0.0
    while True:
        response = await gateway.post(path, **kwargs)
        if response.status_code != 429 or waited >= SIGN_IN_PATIENCE_S:
            return response
        delay = float(response.headers.get("retry-after", "1"))
        await asyncio.sleep(delay)
        waited += delay


async def token(gateway: httpx.AsyncClient, **form: str) -> str:
    """An access token for an OAuth2 token-endpoint form (password, client_credentials, otp, refresh_token)."""
    response = await _post_auth(gateway, "/api/v1/auth/token", data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def sign_in_with_otp(gateway: httpx.AsyncClient, phone: str) -> str:
    """A talent's access token: OTP challenge (the dev code comes back) and exchange; creates the account."""
    challenge = await _post_auth(gateway, "/api/v1/auth/otp", json={"phone": phone})
    assert challenge.status_code == 202, challenge.text
    code = challenge.json()["dev_code"]
    return await token(gateway, grant_type="otp", phone=phone, code=code)


# Officials' tokens, reused while fresh: the dev accounts are shared, and sign-ins are rate-limited per address.
_official_tokens: dict[tuple[str, str], tuple[float, str]] = {}
TOKEN_REUSE_S = 300.0  # well inside the 15-minute access-token lifetime


async def official(gateway: httpx.AsyncClient, username: str) -> Headers:
    key = (str(gateway.base_url), username)
    cached = _official_tokens.get(key)
    if cached is None or time.monotonic() - cached[0] > TOKEN_REUSE_S:
        access = await token(gateway, grant_type="password", username=username, password=DEV_PASSWORD)
        cached = _official_tokens[key] = (time.monotonic(), access)
    return bearer(cached[1])


async def employer(gateway: httpx.AsyncClient, username: str = DEV_EMPLOYER) -> Headers:
    """An employer user's headers (grant_type=password, like an official; the dev one by default)."""
    return await official(gateway, username)


async def new_employer(
    gateway: httpx.AsyncClient, name: str = "嘉兴另一家有限公司", region: str = "330402"
) -> tuple[dict[str, Any], Headers]:
    """Another employer, registered by the admin with a fresh credit code and a first user: (employer, headers)."""
    username, password = f"hr.{uuid.uuid4().hex[:12]}", f"pw-{uuid.uuid4().hex}"
    created = await gateway.post(
        "/api/v1/admin/employers",
        json={
            "credit_code": fresh_credit_code(region),
            "name": name,
            "region_code": region,
            "username": username,
            "password": password,
        },
        headers=await official(gateway, OFFICIALS["admin"]),
    )
    assert created.status_code == 201, created.text
    headers = bearer(await token(gateway, grant_type="password", username=username, password=password))
    employer: dict[str, Any] = created.json()
    return employer, headers


async def partner(gateway: httpx.AsyncClient, client_id: str = "partner.hospital") -> Headers:
    return bearer(await token(gateway, grant_type="client_credentials", client_id=client_id, client_secret=DEV_SECRET))


async def talent(gateway: httpx.AsyncClient, phone: str | None = None) -> Headers:
    return bearer(await sign_in_with_otp(gateway, phone or unique_phone()))


async def role_headers(gateway: httpx.AsyncClient) -> dict[str, Headers]:
    """Headers for one account of every role: a fresh talent, each dev official, the dev employer, a dev partner."""
    headers = {"talent": await talent(gateway), "partner": await partner(gateway), "employer": await employer(gateway)}
    for role, username in OFFICIALS.items():
        headers[role] = await official(gateway, username)
    return headers


def profile(
    id_number: str,
    *,
    name: str = "王五",
    region: str = "330402",
    birth_date: str | None = None,
    email: str | None = None,
    employer_credit_code: str = DEV_EMPLOYER_CREDIT_CODE,
) -> dict[str, Any]:
    """A profile that certifies on the degree route (a recent master's graduate with a local employer: the dev
    employer unless `employer_credit_code` names another); the birth date is the identity number's own."""
    body: dict[str, Any] = {
        "name": name,
        "id_type": "resident_id",
        "id_number": id_number,
        "birth_date": birth_date or birth_date_of(id_number),
        "locale": "zh-CN",
        "region_code": region,
        "education": {
            "degree": "master",
            "school": "浙江大学",
            "graduated_on": (date.today() - timedelta(days=300)).isoformat(),
        },
        "employer": {
            "name": DEV_EMPLOYER_NAME if employer_credit_code == DEV_EMPLOYER_CREDIT_CODE else "嘉兴另一家有限公司",
            "credit_code": employer_credit_code,
            "region_code": region,
        },
        "social_insurance_months": 10,
        "owns_home_in_city": False,
    }
    if email:
        body["email"] = email
    return body


# Identity numbers handed out by `fresh_id_number`: birth dates 1990-01-01 to 1996-12-31 times a thousand
# sequence numbers, walked from a random start so this process never repeats one and another process (or an
# earlier run against the same database) overlaps it only if the two walks meet. A test that needs a birth date
# of its own walks that date's thousand sequence numbers the same way; both walks skip what either handed out.
_ID_FIRST_BIRTH = date(1990, 1, 1)
_ID_BIRTH_DAYS = (date(1997, 1, 1) - _ID_FIRST_BIRTH).days
_ID_SPACE = _ID_BIRTH_DAYS * 1000
_id_walk = itertools.count(uuid.uuid4().int % _ID_SPACE)
_sequence_walks: dict[str, Iterator[int]] = {}
_handed_out: set[str] = set()


def fresh_id_number(region: str = "330402", *, birth: str | None = None) -> str:
    """A valid identity number no other account of the shared stack holds: the next of this process's walk
    through 2.5 million (birth date, sequence) pairs, or through the thousand sequences of `birth` (YYYYMMDD).
    The profile's birth date must match it: `birth_date_of`."""
    while True:
        if birth is not None:
            start = uuid.uuid4().int % 1000
            walk = _sequence_walks.setdefault(birth, ((start + i) % 1000 for i in range(1000)))
            number = resident_id(birth=birth, region=region, sequence=f"{next(walk):03d}")
        else:
            step = next(_id_walk) % _ID_SPACE
            born = _ID_FIRST_BIRTH + timedelta(days=step // 1000)
            number = resident_id(birth=born.strftime("%Y%m%d"), region=region, sequence=f"{step % 1000:03d}")
        if number not in _handed_out:
            _handed_out.add(number)
            return number


def birth_date_of(id_number: str) -> str:
    """The birth date inside a resident identity number, as the profile spells it (YYYY-MM-DD)."""
    return f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}"


def fresh_credit_code(region: str = "330402") -> str:
    """A valid unified social credit code (GB 32100) of an enterprise (91) no other test uses."""
    n = uuid.uuid4().int
    organisation = "".join(CREDIT_ALPHABET[(n >> (5 * i)) % len(CREDIT_ALPHABET)] for i in range(9))
    first17 = f"91{region}{organisation}"
    return first17 + credit_check_char(first17)


EVIDENCE = [{"kind": "diploma", "reference": "file:diploma", "sha256": hashlib.sha256(b"diploma").hexdigest()}]


async def submit_certification(gateway: httpx.AsyncClient, auth: Headers, tier: str = "E") -> str:
    response = await gateway.post(
        "/api/v1/me/certifications",
        json={"route": "degree", "claimed_tier": tier, "evidence": EVIDENCE},
        headers=auth,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def certify(
    gateway: httpx.AsyncClient,
    auth: Headers,
    body: dict[str, Any],
    *,
    reviewer: str = "reviewer.nanhu",
    approver: str = "approver.city",
) -> str:
    """Store the profile, apply for tier E, have the county and the city approve; returns the talent id."""
    stored = await gateway.put("/api/v1/me/profile", json=body, headers=auth)
    assert stored.status_code == 200, stored.text
    certification_id = await submit_certification(gateway, auth)
    for username in (reviewer, approver):
        decision = await gateway.post(
            f"/api/v1/reviews/certifications/{certification_id}/decisions",
            json={"decision": "approve", "tier": "E", "reason": "diploma checked"},
            headers=await official(gateway, username),
        )
        assert decision.status_code == 200, decision.text
    me = (await gateway.get("/api/v1/me/talent", headers=auth)).json()
    assert me["status"] == "certified", me
    return str(me["talent_id"])


async def certified_talent(gateway: httpx.AsyncClient, **profile_fields: Any) -> tuple[str, Headers]:
    """A new talent, certified tier E through applicant's real endpoints: (talent id, headers)."""
    auth = await talent(gateway)
    talent_id = await certify(gateway, auth, profile(fresh_id_number(), **profile_fields))
    return talent_id, auth


async def auto_granted_claim(gateway: httpx.AsyncClient, auth: Headers) -> dict[str, Any]:
    """The 免申即享 claim benefits grants once it hears talent.certified (waits for the event)."""

    async def auto_claims() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await gateway.get("/api/v1/me/claims", headers=auth)).json()["items"]
        return [c for c in items if c["auto"]]

    claims: list[dict[str, Any]] = await eventually(auto_claims, timeout=EVENT_PATIENCE_S)
    return claims[0]


async def first_notification(gateway: httpx.AsyncClient, auth: Headers) -> dict[str, Any]:
    """The talent's first inbox item (the welcome message notify sends on talent.registered)."""

    async def inbox() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await gateway.get("/api/v1/me/inbox", headers=auth)).json()["items"]
        return items

    items: list[dict[str, Any]] = await eventually(inbox, timeout=EVENT_PATIENCE_S)
    return items[0]


async def set_timer_due(benefits_database_url: str, kind: str, key: str, due_at: datetime) -> int:
    """Move one pending timer of benefits (by kind and key) to `due_at`, straight in its database, since the stack has
    no clock to move; returns the rows changed (0 when the timer already fired)."""
    sql = "UPDATE scheduled_timer SET due_at = {} WHERE kind = {} AND key = {} AND status = 'pending'"
    if benefits_database_url.startswith("sqlite"):
        path = benefits_database_url.split("///", 1)[1]
        naive = due_at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")

        def write() -> int:
            with sqlite3.connect(path, timeout=30) as connection:
                return connection.execute(sql.format("?", "?", "?"), (naive, kind, key)).rowcount

        return await asyncio.to_thread(write)
    connection = await asyncpg.connect(benefits_database_url.replace("+asyncpg", ""))
    try:
        status = await connection.execute(sql.format("$1", "$2", "$3"), due_at, kind, key)
        return int(status.split()[-1])
    finally:
        await connection.close()
