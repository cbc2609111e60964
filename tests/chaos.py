"""Load, faults and invariants shared by the fault suite (test_faults.py) and the replicas test (test_replicas.py).

`Workload` drives the platform the way a subsidy window does: talents sign in, store a profile, apply for
certification; two officials approve it (→ talent.certified → benefits' 免申即享 auto-grant, notify's inbox);
each talent claims the rent subsidy (with an Idempotency-Key), two officials approve, the 公示 timer ends, and
finance pays it with two concurrent disbursements (different payment references: exactly one may win); the
talents apply to a housing round, the officer closes and draws it, and every offered talent accepts twice at
once. A request that fails because a process was killed or the broker is frozen (a transport error or a
502/503/504 from the gateway) is retried with the same body and Idempotency-Key until a bounded deadline.

`check_invariants` then reads every service's database directly (the URLs of stack.env) and proves, within
bounded waits: every accepted request's effect exists exactly once, one auto-grant per certified talent, one
inbox entry per (event, recipient) for every notified event, no claim disbursed twice, the 公示 timer fired
once per claim, no unit leased twice, and every outbox drained.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import sqlite3
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from servicekit.testing import eventually

from .stack import ROOT, Stack
from .test_e2e_registration import resident_id

SERVICES = ("applicant", "benefits", "housing", "notify")
RETRYABLE = {502, 503, 504}
NOTIFIED_TYPES = frozenset(
    json.loads((ROOT / "services/notify/src/notify/data/catalogue.json").read_text(encoding="utf-8"))["events"]
)


# ---------------------------------------------------------------------------------------------------- databases


async def table(url: str, name: str) -> list[dict[str, Any]]:
    """Every row of one table of a service's database (SQLite file or PostgreSQL), read directly."""
    sql = f"SELECT * FROM {name}"  # noqa: S608  (table names are constants of this module)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]

        def read() -> list[dict[str, Any]]:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as connection:
                connection.row_factory = sqlite3.Row
                return [dict(row) for row in connection.execute(sql).fetchall()]

        return await asyncio.to_thread(read)
    connection = await asyncpg.connect(url.replace("+asyncpg", ""))
    try:
        return [dict(row) for row in await connection.fetch(sql)]
    finally:
        await connection.close()


def database_url(stack: Stack, service: str) -> str:
    return stack.env[service][f"{service.upper()}_DATABASE_URL"]


# ----------------------------------------------------------------------------------------------------- workload


def _sub(token: str) -> str:
    payload = token.split(".")[1]
    return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"])


def _profile(sequence: str) -> dict[str, Any]:
    graduated = (date.today() - timedelta(days=300)).isoformat()
    return {
        "name": "赵六",
        "id_type": "resident_id",
        "id_number": resident_id(birth="19990101", sequence=sequence),
        "birth_date": "1999-01-01",
        "locale": "zh-CN",
        "region_code": "330402",
        "education": {"degree": "master", "school": "浙江大学", "graduated_on": graduated},
        "employer": {"name": "嘉兴某科技有限公司", "credit_code": "91330402MA2B3C4D53", "region_code": "330402"},
        "social_insurance_months": 10,
        "owns_home_in_city": False,
    }


@dataclass
class Talent:
    index: int
    talent_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    certification_id: str = ""
    claim_id: str = ""
    # Payment references tried, and those that got a 200 (an accepted disbursement).
    references_tried: list[str] = field(default_factory=list)
    references_paid: list[str] = field(default_factory=list)
    applied: bool = False
    offer_id: str = ""
    leases_accepted: list[str] = field(default_factory=list)
    done: bool = False


class Workload:
    """Talents and officials through the gateway (and, with `direct`, straight to each service's other replicas)."""

    def __init__(self, stack: Stack, *, direct: bool = False, deadline_s: float = 90.0, units: int = 3) -> None:
        self.stack = stack
        self.direct = direct
        self.deadline_s = deadline_s
        self.units = units
        self.client = httpx.AsyncClient(timeout=20.0)
        self.talents: list[Talent] = []
        self.officials: dict[str, dict[str, str]] = {}
        self.round_id = ""
        self.project_id = ""
        self.retries = 0
        self.failures: list[str] = []
        # Each service's own turn, so its calls alternate between its replicas whatever the other services do.
        self._turns: defaultdict[str, itertools.count[int]] = defaultdict(itertools.count)
        self.by_base: Counter[str] = Counter()

    async def close(self) -> None:
        await self.client.aclose()

    def _base(self, service: str | None) -> str:
        if service is None or not self.direct:
            return self.stack.gateway_url
        bases = [self.stack.gateway_url, *self.stack.replica_urls[service][1:]]
        return bases[next(self._turns[service]) % len(bases)]

    async def call(
        self,
        service: str | None,
        method: str,
        path: str,
        *,
        ok: Sequence[int] = (200, 201),
        settled: Sequence[int] = (),
        base: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send until an answer in `ok` (or, on a retry, in `settled`: the first attempt did it); bounded."""
        deadline = time.monotonic() + self.deadline_s
        attempt = 0
        while True:
            attempt += 1
            target = base or self._base(service)
            last: object
            try:
                response = await self.client.request(method, target + path, **kwargs)
                self.by_base[target] += 1
                if response.status_code in ok or (attempt > 1 and response.status_code in settled):
                    return response
                if response.status_code not in RETRYABLE:
                    raise AssertionError(f"{method} {path} → {response.status_code}: {response.text[:500]}")
                last = response.status_code
            except httpx.TransportError as exc:
                last = repr(exc)
            self.retries += 1
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {path}: no answer within {self.deadline_s}s (last: {last})")
            await asyncio.sleep(0.25)

    async def until(self, what: str, check: Any, timeout: float | None = None) -> Any:
        """A bounded wait for an effect that travels by event (the broker may be frozen meanwhile)."""
        try:
            return await eventually(check, timeout=timeout or self.deadline_s, interval=0.25)
        except AssertionError as exc:
            raise AssertionError(f"{what}: {exc}") from exc

    # -- setup ------------------------------------------------------------------------------------------------

    async def official(self, username: str) -> dict[str, str]:
        if username not in self.officials:
            form = {"grant_type": "password", "username": username, "password": "dev-password"}
            token = (await self.call(None, "POST", "/api/v1/auth/token", data=form)).json()["access_token"]
            self.officials[username] = {"Authorization": f"Bearer {token}"}
        return self.officials[username]

    async def open_housing_round(self) -> None:
        officer = await self.official("housing.city")
        key = {"Idempotency-Key": f"chaos-{uuid.uuid4().hex}"}
        project = {
            "name": "故障测试公寓",
            "region_code": "330402",
            "supply_model": "government",
            "address": "测试路1号",
        }
        self.project_id = (
            await self.call("housing", "POST", "/api/v1/housing/projects", json=project, headers={**officer, **key})
        ).json()["id"]
        units = {
            "units": [
                {"number": f"9-{i:03d}", "unit_type": "1BR", "area_m2": 48.0, "monthly_rent_fen": 250000}
                for i in range(self.units)
            ]
        }
        created = await self.call(
            "housing",
            "POST",
            f"/api/v1/housing/projects/{self.project_id}/units",
            json=units,
            headers={**officer, "Idempotency-Key": f"chaos-{uuid.uuid4().hex}"},
        )
        closes_at = (datetime.now(UTC) + timedelta(days=7)).isoformat()
        body = {"name": "故障测试批次", "unit_ids": [u["id"] for u in created.json()["items"]], "closes_at": closes_at}
        self.round_id = (
            await self.call(
                "housing",
                "POST",
                "/api/v1/housing/rounds",
                json=body,
                headers={**officer, "Idempotency-Key": f"chaos-{uuid.uuid4().hex}"},
            )
        ).json()["id"]

    # -- one talent's path ----------------------------------------------------------------------------------

    async def sign_in(self, talent: Talent) -> None:
        phone = f"+86135{uuid.uuid4().int % 10**8:08d}"
        deadline = time.monotonic() + self.deadline_s
        while True:
            otp = await self.call(None, "POST", "/api/v1/auth/otp", json={"phone": phone}, ok=(202,))
            form = {"grant_type": "otp", "phone": phone, "code": otp.json()["dev_code"]}
            try:
                token = (await self.call(None, "POST", "/api/v1/auth/token", data=form)).json()["access_token"]
                break
            except AssertionError:  # the code was used by an attempt whose answer was lost: ask for another
                if time.monotonic() > deadline:
                    raise
        talent.talent_id = _sub(token)
        talent.headers = {"Authorization": f"Bearer {token}"}

    async def certify(self, talent: Talent) -> None:
        auth = talent.headers
        await self.call("applicant", "PUT", "/api/v1/me/profile", json=_profile(f"{100 + talent.index}"), headers=auth)
        application = {
            "route": "degree",
            "claimed_tier": "E",
            "evidence": [{"kind": "diploma", "reference": f"file:chaos-{talent.index}", "sha256": "cd" * 32}],
        }
        key = {"Idempotency-Key": f"cert-{talent.talent_id}"}
        created = await self.call(
            "applicant", "POST", "/api/v1/me/certifications", json=application, headers={**auth, **key}
        )
        talent.certification_id = created.json()["id"]
        for official in ("reviewer.nanhu", "approver.city"):
            await self.call(
                "applicant",
                "POST",
                f"/api/v1/reviews/certifications/{talent.certification_id}/decisions",
                json={"decision": "approve", "tier": "E", "reason": "diploma checked"},
                headers=await self.official(official),
                # A retry whose lost first attempt applied finds the case at the next stage, which this officer
                # may not decide (403), or decided (409); the invariants check the outcome afterwards.
                settled=(403, 409),
            )

    async def claim_and_get_paid(self, talent: Talent) -> None:
        auth = talent.headers

        async def rent_claimable() -> bool:
            response = await self.client.get(f"{self.stack.gateway_url}/api/v1/me/eligibility", headers=auth)
            items = response.json().get("items", []) if response.status_code == 200 else []
            return any(i["policy_code"] == "RENT_SUBSIDY" and i["eligible"] for i in items)

        await self.until(f"talent {talent.index}: benefits hears talent.certified", self._safe(rent_claimable))
        claim = await self.call(
            "benefits",
            "POST",
            "/api/v1/me/claims",
            json={"policy_code": "RENT_SUBSIDY", "details": {"months": 12}},
            headers={**auth, "Idempotency-Key": f"rent-{talent.talent_id}"},
        )
        talent.claim_id = claim.json()["id"]
        for official in ("reviewer.nanhu", "approver.city"):
            await self.call(
                "benefits",
                "POST",
                f"/api/v1/reviews/claims/{talent.claim_id}/decisions",
                json={"decision": "approve", "reason": "materials complete"},
                headers=await self.official(official),
                settled=(403, 409),  # as for certifications: the lost first attempt moved the claim on
            )

        async def publicity_over() -> bool:
            url = f"{self.stack.gateway_url}/api/v1/me/claims/{talent.claim_id}"
            response = await self.client.get(url, headers=auth)
            return response.status_code == 200 and "publicity_ended" in [
                h["action"] for h in response.json()["history"]
            ]

        await self.until(f"talent {talent.index}: the 公示 timer fires", self._safe(publicity_over))
        # Two payments at once with different references (through different replicas when there are several):
        # the claim must be paid exactly once.
        finance = await self.official("finance.city")
        bases = [self._base("benefits"), self._base("benefits")]
        references = [f"PAY-{uuid.uuid4().hex[:16]}" for _ in bases]
        talent.references_tried += references

        async def pay(reference: str, base: str) -> None:
            response = await self._pay_once(talent, reference, base, finance)
            if response.status_code == 200:
                talent.references_paid.append(reference)

        await asyncio.gather(*(pay(r, b) for r, b in zip(references, bases, strict=True)))

    async def _pay_once(self, talent: Talent, reference: str, base: str, finance: dict[str, str]) -> httpx.Response:
        """One disbursement; a 409 is an answer here (the other one won), retried only on a lost answer."""
        path = f"/api/v1/reviews/claims/{talent.claim_id}/disbursement"
        return await self.call(
            "benefits",
            "POST",
            path,
            json={"payment_reference": reference},
            headers=finance,
            ok=(200, 409),
            base=base if self.direct else None,
        )

    async def apply_for_housing(self, talent: Talent) -> None:
        async def applied() -> bool:
            try:
                response = await self.client.post(
                    f"{self._base('housing')}/api/v1/housing/rounds/{self.round_id}/applications",
                    json={"preferred_project_ids": [self.project_id], "household_size": 2},
                    headers=talent.headers,
                )
            except httpx.TransportError:
                return False
            if response.status_code == 201:
                return True
            # 409: an earlier attempt whose answer was lost did apply. Anything else: housing has not heard
            # talent.certified yet (or the service is restarting).
            mine = await self.client.get(f"{self.stack.gateway_url}/api/v1/me/housing", headers=talent.headers)
            return mine.status_code == 200 and any(
                a.get("round_id") == self.round_id for a in mine.json().get("applications", [])
            )

        await self.until(f"talent {talent.index}: housing application", applied)
        talent.applied = True

    async def read_inbox(self, talent: Talent) -> None:
        async def has_entries() -> bool:
            response = await self.client.get(f"{self._base('notify')}/api/v1/me/inbox", headers=talent.headers)
            if response.status_code not in (200, *RETRYABLE):
                raise AssertionError(f"GET /api/v1/me/inbox → {response.status_code}: {response.text[:300]}")
            self.by_base[str(response.request.url).split("/api/")[0]] += 1
            return response.status_code == 200 and bool(response.json()["items"])

        await self.until(f"talent {talent.index}: inbox", self._safe(has_entries))

    async def talent_path(self, index: int, start_after_s: float) -> None:
        await asyncio.sleep(start_after_s)  # staggered arrivals, so the load spans the faults
        talent = Talent(index)
        self.talents.append(talent)
        try:
            await self.sign_in(talent)
            await self.certify(talent)
            await self.claim_and_get_paid(talent)
            await self.apply_for_housing(talent)
            await self.read_inbox(talent)
            talent.done = True
        except AssertionError as exc:
            self.failures.append(f"talent {index}: {exc}")

    # -- the round ------------------------------------------------------------------------------------------

    async def allocate(self) -> None:
        officer = await self.official("housing.city")
        for step in ("close", "draw"):
            await self.call(
                "housing", "POST", f"/api/v1/housing/rounds/{self.round_id}/{step}", headers=officer, settled=(409,)
            )

        async def accept_twice(talent: Talent) -> None:
            mine = (await self.call("housing", "GET", "/api/v1/me/housing", headers=talent.headers)).json()
            offers = [o for o in mine["offers"] if o["status"] == "open"]
            if not offers:
                return
            talent.offer_id = offers[0]["id"]
            path = f"/api/v1/me/housing/offers/{talent.offer_id}/accept"
            answers = await asyncio.gather(
                *(self.call("housing", "POST", path, headers=talent.headers, ok=(200, 409, 422)) for _ in range(2))
            )
            talent.leases_accepted += [a.json()["id"] for a in answers if a.status_code == 200]

        await asyncio.gather(*(accept_twice(t) for t in self.talents if t.applied))

    async def run(self, talents: int, stagger_s: float) -> None:
        await self.open_housing_round()
        await asyncio.gather(*(self.talent_path(i, i * stagger_s) for i in range(talents)))
        await self.allocate()

    def _safe(self, check: Any) -> Any:
        async def guarded() -> Any:
            try:
                return await check()
            except (httpx.TransportError, ValueError, KeyError):
                return False

        return guarded


# ------------------------------------------------------------------------------------------------------- faults


@dataclass
class FaultLog:
    events: list[tuple[str, float]] = field(default_factory=list)

    def note(self, what: str, seconds: float) -> None:
        self.events.append((what, round(seconds, 1)))


async def kill_and_restart(stack: Stack, name: str, log: FaultLog) -> None:
    started = time.perf_counter()
    await asyncio.to_thread(stack.kill, name)  # SIGKILL: no shutdown hook runs
    await asyncio.to_thread(stack.restart, name)  # same command, same environment, same database
    log.note(f"kill -9 {name} + restart", time.perf_counter() - started)


async def freeze_broker(stack: Stack, seconds: float, log: FaultLog) -> None:
    stack.broker.pause()  # SIGSTOP
    try:
        await asyncio.sleep(seconds)
    finally:
        stack.broker.resume()  # SIGCONT
    log.note(f"broker SIGSTOP {seconds:.0f}s + SIGCONT", seconds)


async def kill_and_restart_broker(stack: Stack, log: FaultLog) -> None:
    """kill -9 the broker and start it again on its port, empty: Tansu keeps records, topics and committed
    offsets in memory. The relays find the loss and publish their retained outbox again (servicekit.outbox)."""
    started = time.perf_counter()
    await asyncio.to_thread(stack.broker.kill)
    await asyncio.to_thread(stack.broker.restart)
    log.note("broker kill -9 + empty restart", time.perf_counter() - started)


# --------------------------------------------------------------------------------------------------- invariants


async def check_invariants(stack: Stack, workload: Workload, *, timeout: float = 60.0) -> dict[str, int]:
    """Read every database directly and assert the invariants; returns the counts it checked."""
    urls = {name: database_url(stack, name) for name in SERVICES}
    talents = [t for t in workload.talents if t.talent_id]
    done = [t for t in talents if t.done]
    assert not workload.failures, workload.failures
    assert done, "no talent finished its path"

    # Every outbox drained: every event the services wrote has been published.
    async def drained() -> bool:
        for name in SERVICES:
            rows = await table(urls[name], "outbox")
            if any(r["published_at"] is None for r in rows):
                return False
        return True

    await eventually(drained, timeout=timeout, interval=0.5)
    outbox = {name: await table(urls[name], "outbox") for name in SERVICES}

    # applicant: one talent per signed-in person, one certification each (Idempotency-Key), all certified.
    applicant_talents = Counter(r["id"] for r in await table(urls["applicant"], "talent"))
    certifications = Counter(r["talent_id"] for r in await table(urls["applicant"], "talent_certification"))
    status = {r["id"]: r["status"] for r in await table(urls["applicant"], "talent")}
    for t in talents:
        if t.certification_id:
            assert applicant_talents[t.talent_id] == 1, t
            assert certifications[t.talent_id] == 1, (t, certifications[t.talent_id])
            assert status[t.talent_id] == "certified", (t, status[t.talent_id])
    certified_ids = {tid for tid, s in status.items() if s == "certified"}

    # benefits: exactly one LIVING_ALLOWANCE auto-grant per certified talent; one rent claim each, paid once.
    async def auto_grants() -> Counter[str] | None:
        claims = await table(urls["benefits"], "benefit_claim")
        grants = Counter(c["talent_id"] for c in claims if c["auto"] and c["policy_code"] == "LIVING_ALLOWANCE")
        return grants if set(grants) >= certified_ids else None

    grants = await eventually(auto_grants, timeout=timeout, interval=0.5)
    assert all(n == 1 for n in grants.values()), {k: n for k, n in grants.items() if n != 1}
    claims = await table(urls["benefits"], "benefit_claim")
    history = await table(urls["benefits"], "benefit_claim_history")
    by_claim: dict[str, Counter[str]] = {}
    for h in history:
        by_claim.setdefault(h["claim_id"], Counter())[h["action"]] += 1
    for claim_id, actions in by_claim.items():
        assert actions["disbursed"] <= 1, f"claim {claim_id} disbursed {actions['disbursed']} times"
        assert actions["publicity_ended"] <= 1, f"claim {claim_id}: the 公示 timer fired {actions['publicity_ended']}×"
    rent = Counter(c["talent_id"] for c in claims if c["policy_code"] == "RENT_SUBSIDY")
    claim_rows = {c["id"]: c for c in claims}
    for t in talents:
        if not t.claim_id:
            continue
        assert rent[t.talent_id] == 1, (t, rent[t.talent_id])
        row = claim_rows[t.claim_id]
        if t.references_tried:
            assert len(t.references_paid) <= 1, f"claim {t.claim_id} paid twice: {t.references_paid}"
            assert row["status"] == "disbursed", row
            assert by_claim[t.claim_id]["disbursed"] == 1
            assert row["payment_reference"] in t.references_tried
            if t.references_paid:
                assert row["payment_reference"] == t.references_paid[0]
    disbursed_events = Counter(
        json.loads(r["payload"])["data"]["claim_id"]
        for r in outbox["benefits"]
        if r["event_type"] == "talent.benefits.claim.disbursed.v1"
    )
    assert all(n == 1 for n in disbursed_events.values()), disbursed_events

    # housing: one application per talent, no unit (nor talent, nor offer) leased twice, each accept → one lease.
    applications = Counter(
        r["talent_id"]
        for r in await table(urls["housing"], "housing_application")
        if r["round_id"] == workload.round_id
    )
    assert all(n == 1 for n in applications.values()), applications
    assert {t.talent_id for t in talents if t.applied} <= set(applications)
    leases = [r for r in await table(urls["housing"], "housing_lease") if r["round_id"] == workload.round_id]
    for column in ("unit_id", "talent_id", "offer_id"):
        counts = Counter(r[column] for r in leases)
        assert all(n == 1 for n in counts.values()), f"leased twice by {column}: {counts}"
    accepted = [t for t in talents if t.leases_accepted]
    for t in accepted:
        assert len(set(t.leases_accepted)) == 1, t.leases_accepted
        assert [r["id"] for r in leases if r["talent_id"] == t.talent_id] == t.leases_accepted[:1]
    offered = [t for t in talents if t.offer_id]
    assert len(leases) == len(offered) == min(workload.units, len([t for t in talents if t.applied])), (
        len(leases),
        len(offered),
    )

    # notify: one inbox entry per (event, recipient) for every notified event any service wrote.
    expected = {r["event_id"]: r["key"] for name in SERVICES for r in outbox[name] if r["event_type"] in NOTIFIED_TYPES}

    async def inbox_complete() -> list[dict[str, Any]] | None:
        rows = await table(urls["notify"], "notify_notification")
        return rows if set(expected) <= {r["source_event_id"] for r in rows} else None

    notifications = await eventually(inbox_complete, timeout=timeout, interval=0.5)
    per_pair = Counter((r["source_event_id"], r["recipient_id"]) for r in notifications)
    assert all(n == 1 for n in per_pair.values()), [p for p, n in per_pair.items() if n > 1]
    for event_id, recipient in expected.items():
        assert per_pair[(event_id, recipient)] == 1, (event_id, recipient)

    # Every consumer group applied each event at most once (the ledger's key) and the timers fired once each.
    for name in SERVICES:
        ledger = Counter((r["consumer_group"], r["event_id"]) for r in await table(urls[name], "processed_event"))
        assert all(n == 1 for n in ledger.values()), name
    return {
        "talents": len(talents),
        "finished": len(done),
        "auto_grants": len(grants),
        "claims_paid": sum(1 for t in talents if t.references_tried),
        "leases": len(leases),
        "notifications": len(expected),
        "events": sum(len(rows) for rows in outbox.values()),
        "retried_requests": workload.retries,
    }
