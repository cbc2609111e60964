"""Every status benefits gives a claim reaches the statistics through its event: a payment the bank refused is
counted as `payment_failed` (its budget stays committed) until a later batch pays it, and a claim resubmitted
after a return is counted where it is now while it keeps the day of its first submission."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from contracts import ClaimDecided, ClaimDisbursed, ClaimPaymentFailed, ClaimSubmitted
from fastapi import FastAPI
from insight.facts import local_day
from insight.models import InsightClaim

from .conftest import City, apply

pytestmark = pytest.mark.asyncio


def _refused(city: City, talent_id: str, claim_id: str, *, hours: float) -> None:
    city.emit(
        ClaimPaymentFailed(
            claim_id=claim_id,
            talent_id=talent_id,
            policy_code="RENT",
            amount_fen=120_000,
            status="payment_failed",  # type: ignore[arg-type]
        ),
        subject=talent_id,
        hours=hours,
    )


async def test_a_refused_payment_is_counted_as_payment_failed_until_a_later_batch_pays_it(
    insight_app: FastAPI, client: httpx.AsyncClient, leader: dict[str, str]
) -> None:
    city = City()
    talents = [city.talent("330411", "B") for _ in range(10)]
    claims = {talent_id: city.claim(talent_id, "RENT", 120_000, straight=True) for talent_id in talents}
    for talent_id in talents[:5]:
        _refused(city, talent_id, claims[talent_id], hours=200)
    await apply(insight_app, city.events)

    summary = (await client.get("/api/v1/insight/summary", headers=leader)).json()
    assert summary["claims"]["by_status"] == {"payment_failed": 5, "publicized": 5}
    rent = next(line for line in summary["budgets"] if line["policy_code"] == "RENT")
    assert (rent["claims"], rent["committed_fen"], rent["paid_fen"]) == (10, 10 * 120_000, 0)

    # The next batch pays them: the later event wins, whichever order the two arrive in.
    paid = City(start=city.start)
    for talent_id in talents[:5]:
        paid.emit(
            ClaimDisbursed(
                claim_id=claims[talent_id],
                talent_id=talent_id,
                policy_code="RENT",
                amount_fen=120_000,
                payment_reference=f"retry-{talent_id}",
                disbursed_at=city.start + timedelta(days=20),
            ),
            subject=talent_id,
            hours=400,
        )
        _refused(paid, talent_id, claims[talent_id], hours=200)  # a late redelivery of the refusal
    await apply(insight_app, paid.events)

    summary = (await client.get("/api/v1/insight/summary", headers=leader)).json()
    assert summary["claims"]["by_status"] == {"disbursed": 5, "publicized": 5}
    rent = next(line for line in summary["budgets"] if line["policy_code"] == "RENT")
    assert (rent["committed_fen"], rent["paid_fen"]) == (10 * 120_000, 5 * 120_000)


async def test_a_resubmitted_claim_counts_where_it_is_now_and_keeps_its_first_day(insight_app: FastAPI) -> None:
    city = City()
    talent_id = city.talent("330402", "C")
    claim_id = city.claim(talent_id, "SETTLE", 500_000, straight=True)
    common = {"claim_id": claim_id, "talent_id": talent_id, "policy_code": "SETTLE"}
    city.emit(
        ClaimDecided(**common, stage="county", decision="return", status="returned"),  # type: ignore[arg-type]
        subject=talent_id,
        hours=100,
    )
    city.emit(
        ClaimSubmitted(
            **common,
            policy_version=1,
            amount_fen=400_000,
            status="submitted",
            resubmitted=True,  # type: ignore[arg-type]
        ),
        subject=talent_id,
        hours=24 * 5,
    )
    city.emit(
        ClaimDecided(**common, stage="acceptance", decision="approve", status="accepted"),  # type: ignore[arg-type]
        subject=talent_id,
        hours=24 * 5,
    )
    await apply(insight_app, city.events)

    async with insight_app.state.database.sessionmaker() as session:
        claim = await session.get(InsightClaim, claim_id)
    assert claim is not None
    assert (claim.status, claim.amount_fen) == ("accepted", 400_000)
    first = next(e.time for e in city.events if e.type == ClaimSubmitted.type and e.data["claim_id"] == claim_id)
    assert (
        claim.submitted_on == local_day(first) != local_day(city.events[-2].time)
    )  # five days before the resubmission
