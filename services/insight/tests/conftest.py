"""Insight test fixtures: the kit's testbed (a fresh migrated database per test, the app on the test broker, a
client), a way to apply events as the worker does, and a city's worth of sample events with canary values."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from contracts import CloudEvent, EventData
from contracts.events import (
    CertificationDecided,
    CertificationEscalated,
    CertificationSubmitted,
    ClaimDecided,
    ClaimDisbursed,
    ClaimEscalated,
    ClaimPublicized,
    ClaimSubmitted,
    CodeVerified,
    DemandClosed,
    DemandDeclared,
    LeaseEnded,
    LeaseStarted,
    OfferAccepted,
    OfferDeclined,
    OfferMade,
    PolicyPublished,
    RoundClosed,
    RoundDrawn,
    RoundOpened,
    TalentCertified,
    TalentProfileUpdated,
    TalentRegistered,
    TalentRevoked,
)
from fastapi import FastAPI
from insight.config import InsightSettings
from insight.main import CONSUMER_GROUP, build_app
from servicekit.consumer import EventConsumer
from servicekit.db import Database
from servicekit.testing_fixtures import ServiceTestbed
from sqlmodel import SQLModel

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"

TESTBED = ServiceTestbed("insight", InsightSettings, build_app, ALEMBIC_INI, defaults={"cache_ttl_s": 0.0})
insight_databases, insight_settings, insight_app, client, settings_overrides = TESTBED.fixtures()

# Values that must never reach insight's database: if any of them shows up in a column, a personal field leaked.
CANARY_NAME = "金丝雀甲乙"
CANARY_MASKED = "金*乙"
CANARY_EMPLOYER = "Canary Widgets Ltd 9f3k"
CANARY_ID_NUMBER = "330402199001011234"
CANARY_PHONE = "13912345678"
CANARY_EMAIL = "canary.9f3k@example.org"
CANARY_PARTNER = "partner-canary-9f3k"
CANARY_CREDIT_CODE = "91330400CANARY9F3K"


@pytest.fixture
def leader(test_keys: Any) -> dict[str, str]:
    return dict(test_keys.headers("leader.city", ["leader"]))


def consumer(app: FastAPI) -> EventConsumer:
    consumers: list[EventConsumer] = app.state.runtime.consumers
    return next(c for c in consumers if c.group_id == f"insight.{CONSUMER_GROUP}")


async def apply(app: FastAPI, events: list[CloudEvent]) -> int:
    """Apply events as the worker does (one at a time, through the ledger); returns how many were new."""
    worker = consumer(app)
    applied = 0
    for event in events:
        applied += await worker.apply(event, worker.handlers[event.type])
    return applied


async def apply_without_ledger(app: FastAPI, events: list[CloudEvent]) -> None:
    """Apply events straight through the handlers, each in its own transaction, as if never seen before."""
    from contracts import parse_data

    worker = consumer(app)
    database: Database = app.state.database
    for event in events:
        async with database.transaction() as session:
            await worker.handlers[event.type](session, event, parse_data(event))


async def dump(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every insight table, sorted: what two databases must agree on (not the stored summary, an
    answer stamped with the time it was computed)."""
    tables = [
        t for name, t in SQLModel.metadata.tables.items() if name.startswith("insight_") and name != "insight_snapshot"
    ]
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with database.read() as connection:
        for table in tables:
            rows = (await connection.execute(sa.select(table))).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


async def all_text(database: Database) -> str:
    """Every value of every table of the database (the kit's ledger and outbox too), as one string."""

    def read_all(sync: sa.Connection) -> str:
        metadata = sa.MetaData()
        metadata.reflect(sync)
        assert "insight_talent" in metadata.tables
        return "\n".join(repr(tuple(r)) for table in metadata.tables.values() for r in sync.execute(sa.select(table)))

    async with database.read() as connection:
        return await connection.run_sync(read_all)


@dataclass
class City:
    """Builds a consistent set of events with explicit, increasing event times."""

    start: datetime = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    events: list[CloudEvent] = field(default_factory=list)
    talents: dict[str, dict[str, Any]] = field(default_factory=dict)
    _clock: Iterator[int] = field(default_factory=itertools.count)

    def emit(self, data: EventData, *, subject: str | None = None, hours: float | None = None) -> CloudEvent:
        step = next(self._clock)
        at = self.start + timedelta(minutes=step) + timedelta(hours=hours or 0)
        # From the service that owns the event's topic ("talent.<owner>.…"): consumers refuse anyone else's.
        owner = data.type.split(".")[1]
        event = CloudEvent(source=owner, type=data.type, subject=subject, time=at, data=data.model_dump(mode="json"))
        self.events.append(event)
        return event

    def talent(self, region: str, tier: str, *, route: str = "degree", degree: str = "master") -> str:
        talent_id = f"CANARY-TALENT-{uuid.uuid4()}"
        self.talents[talent_id] = {"region": region, "tier": tier}
        now = self.start
        self.emit(
            TalentRegistered(
                talent_id=talent_id,
                pseudonym=f"partner-pseudonym-{talent_id}",
                region_code=region,
                locale="zh-CN",
                registered_at=now,
                degree=degree,  # type: ignore[arg-type]
                birth_date=date(1990, 1, 1),
                employer_in_shortage_catalogue=True,
                name_masked=CANARY_MASKED,
                employer_name=CANARY_EMPLOYER,
            ),
            subject=talent_id,
        )
        certification_id = str(uuid.uuid4())
        self.emit(
            CertificationSubmitted(
                certification_id=certification_id,
                talent_id=talent_id,
                route=route,  # type: ignore[arg-type]
                claimed_tier=tier,  # type: ignore[arg-type]
                region_code=region,
            ),
            subject=certification_id,
        )
        for stage, status in (("county", "county_approved"), ("city", "certified")):
            self.emit(
                CertificationDecided(
                    certification_id=certification_id,
                    talent_id=talent_id,
                    stage=stage,  # type: ignore[arg-type]
                    decision="approve",
                    status=status,  # type: ignore[arg-type]
                    tier=tier if stage == "city" else None,  # type: ignore[arg-type]
                    reason=f"checked {CANARY_NAME} {CANARY_ID_NUMBER}",
                    decided_by="officer-1",
                ),
                subject=certification_id,
                hours=30 if stage == "county" else 50,
            )
        self.emit(
            TalentCertified(
                talent_id=talent_id,
                pseudonym=f"partner-pseudonym-{talent_id}",
                tier=tier,  # type: ignore[arg-type]
                points=100,
                certified_until=date(2029, 3, 1),
                region_code=region,
            ),
            subject=talent_id,
            hours=50,
        )
        return talent_id

    def claim(self, talent_id: str, policy: str, amount_fen: int, *, straight: bool, paid: bool = False) -> str:
        claim_id = str(uuid.uuid4())
        self.emit(
            ClaimSubmitted(
                claim_id=claim_id,
                talent_id=talent_id,
                policy_code=policy,
                policy_version=1,
                amount_fen=amount_fen,
                status="submitted",  # type: ignore[arg-type]
            ),
            subject=claim_id,
            hours=60,
        )
        if not straight:
            for stage, status in (("county", "county_approved"), ("city", "city_approved")):
                self.emit(
                    ClaimDecided(
                        claim_id=claim_id,
                        talent_id=talent_id,
                        policy_code=policy,
                        stage=stage,  # type: ignore[arg-type]
                        decision="approve",
                        status=status,  # type: ignore[arg-type]
                        decided_by="officer-2",
                        amount_fen=amount_fen,
                    ),
                    subject=claim_id,
                    hours=70 if stage == "county" else 80,
                )
        self.emit(
            ClaimPublicized(
                claim_id=claim_id,
                talent_id=talent_id,
                policy_code=policy,
                amount_fen=amount_fen,
                publicized_until=self.start + timedelta(days=10),
            ),
            subject=claim_id,
            hours=90,
        )
        if paid:
            self.emit(
                ClaimDisbursed(
                    claim_id=claim_id,
                    talent_id=talent_id,
                    policy_code=policy,
                    amount_fen=amount_fen,
                    payment_reference=f"pay-{claim_id}",
                    disbursed_at=self.start + timedelta(days=11),
                ),
                subject=claim_id,
                hours=300,
            )
        return claim_id


def sample_city() -> City:
    """Six tier-B talents in 秀洲区, five tier-C in 南湖区, one tier-A in 南湖区 who is revoked later;
    claims (11 RENT: 6 straight through, 6 paid; 5 SETTLE reviewed, one escalated), a budget, a housing round,
    verifications and demand."""
    city = City()
    xiuzhou = [city.talent("330411", "B") for _ in range(6)]
    nanhu = [city.talent("330402", "C", route="title", degree="doctor") for _ in range(5)]
    lonely = city.talent("330402", "A", route="programme")
    city.emit(TalentRevoked(talent_id=lonely, pseudonym="x", reason=CANARY_NAME, revoked_at=city.start), hours=100)
    city.emit(TalentProfileUpdated(talent_id=xiuzhou[0], region_code="330411", employer_name=CANARY_EMPLOYER), hours=1)
    city.emit(PolicyPublished(policy_code="RENT", version=1, yearly_budget_fen=10_000_000, published_at=city.start))
    for index, talent_id in enumerate(xiuzhou + nanhu):
        city.claim(talent_id, "RENT", 120_000, straight=index % 2 == 0, paid=index < 6)
    claim_ids = [city.claim(talent_id, "SETTLE", 500_000, straight=False) for talent_id in nanhu]
    claim_id = claim_ids[0]
    city.emit(
        ClaimEscalated(
            claim_id=claim_id,
            talent_id=nanhu[0],
            stage="county",
            due_at=city.start,
            breached_at=city.start,
        ),
        hours=75,
    )
    city.emit(
        CertificationEscalated(
            certification_id=str(uuid.uuid4()),
            talent_id=lonely,
            stage="county",
            status="submitted",  # type: ignore[arg-type]
            region_code="330402",
            due_at=city.start,
            breached_at=city.start,
        )
    )
    round_id = str(uuid.uuid4())
    city.emit(RoundOpened(round_id=round_id, name="2026 spring", closes_at=city.start, unit_count=8), subject=round_id)
    city.emit(RoundClosed(round_id=round_id, seed_commitment="c", application_count=7), subject=round_id, hours=1)
    city.emit(
        RoundDrawn(round_id=round_id, seed="s", seed_commitment="c", application_count=7), subject=round_id, hours=2
    )
    for index, talent_id in enumerate(xiuzhou):
        offer_id = str(uuid.uuid4())
        facts = {"offer_id": offer_id, "round_id": round_id, "unit_id": f"u-{index}", "talent_id": talent_id}
        city.emit(OfferMade(**facts, expires_at=city.start), subject=offer_id, hours=3)
        if index == 5:
            city.emit(OfferDeclined(**facts, decline_count=1), subject=offer_id, hours=4)
            continue
        city.emit(OfferAccepted(**facts), subject=offer_id, hours=4)
        lease_id = str(uuid.uuid4())
        city.emit(
            LeaseStarted(
                lease_id=lease_id,
                talent_id=talent_id,
                unit_id=f"u-{index}",
                starts_on=date(2026, 4, 1),
                ends_on=date(2027, 3, 31),
                monthly_rent_fen=150_000,
            ),
            subject=lease_id,
            hours=5,
        )
        if index == 4:
            city.emit(
                LeaseEnded(
                    lease_id=lease_id, talent_id=talent_id, unit_id="u-4", ended_on=date(2026, 5, 1), reason="x"
                ),
                subject=lease_id,
                hours=6,
            )
    for index in range(7):
        city.emit(
            CodeVerified(
                scene="hospital_green_channel",
                partner_kind="hospital",
                partner=CANARY_PARTNER,
                valid=index < 6,
                reason=None if index < 6 else "revoked",
                tier="B" if index < 6 else None,
                privileges=["green_channel"],
                issuing_city="330400",
            ),
            subject=str(uuid.uuid4()),
        )
    demand_id = str(uuid.uuid4())
    city.emit(
        DemandDeclared(
            demand_id=demand_id,
            employer_credit_code=CANARY_CREDIT_CODE,
            region_code="330411",
            title=f"engineer, ask {CANARY_PHONE} / {CANARY_EMAIL}",
            count=3,
            shortage_category="ic_design",
            declared_at=city.start,
        ),
        subject=demand_id,
    )
    city.emit(
        DemandClosed(
            demand_id=demand_id,
            employer_credit_code=CANARY_CREDIT_CODE,
            region_code="330411",
            shortage_category="ic_design",
            count=3,
            closed_at=city.start,
        ),
        subject=demand_id,
        hours=10,
    )
    return city


@pytest.fixture
def city() -> City:
    return sample_city()
