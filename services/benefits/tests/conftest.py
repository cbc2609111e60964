"""Benefits test fixtures: the kit's testbed (a fresh migrated database per test, the app, a client), events
applied as the consumer would, and the officials."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from benefits.config import BenefitsSettings
from benefits.handlers import timer_handlers
from benefits.main import build_app
from contracts import CloudEvent, EventData, TalentCertified, TalentRegistered, make_event
from fastapi import FastAPI
from servicekit.consumer import EventConsumer
from servicekit.testing import TestKeys
from servicekit.testing_fixtures import ServiceTestbed, talent_fixtures
from servicekit.timers import TimerRunner
from sqlalchemy import event

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
NANHU, XIUZHOU = "330402", "330411"
TESTBED = ServiceTestbed("benefits", BenefitsSettings, build_app, ALEMBIC_INI, defaults={"publicity_period_s": 3600})
benefits_databases, benefits_settings, benefits_app, client, settings_overrides = TESTBED.fixtures()
talent_id, talent = talent_fixtures()


def today() -> date:
    return (datetime.now(UTC) + timedelta(hours=8)).date()


def registered(talent_id: str, **facts: Any) -> TalentRegistered:
    """A young master's graduate working in 南湖区 since recently: eligible for the living allowance at tier E."""
    values: dict[str, Any] = {
        "talent_id": talent_id,
        "pseudonym": f"tp_{talent_id[:8]}",
        "region_code": NANHU,
        "locale": "zh-CN",
        "registered_at": datetime.now(UTC),
        "degree": "master",
        "graduated_on": today() - timedelta(days=200),
        "birth_date": date(1998, 5, 1),
        "employer_region_code": NANHU,
        "social_insurance_months": 6,
        "owns_home_in_city": False,
        "works_in_city": True,
    }
    values.update(facts)
    return TalentRegistered(**values)


def certified(talent_id: str, tier: str = "E", **extra: Any) -> TalentCertified:
    values: dict[str, Any] = {
        "talent_id": talent_id,
        "pseudonym": f"tp_{talent_id[:8]}",
        "tier": tier,
        "points": 40,
        "certified_until": today() + timedelta(days=3 * 365),
        "region_code": NANHU,
    }
    values.update(extra)
    return TalentCertified(**values)


class Events:
    """Applies events to the app's database exactly as its consumer does (ledger included)."""

    def __init__(self, app: FastAPI) -> None:
        runtime = app.state.runtime
        # Each event type to the consumer group that handles it (talents; settlement's verifications).
        self.consumers = {
            event_type: consumer
            for consumer in (
                EventConsumer(
                    runtime.database,
                    runtime.publisher,
                    bootstrap_servers=runtime.settings.kafka_bootstrap_servers,
                    group_id=f"benefits.{suffix}",
                    handlers=handlers,
                )
                for suffix, handlers in runtime.definition.consumers.items()
            )
            for event_type in consumer.handlers
        }

    async def apply_event(self, event: CloudEvent) -> bool:
        consumer = self.consumers[event.type]
        return await consumer.apply(event, consumer.handlers[event.type])

    async def apply(self, data: EventData, *, time: datetime | None = None) -> CloudEvent:
        subject = getattr(data, "talent_id", None)
        event = make_event(data, source="test", subject=subject)
        if time is not None:
            event = event.model_copy(update={"time": time})
        await self.apply_event(event)
        return event


@pytest.fixture
def events(benefits_app: FastAPI) -> Events:
    return Events(benefits_app)


async def fire_timers(app: FastAPI, at: datetime) -> int:
    """Fire every timer due at `at`, as the worker's runner would when that time comes."""
    runner = TimerRunner(app.state.database, timer_handlers(), clock=lambda: at)
    return await runner.fire_due()


@pytest.fixture
def officials(test_keys: TestKeys) -> dict[str, dict[str, str]]:
    """The dev accounts' roles, with fresh ids."""
    return {
        "reviewer.nanhu": test_keys.headers("official-reviewer-nanhu", ["county_reviewer"], region=NANHU),
        "reviewer.xiuzhou": test_keys.headers("official-reviewer-xiuzhou", ["county_reviewer"], region=XIUZHOU),
        "approver.city": test_keys.headers("official-approver-city", ["city_approver"]),
        "approver.city2": test_keys.headers("official-approver-city2", ["city_approver"]),
        "finance.city": test_keys.headers("official-finance-city", ["finance_officer"]),
        "auditor.city": test_keys.headers("official-auditor-city", ["auditor"]),
        "admin": test_keys.headers("official-admin", ["admin"]),
    }


class Statements:
    """Counts the SQL statements an app sends inside the block, by their first 90 characters."""

    def __init__(self, app: FastAPI) -> None:
        self.engine = app.state.database.engine.sync_engine
        self.seen: Counter[str] = Counter()

    def _count(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.seen[" ".join(statement.split())[:90]] += 1

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)
