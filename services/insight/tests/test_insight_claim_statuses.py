"""Every status a service gives a claim or a round reaches the statistics through its event: a payment the bank
refused is counted as `payment_failed` (its budget stays committed) until a later batch pays it, a claim
resubmitted after a return is counted where it is now while it keeps the day of its first submission, and a
housing round whose last offer was answered is `completed`."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from contracts import (
    ClaimDecided,
    ClaimDisbursed,
    ClaimPaymentFailed,
    ClaimSubmitted,
    CloudEvent,
    RoundDrawn,
    RoundOpened,
)
from contracts.events import RoundClosed, RoundCompleted
from fastapi import FastAPI
from insight.facts import local_day
from insight.models import InsightClaim, InsightRound

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


async def test_a_completed_round_is_counted_as_completed_whichever_of_its_last_two_events_arrives_first(
    insight_app: FastAPI,
) -> None:
    city = City()
    round_id = str(uuid.uuid4())
    city.emit(RoundOpened(round_id=round_id, name="2026 autumn", closes_at=city.start, unit_count=3), subject=round_id)
    city.emit(RoundClosed(round_id=round_id, seed_commitment="c", application_count=0), subject=round_id, hours=1)
    drawn = RoundDrawn(round_id=round_id, seed="s", seed_commitment="c", application_count=0)
    # No application, no offer: the draw completes the round in its own transaction, at the same instant.
    completed = city.emit(RoundCompleted(round_id=round_id), subject=round_id, hours=2)
    same_instant = CloudEvent(
        source="housing", type=drawn.type, subject=round_id, time=completed.time, data=drawn.model_dump()
    )
    await apply(insight_app, [city.events[0], city.events[1], completed, same_instant])

    async with insight_app.state.database.sessionmaker() as session:
        round_ = await session.get(InsightRound, round_id)
    assert round_ is not None and round_.status == "completed"
