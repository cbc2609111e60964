"""Every change of a claim's status is an event: a resubmission (补正) is announced as a submission again, and a
payment the bank refused as `claim.payment_failed`, so the services fed by events (insight, notify) see what
benefits' own database says."""

from __future__ import annotations

import json
from typing import Any

import httpx
from contracts import ClaimPaymentFailed, ClaimSubmitted
from fastapi import FastAPI
from servicekit.models import OutboxEvent
from servicekit.testing import TestKeys
from sqlmodel import select

from .conftest import Events
from .test_benefits_claims import _certified_talent, _claim, _decide
from .test_benefits_payments import BATCHES, _bank_file, _import, _payable_claims, _results

Headers = dict[str, str]


async def _emitted(app: FastAPI, event_type: str, claim_id: str) -> list[dict[str, Any]]:
    """The outbox's events of a type about one claim, oldest first (each as its whole CloudEvent)."""
    async with app.state.database.sessionmaker() as session:
        rows = (await session.exec(select(OutboxEvent).order_by(OutboxEvent.id))).all()  # type: ignore[arg-type]
    events = [json.loads(row.payload) for row in rows if row.event_type == event_type]
    return [e for e in events if e["data"].get("claim_id") == claim_id]


class TestResubmission:
    async def test_a_resubmitted_claim_is_announced_as_submitted_again_with_its_new_amount(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        await _certified_talent(events, talent_id, "D")
        claim = (await _claim(client, talent, "RENT_SUBSIDY", months=12)).json()
        returned = await _decide(client, officials["reviewer.nanhu"], claim["id"], "return", reason="contract?")
        assert returned.json()["status"] == "returned"

        resubmitted = await client.post(
            f"/api/v1/me/claims/{claim['id']}/resubmit",
            json={"details": {"months": 10, "lease_contract": "HT-2026-001"}},
            headers=talent,
        )
        assert resubmitted.status_code == 200, resubmitted.text

        first, again = await _emitted(benefits_app, ClaimSubmitted.type, claim["id"])
        assert first["data"]["resubmitted"] is False and first["data"]["amount_fen"] == 12 * 200000
        assert again["subject"] == talent_id
        assert again["data"] == {
            "claim_id": claim["id"],
            "talent_id": talent_id,
            "policy_code": "RENT_SUBSIDY",
            "policy_version": first["data"]["policy_version"],
            "amount_fen": 10 * 200000,
            "auto": False,
            "status": "submitted",
            "resubmitted": True,
        }
        # The automatic checks that follow at once are announced after it, as for a first submission.
        decided = await _emitted(benefits_app, "talent.benefits.claim.decided.v1", claim["id"])
        assert [d["data"]["status"] for d in decided] == ["accepted", "returned", "accepted"]
        assert decided[-1]["time"] >= again["time"]


class TestFailedPayment:
    async def test_a_refused_payment_is_announced_without_bank_or_payee_details_and_its_retry_as_paid(
        self,
        client: httpx.AsyncClient,
        events: Events,
        test_keys: TestKeys,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        finance = officials["finance.city"]
        [claim] = await _payable_claims(1, client, events, test_keys, officials, benefits_app)
        batch = (await client.post(BATCHES, json={}, headers=finance)).json()
        _, rows = await _bank_file(client, finance, batch["id"])
        refused = await _import(client, finance, batch["id"], _results((rows[1][0], "failed", "ACCOUNT-CLOSED")))
        assert refused.json()["failed"] == 1

        [failed] = await _emitted(benefits_app, ClaimPaymentFailed.type, claim["id"])
        assert failed["subject"] == claim["talent_id"] and failed["source"] == "benefits"
        assert failed["data"] == {
            "claim_id": claim["id"],
            "talent_id": claim["talent_id"],
            "policy_code": "RENT_SUBSIDY",
            "amount_fen": claim["amount_fen"],
            "status": "payment_failed",
        }
        assert "ACCOUNT-CLOSED" not in json.dumps(failed) and rows[1][0] not in json.dumps(failed)

        later = (await client.post(BATCHES, json={}, headers=finance)).json()
        _, rows = await _bank_file(client, finance, later["id"])
        await _import(client, finance, later["id"], _results((rows[1][0], "paid", "BANK-RETRY-1")))
        [paid] = await _emitted(benefits_app, "talent.benefits.claim.disbursed.v1", claim["id"])
        assert paid["data"]["payment_reference"] == "BANK-RETRY-1" and paid["time"] > failed["time"]
