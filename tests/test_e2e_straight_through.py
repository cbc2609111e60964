"""Straight-through 免申即享 and city-scale casework across the platform, through the gateway: a talent whose
facts employer.demo attested and whose certification confirmed is granted with no human decision; a sampled
claim and one whose employment is disputed go to the normal review with the reason shown; next year's claim
renews; an appeal overturns a rejection; a payment batch goes to the bank and back, a failed line is paid in a
later batch, and the same result file twice changes nothing.

Each test makes policies of its own through the admin API (auto-granted, for the region 秀洲 only, deactivated
afterwards), so the sampling share and the batch's lines are the test's and no other test's talents get them.
The talents live in 秀洲 (330411) and work for employer.demo. The only thing not done through the gateway: the
renewal test moves the one renewal timer's due time to the past in benefits' database (the stack has no clock
to move), and benefits' own timer runner fires it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from servicekit.testing import eventually

from .helpers import (
    Headers,
    employer,
    fresh_id_number,
    official,
    profile,
    set_timer_due,
    submit_certification,
    talent,
)
from .stack import Stack

REGION = "330411"  # 秀洲区: reviewer.xiuzhou's region
EMPLOYER_REGION = "330402"  # employer.demo's
AMOUNT_FEN = 100000
CONFIRMED = ["employer_attested", "officer_confirmed"]
RENEWAL_TIMER = "benefits.claim.renewal"


# --- the test's own policies ---------------------------------------------------------------------------------


def _rules(code: str, straight_through: dict[str, Any] | None) -> dict[str, Any]:
    """An auto-granted yearly policy (3 years) for tier E in 秀洲, a fixed amount; reviewed unless straight through."""
    return {
        "code": code,
        "name": f"跨服务测试政策 {code}",
        "auto_grant": True,
        "eligibility": {"tiers": ["E"], "regions": [REGION]},
        "limits": {"frequency": "yearly", "max_claims": 3},
        "amount": {"basis": "fixed", "values": {"any": AMOUNT_FEN}},
        "straight_through": straight_through,
        "change_reason": "cross-service test",
    }


def straight_through(sample_share: float) -> dict[str, Any]:
    return {
        "requires": {"employer": CONFIRMED, "social_insurance_months": CONFIRMED, "education": ["officer_confirmed"]},
        "max_amount_fen": 3000000,
        "sample_share": sample_share,
    }


PolicyMaker = Callable[[dict[str, Any] | None], Awaitable[str]]


@pytest.fixture
async def new_policy(gateway: httpx.AsyncClient) -> AsyncIterator[PolicyMaker]:
    """Creates policies for the test; each is deactivated (a new version, active: false) when the test ends."""
    admin = await official(gateway, "admin")
    made: list[dict[str, Any]] = []

    async def make(rules: dict[str, Any] | None) -> str:
        code = f"E2E_{uuid.uuid4().hex[:10].upper()}"
        body = _rules(code, rules)
        created = await gateway.post("/api/v1/admin/policies", json=body, headers=admin)
        assert created.status_code == 201, created.text
        made.append(body)
        return code

    yield make
    admin = await official(gateway, "admin")
    for body in made:
        closed = {k: v for k, v in body.items() if k != "code"} | {"active": False, "change_reason": "test over"}
        response = await gateway.put(f"/api/v1/admin/policies/{body['code']}", json=closed, headers=admin)
        assert response.status_code == 200, response.text


# --- talents -------------------------------------------------------------------------------------------------


async def _attest(gateway: httpx.AsyncClient, talent_id: str, outcome: str) -> None:
    response = await gateway.post(
        "/api/v1/employer/attestations",
        json={
            "talent_id": talent_id,
            "employed_since": (date.today() - timedelta(days=400)).isoformat(),
            "position": "芯片设计工程师",
            "social_insurance_months": 10,
            "outcome": outcome,
        },
        headers={**await employer(gateway), "Idempotency-Key": f"attest-{uuid.uuid4()}"},
    )
    assert response.status_code == 201, response.text


async def _talent(
    gateway: httpx.AsyncClient, attestation: str | None = "confirmed", auth: Headers | None = None
) -> tuple[str, Headers]:
    """A talent of 秀洲 working for employer.demo: the profile stored, employer.demo's attestation (if any) given,
    then certified tier E on the degree route (which confirms the education): (talent id, headers). `auth` is a
    talent already signed in (a browser test's app user); a new one otherwise."""
    auth = auth or await talent(gateway)
    body = profile(fresh_id_number(REGION), region=REGION)
    body["employer"]["region_code"] = EMPLOYER_REGION
    stored = await gateway.put("/api/v1/me/profile", json=body, headers=auth)
    assert stored.status_code == 200, stored.text
    talent_id = str((await gateway.get("/api/v1/me/talent", headers=auth)).json()["talent_id"])
    if attestation is not None:
        await _attest(gateway, talent_id, attestation)
    certification_id = await submit_certification(gateway, auth)
    for username in ("reviewer.xiuzhou", "approver.city"):
        decided = await gateway.post(
            f"/api/v1/reviews/certifications/{certification_id}/decisions",
            json={"decision": "approve", "tier": "E", "reason": "diploma checked"},
            headers=await official(gateway, username),
        )
        assert decided.status_code == 200, decided.text
    return talent_id, auth


async def _claims_of(gateway: httpx.AsyncClient, auth: Headers, code: str, count: int = 1) -> list[dict[str, Any]]:
    """The talent's claims of the policy, oldest first, once there are `count` of them (they come by events)."""

    async def claims() -> list[dict[str, Any]] | None:
        items = (await gateway.get("/api/v1/me/claims", params={"limit": 200}, headers=auth)).json()["items"]
        mine = sorted((c for c in items if c["policy_code"] == code), key=lambda c: c["submitted_at"])
        return mine if len(mine) >= count else None

    found: list[dict[str, Any]] = await eventually(claims, timeout=30)
    return found


async def _claim(gateway: httpx.AsyncClient, auth: Headers, claim_id: str) -> dict[str, Any]:
    response = await gateway.get(f"/api/v1/me/claims/{claim_id}", headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _until(
    gateway: httpx.AsyncClient, auth: Headers, claim_id: str, test: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        claim = await _claim(gateway, auth, claim_id)
        return claim if test(claim) else None

    found: dict[str, Any] = await eventually(check, timeout=30)
    return found


def _actions(claim: dict[str, Any]) -> list[str]:
    return [h["action"] for h in claim["history"]]


async def _decide(gateway: httpx.AsyncClient, username: str, claim_id: str, decision: str, reason: str) -> Any:
    response = await gateway.post(
        f"/api/v1/reviews/claims/{claim_id}/decisions",
        json={"decision": decision, "reason": reason},
        headers=await official(gateway, username),
    )
    assert response.status_code == 200, response.text
    return response.json()


# --- benefits' database (the renewal test only) ---------------------------------------------------------------


async def _make_timer_due(stack: Stack, kind: str, key: str) -> int:
    """Move one pending timer's due time to the past, as if its day had come; returns the rows changed."""
    url = stack.env["benefits"]["BENEFITS_DATABASE_URL"]
    return await set_timer_due(url, kind, key, datetime(2000, 1, 1, tzinfo=UTC))


# --- the bank ----------------------------------------------------------------------------------------------------


def _bank_lines(text: str) -> tuple[list[dict[str, str]], list[str]]:
    """The payment lines of a bank file and its control line's fields."""
    rows = list(csv.reader(io.StringIO(text)))
    control = [r for r in rows if r and r[0].startswith("#")]
    header, *lines = [r for r in rows if r and not r[0].startswith("#")]
    assert len(control) == 1, text
    return [dict(zip(header, line, strict=True)) for line in lines], control[0]


def _result_file(outcomes: list[tuple[str, str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["line_ref", "status", "bank_reference"])
    writer.writerows(outcomes)
    return out.getvalue()


async def _batch(gateway: httpx.AsyncClient, finance: Headers, code: str) -> dict[str, Any]:
    response = await gateway.post(
        "/api/v1/finance/payment-batches",
        json={"policy_code": code},
        headers={**finance, "Idempotency-Key": f"batch-{uuid.uuid4()}"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def _bank_file(gateway: httpx.AsyncClient, finance: Headers, batch: dict[str, Any]) -> list[dict[str, str]]:
    response = await gateway.get(f"/api/v1/finance/payment-batches/{batch['id']}/file", headers=finance)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert hashlib.sha256(response.content).hexdigest() == batch["file_sha256"]
    lines, control = _bank_lines(response.content.decode("utf-8"))
    assert str(len(lines)) in control and str(batch["total_fen"]) in control
    return lines


async def _results(gateway: httpx.AsyncClient, finance: Headers, batch_id: str, text: str) -> dict[str, Any]:
    response = await gateway.post(
        f"/api/v1/finance/payment-batches/{batch_id}/results",
        content=text.encode("utf-8"),
        headers={**finance, "Content-Type": "text/csv"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- the tests -------------------------------------------------------------------------------------------------


class TestStraightThrough:
    async def test_a_clean_talent_is_publicized_with_no_human_decision(
        self, gateway: httpx.AsyncClient, new_policy: PolicyMaker
    ) -> None:
        code = await new_policy(straight_through(sample_share=0.0))
        _, auth = await _talent(gateway, attestation="confirmed")
        [claim] = await _claims_of(gateway, auth, code)
        assert claim["status"] == "publicized" and claim["straight_through"] is True, claim["manual_review_reasons"]
        assert claim["sampled"] is False and claim["manual_review_reasons"] == []
        assert {h["actor"] for h in claim["history"]} == {"system"}  # no official decided anything
        assert claim["officer"] is None

    async def test_a_sampled_claim_goes_to_the_normal_two_stage_review(
        self, gateway: httpx.AsyncClient, new_policy: PolicyMaker
    ) -> None:
        code = await new_policy(straight_through(sample_share=1.0))
        _, auth = await _talent(gateway, attestation="confirmed")
        [claim] = await _claims_of(gateway, auth, code)
        assert claim["status"] == "accepted" and claim["straight_through"] is False, claim
        assert claim["sampled"] is True and claim["manual_review_reasons"] == ["sampled"]
        await _decide(gateway, "reviewer.xiuzhou", claim["id"], "approve", "sample checked")
        decided = await _decide(gateway, "approver.city", claim["id"], "approve", "sample checked")
        assert decided["status"] == "publicized" and decided["straight_through"] is False

    async def test_a_disputed_attestation_sends_the_claim_to_manual_review_with_the_reason(
        self, gateway: httpx.AsyncClient, new_policy: PolicyMaker
    ) -> None:
        code = await new_policy(straight_through(sample_share=0.0))
        _, auth = await _talent(gateway, attestation="disputed")
        [claim] = await _claims_of(gateway, auth, code)
        assert claim["status"] == "accepted" and claim["straight_through"] is False, claim
        assert "employment_disputed" in claim["manual_review_reasons"]
        case = await gateway.get(
            f"/api/v1/reviews/claims/{claim['id']}", headers=await official(gateway, "reviewer.xiuzhou")
        )
        assert case.status_code == 200, case.text
        assert "employment_disputed" in case.json()["manual_review_reasons"]

    async def test_a_granted_year_renews_in_year_two(
        self, gateway: httpx.AsyncClient, stack: Stack, new_policy: PolicyMaker
    ) -> None:
        code = await new_policy(straight_through(sample_share=0.0))
        talent_id, auth = await _talent(gateway, attestation="confirmed")
        [first] = await _claims_of(gateway, auth, code)
        assert first["status"] == "publicized", first
        next_year = first["year"] + 1
        key = f"{talent_id}:{code}:{next_year}"

        async def timer_moved() -> bool:
            return await _make_timer_due(stack, RENEWAL_TIMER, key) == 1

        await eventually(timer_moved, timeout=10)
        _, second = await _claims_of(gateway, auth, code, count=2)
        assert _actions(second)[0] == "renewed" and second["auto"] is True and second["year"] == next_year
        assert second["history"][0]["reason"] == f"renewal for {next_year} of claim {first['id']}"
        assert second["status"] == "publicized" and second["straight_through"] is True


class TestAppeals:
    async def test_an_appeal_to_another_city_approver_overturns_a_rejection(
        self, gateway: httpx.AsyncClient, new_policy: PolicyMaker
    ) -> None:
        code = await new_policy(None)  # always reviewed
        _, auth = await _talent(gateway, attestation=None)
        [claim] = await _claims_of(gateway, auth, code)
        rejected = await _decide(gateway, "reviewer.xiuzhou", claim["id"], "reject", "社保记录不符")
        assert rejected["status"] == "rejected"

        appealed = await gateway.post(
            f"/api/v1/me/claims/{claim['id']}/appeal", json={"reason": "社保已补缴，附凭证"}, headers=auth
        )
        assert appealed.status_code == 200, appealed.text
        assert appealed.json()["status"] == "appealed"

        overturned = await _decide(gateway, "approver.city", claim["id"], "approve", "复议：补缴凭证核实")
        assert overturned["status"] in ("city_approved", "publicized"), overturned
        mine = await _until(gateway, auth, claim["id"], lambda c: c["status"] == "publicized")
        assert {"rejected", "appealed", "appeal_overturned"} <= set(_actions(mine))


class TestPaymentBatches:
    async def test_a_batch_round_trip_retries_a_failed_line_and_the_same_result_file_twice_changes_nothing(
        self, gateway: httpx.AsyncClient, new_policy: PolicyMaker
    ) -> None:
        code = await new_policy(straight_through(sample_share=0.0))
        talents = [await _talent(gateway, attestation="confirmed") for _ in range(2)]
        claims = [(await _claims_of(gateway, auth, code))[0] for _, auth in talents]
        (_, paid_auth), (_, failed_auth) = talents
        paid_id, failed_id = claims[0]["id"], claims[1]["id"]
        for (_, auth), claim in zip(talents, claims, strict=True):
            await _until(gateway, auth, claim["id"], lambda c: "publicity_ended" in _actions(c))

        finance = await official(gateway, "finance.city")
        batch = await _batch(gateway, finance, code)
        assert batch["status"] == "open" and batch["lines"] == 2 and batch["total_fen"] == 2 * AMOUNT_FEN
        lines = await _bank_file(gateway, finance, batch)
        ref = {line["claim_id"]: line["line_ref"] for line in lines}
        assert set(ref) == {paid_id, failed_id}

        bank = f"BANK-{uuid.uuid4().hex[:12]}"  # the bank's references are unique across the stack's tests
        result = _result_file([(ref[paid_id], "paid", f"{bank}-1"), (ref[failed_id], "failed", f"{bank}-2")])
        applied = await _results(gateway, finance, batch["id"], result)
        assert (applied["paid"], applied["failed"], applied["problems"]) == (1, 1, [])
        paid = await _claim(gateway, paid_auth, paid_id)
        failed = await _claim(gateway, failed_auth, failed_id)
        assert paid["status"] == "disbursed" and failed["status"] == "payment_failed"

        again = await _results(gateway, finance, batch["id"], result)
        assert (again["paid"], again["failed"], again["ignored"]) == (0, 0, 2)
        assert await _claim(gateway, paid_auth, paid_id) == paid
        assert await _claim(gateway, failed_auth, failed_id) == failed

        retry = await _batch(gateway, finance, code)
        assert retry["lines"] == 1 and retry["total_fen"] == AMOUNT_FEN
        [line] = await _bank_file(gateway, finance, retry)
        assert line["claim_id"] == failed_id
        unknown = _result_file([(line["line_ref"], "paid", f"{bank}-3"), ("NO-SUCH-LINE", "paid", f"{bank}-4")])
        applied = await _results(gateway, finance, retry["id"], unknown)
        assert applied["paid"] == 1 and len(applied["problems"]) == 1
        retried = await _claim(gateway, failed_auth, failed_id)
        assert retried["status"] == "disbursed"
        assert _actions(retried)[-2:] == ["payment_failed", "disbursed"]
