"""Insight's facts do not depend on the order events arrive in: a talent's life (registration, profile changes,
certification with a returned case, certified, revoked, reinstated at another tier, expired, certified again,
claims through review to payment) and housing and demand around it, shuffled, repeated and cut into batches
at random, always gives the rows that applying it in publish order gives — events of one instant included.

A replay reads a talent's events from several partitions (keyed by the talent, each case, or the event), so
any interleaving can happen; this is that replay's property, without a broker, over many orders.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from contracts import CloudEvent, EventData, parse_data
from contracts.events import (
    CertificationDecided,
    CertificationEscalated,
    CertificationSubmitted,
    ClaimDecided,
    ClaimDisbursed,
    ClaimEscalated,
    ClaimPublicized,
    ClaimSubmitted,
    DemandClosed,
    DemandDeclared,
    LeaseEnded,
    LeaseRenewed,
    LeaseStarted,
    OfferAccepted,
    OfferMade,
    PolicyPublished,
    RoundClosed,
    RoundDrawn,
    RoundOpened,
    TalentCertified,
    TalentExpired,
    TalentProfileUpdated,
    TalentRegistered,
    TalentReinstated,
    TalentRevoked,
)
from fastapi import FastAPI
from servicekit.db import Database
from sqlmodel import SQLModel

from .conftest import consumer, dump

pytestmark = pytest.mark.asyncio

ORDERS = 20  # shuffled orders tried (each into emptied tables); the old facts failed the first


@dataclass
class Stream:
    """Events with explicit times (minutes after a start); `tie=True` reuses the previous event's time."""

    start: datetime = datetime(2026, 5, 4, 1, 0, tzinfo=UTC)
    events: list[CloudEvent] = field(default_factory=list)

    def add(self, data: EventData, minute: float, *, subject: str | None = None) -> CloudEvent:
        at = self.start + timedelta(minutes=minute)
        owner = data.type.split(".")[1]  # the service whose topic carries it
        event = CloudEvent(source=owner, type=data.type, subject=subject, time=at, data=data.model_dump(mode="json"))
        self.events.append(event)
        return event


def talent_life(stream: Stream, offset: float) -> None:
    """One talent's life, every event the statistics read; `offset` shifts it so talents interleave."""
    talent_id = f"talent-{uuid.uuid4()}"
    certification_id, second_certification = str(uuid.uuid4()), str(uuid.uuid4())

    def t(minute: float) -> float:
        return offset + minute

    profile = {"degree": "master", "birth_date": date(1991, 2, 3), "employer_in_shortage_catalogue": True}
    stream.add(
        TalentRegistered(
            talent_id=talent_id,
            pseudonym="p",
            region_code="330402",
            locale="zh-CN",
            registered_at=stream.start + timedelta(minutes=t(0)),
            **profile,
        ),
        t(0),
        subject=talent_id,
    )
    # Moved, then an update that leaves the region out (it says nothing about it), then two of one instant.
    stream.add(
        TalentProfileUpdated(talent_id=talent_id, region_code="330411", degree="master"), t(5), subject=talent_id
    )
    stream.add(TalentProfileUpdated(talent_id=talent_id, degree="doctor"), t(9), subject=talent_id)
    stream.add(TalentProfileUpdated(talent_id=talent_id, region_code="330421", degree="doctor"), t(12))
    stream.add(TalentProfileUpdated(talent_id=talent_id, region_code="330424", degree="bachelor"), t(12))

    # A certification returned by the county and submitted again under another route.
    for minute, route in ((20, "degree"), (40, "title")):
        stream.add(
            CertificationSubmitted(
                certification_id=certification_id,
                talent_id=talent_id,
                route=route,
                claimed_tier="B",
                region_code="330411",
            ),
            t(minute),
            subject=certification_id,
        )
    decisions = ((30, "county", "returned"), (50, "county", "county_approved"), (70, "city", "certified"))
    for minute, stage, status in decisions:
        stream.add(
            CertificationDecided(
                certification_id=certification_id,
                talent_id=talent_id,
                stage=stage,
                decision="return" if status == "returned" else "approve",
                status=status,
                tier="B" if stage == "city" else None,
                decided_by="officer",
            ),
            t(minute),
            subject=certification_id,
        )
    stream.add(
        CertificationEscalated(
            certification_id=certification_id,
            talent_id=talent_id,
            stage="county",
            status="submitted",
            region_code="330411",
            due_at=stream.start,
            breached_at=stream.start,
        ),
        t(45),
    )

    # Standing: certified B, revoked, reinstated at A, expired, certified again at C (a second case).
    def certified(minute: float, tier: str) -> None:
        stream.add(
            TalentCertified(
                talent_id=talent_id,
                pseudonym="p",
                tier=tier,
                points=90,
                certified_until=date(2029, 5, 1),
                region_code="330402",
            ),
            t(minute),
            subject=talent_id,
        )

    certified(70, "B")
    now = stream.start
    stream.add(TalentRevoked(talent_id=talent_id, pseudonym="p", reason="r", revoked_at=now), t(100))
    stream.add(
        TalentReinstated(talent_id=talent_id, pseudonym="p", status="certified", tier="A", reinstated_at=now),
        t(130),
        subject=talent_id,
    )
    stream.add(TalentExpired(talent_id=talent_id, pseudonym="p", expired_on=date(2026, 5, 6)), t(2 * 24 * 60))
    stream.add(
        CertificationSubmitted(
            certification_id=second_certification,
            talent_id=talent_id,
            route="programme",
            claimed_tier="C",
            region_code="330421",
        ),
        t(2 * 24 * 60 + 10),
        subject=second_certification,
    )
    certified(3 * 24 * 60, "C")

    # A claim reviewed at both stages (one escalated), publicised and paid; decided and publicised at one instant.
    claim_id = str(uuid.uuid4())
    common = {"claim_id": claim_id, "talent_id": talent_id, "policy_code": "RENT"}
    stream.add(
        ClaimSubmitted(**common, policy_version=1, amount_fen=120_000, status="submitted"),
        t(200),
        subject=claim_id,
    )
    stream.add(
        ClaimEscalated(claim_id=claim_id, talent_id=talent_id, stage="county", due_at=now, breached_at=now), t(250)
    )
    for minute, stage, status, amount in (
        (300, "county", "county_approved", 110_000),
        (400, "city", "city_approved", 100_000),
    ):
        stream.add(
            ClaimDecided(
                **common,
                stage=stage,
                decision="approve",
                status=status,
                decided_by="officer",
                amount_fen=amount,
            ),
            t(minute),
            subject=claim_id,
        )
    stream.add(ClaimPublicized(**common, amount_fen=100_000, publicized_until=now), t(400), subject=claim_id)
    stream.add(
        ClaimDisbursed(**common, amount_fen=100_000, payment_reference="pay", disbursed_at=now),
        t(900),
        subject=claim_id,
    )
    # And one rejected straight away.
    rejected = str(uuid.uuid4())
    mine = {"claim_id": rejected, "talent_id": talent_id, "policy_code": "SETTLE"}
    stream.add(
        ClaimSubmitted(**mine, policy_version=2, amount_fen=500_000, status="submitted"),
        t(210),
        subject=rejected,
    )
    stream.add(
        ClaimDecided(**mine, stage="county", decision="reject", status="rejected", decided_by="o"),
        t(260),
        subject=rejected,
    )


def housing_and_demand(stream: Stream) -> None:
    round_id, offer_id, lease_id, demand_id = (str(uuid.uuid4()) for _ in range(4))
    stream.add(RoundOpened(round_id=round_id, name="r", closes_at=stream.start, unit_count=4), 1, subject=round_id)
    stream.add(RoundClosed(round_id=round_id, seed_commitment="c", application_count=3), 60, subject=round_id)
    stream.add(RoundDrawn(round_id=round_id, seed="s", seed_commitment="c", application_count=5), 120, subject=round_id)
    offer = {"offer_id": offer_id, "round_id": round_id, "unit_id": "u", "talent_id": "t"}
    stream.add(OfferMade(**offer, expires_at=stream.start), 130, subject=offer_id)
    stream.add(OfferAccepted(**offer), 140, subject=offer_id)
    lease = {"lease_id": lease_id, "talent_id": "t", "unit_id": "u"}
    stream.add(LeaseStarted(**lease, starts_on=date(2026, 6, 1), ends_on=date(2027, 5, 31), monthly_rent_fen=1), 150)
    stream.add(LeaseRenewed(**lease, ends_on=date(2028, 5, 31), monthly_rent_fen=1), 200)
    stream.add(LeaseEnded(**lease, ended_on=date(2027, 1, 1), reason="x"), 300)
    demand = {"demand_id": demand_id, "employer_credit_code": "c", "region_code": "330411", "shortage_category": "ic"}
    stream.add(DemandDeclared(**demand, title="t", count=3, declared_at=stream.start), 10, subject=demand_id)
    stream.add(DemandClosed(**demand, count=2, closed_at=stream.start), 500, subject=demand_id)
    for minute, budget in ((0, 1_000_000), (0, 2_000_000), (30, 1_500_000)):  # two versions of one instant
        stream.add(
            PolicyPublished(
                policy_code="RENT",
                version=1 + minute,
                yearly_budget_fen=budget,
                published_at=stream.start + timedelta(minutes=minute),
            ),
            minute,
        )


def city_stream() -> list[CloudEvent]:
    stream = Stream()
    for index in range(4):
        talent_life(stream, offset=index * 7)
    housing_and_demand(stream)
    return stream.events


async def apply_in_batches(app: FastAPI, events: Sequence[CloudEvent], rng: random.Random) -> None:
    """Apply events as the worker's batch path does (each batch one transaction, its rows loaded up front by the
    handlers' `prepare`), but without the ledger, so a repeated event reaches the facts again."""
    worker = consumer(app)
    database: Database = app.state.database
    position = 0
    while position < len(events):
        batch = events[position : position + rng.randint(1, 12)]
        position += len(batch)
        items = [(event, parse_data(event)) for event in batch]
        async with database.transaction() as session:
            prepare = getattr(worker.handlers[batch[0].type], "prepare", None)
            if prepare is not None:
                await prepare(session, items)
            for event, data in items:
                await worker.handlers[event.type](session, event, data)


async def clear(database: Database) -> None:
    async with database.transaction() as session:
        for name, table in SQLModel.metadata.tables.items():
            if name.startswith("insight_"):
                await session.exec(sa.delete(table))


def differences(expected: dict[str, list[Any]], got: dict[str, list[Any]]) -> list[str]:
    out = []
    for table in expected:
        for row in sorted(set(expected[table]) - set(got[table]), key=repr):
            out.append(f"{table}: expected {row}")
        for row in sorted(set(got[table]) - set(expected[table]), key=repr):
            out.append(f"{table}: got      {row}")
    return out


def shuffled_with_repeats(events: list[CloudEvent], rng: random.Random) -> list[CloudEvent]:
    order = list(events)
    order += rng.sample(events, k=len(events) // 3)  # redeliveries
    rng.shuffle(order)
    return order


async def test_any_order_any_repeat_and_any_batching_give_the_rows_of_the_publish_order(insight_app: FastAPI) -> None:
    database: Database = insight_app.state.database
    events = city_stream()
    await clear(database)
    await apply_in_batches(insight_app, events, random.Random(0))
    expected = await dump(database)
    assert len(expected["insight_talent"]) == 4

    for seed in range(ORDERS):
        rng = random.Random(seed)
        await clear(database)
        await apply_in_batches(insight_app, shuffled_with_repeats(events, rng), rng)
        wrong = differences(expected, await dump(database))
        assert not wrong, f"order {seed} gave other rows:\n" + "\n".join(wrong)


async def test_a_talent_revoked_before_its_older_certification_arrives_keeps_the_tier(insight_app: FastAPI) -> None:
    # The order a replay across partitions once produced: the revocation (keyed by its own id) before the
    # certification (keyed by the talent). Standing is the revocation; the tier is the certification's.
    stream = Stream()
    talent_id = "talent-revoked-first"
    stream.add(
        TalentCertified(
            talent_id=talent_id,
            pseudonym="p",
            tier="A",
            points=1,
            certified_until=date(2029, 1, 1),
            region_code="330402",
        ),
        0,
        subject=talent_id,
    )
    stream.add(TalentRevoked(talent_id=talent_id, pseudonym="p", reason="r", revoked_at=stream.start), 60)
    database: Database = insight_app.state.database

    await apply_in_batches(insight_app, stream.events, random.Random(1))
    in_order = await dump(database)
    await clear(database)
    await apply_in_batches(insight_app, list(reversed(stream.events)), random.Random(1))
    reversed_order = await dump(database)

    assert reversed_order == in_order
    (talent,) = in_order["insight_talent"]
    row = dict(zip([c.name for c in SQLModel.metadata.tables["insight_talent"].columns], talent, strict=True))
    assert (row["status"], row["tier"], row["region_code"]) == ("revoked", "A", "330402")
    assert row["certified_on"] == date(2026, 5, 4)
