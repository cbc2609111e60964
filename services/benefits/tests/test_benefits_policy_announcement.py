"""Every policy version in force reaches the city's statistics once: the seeded ones at the worker's start."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx
from benefits.catalogue import load_seed
from benefits.main import announce_policies
from benefits.models import BenefitPolicy
from contracts.events import PolicyPublished
from fastapi import FastAPI
from servicekit.models import OutboxEvent
from sqlmodel import col, select

Headers = dict[str, str]


async def _announced(app: FastAPI) -> list[dict[str, Any]]:
    """The policy.published events in the outbox, oldest first (their data, with the record key)."""
    async with app.state.database.sessionmaker() as session:
        rows = (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id)))).all()
    return [
        json.loads(row.payload)["data"] | {"key": row.key} for row in rows if row.event_type == PolicyPublished.type
    ]


class TestPolicyAnnouncement:
    async def test_the_worker_announces_each_seeded_version_once_and_a_restart_repeats_nothing(
        self, benefits_app: FastAPI
    ) -> None:
        # A seeded version with a budget (as a later seed may carry): the figure travels with the announcement.
        async with benefits_app.state.database.transaction() as session:
            current = (await session.exec(select(BenefitPolicy).where(col(BenefitPolicy.current).is_(True)))).all()
            voucher = next(row for row in current if row.code == "HOUSING_VOUCHER")
            voucher.rules = voucher.rules | {"budget": {"yearly_budget_fen": 90_000_000}}
            in_force = {row.code: (row.version, row.created_at) for row in current}
        assert await _announced(benefits_app) == []

        await announce_policies(benefits_app.state.runtime)
        announced = await _announced(benefits_app)
        assert sorted(d["policy_code"] for d in announced) == sorted(p.code for p in load_seed())
        assert all(d["key"] == d["policy_code"] for d in announced)
        budgets = {d["policy_code"]: d["yearly_budget_fen"] for d in announced}
        assert budgets["HOUSING_VOUCHER"] == 90_000_000
        assert budgets["GREEN_CARD"] is None  # no budget limit in the seed
        # The version in force, stamped with its own creation, so a newer version's event always wins over this one.
        assert {
            d["policy_code"]: (d["version"], datetime.fromisoformat(d["published_at"])) for d in announced
        } == in_force

        await announce_policies(benefits_app.state.runtime)  # the worker starts again
        assert len(await _announced(benefits_app)) == len(announced)

    async def test_a_version_an_administrator_published_is_not_announced_again(
        self, client: httpx.AsyncClient, officials: dict[str, Headers], benefits_app: FastAPI
    ) -> None:
        current = (await client.get("/api/v1/policies/GREEN_CARD")).json()
        body = {k: current[k] for k in ("name", "eligibility", "limits", "amount", "review", "effects")}
        body |= {"budget": {"yearly_budget_fen": 3_000_000}, "change_reason": "2027 budget"}
        changed = await client.put("/api/v1/admin/policies/GREEN_CARD", json=body, headers=officials["admin"])
        assert changed.status_code == 200, changed.text

        await announce_policies(benefits_app.state.runtime)
        green = [
            (d["version"], d["yearly_budget_fen"]) for d in await _announced(benefits_app) if d["key"] == "GREEN_CARD"
        ]
        # Version 2 by the change itself; version 1 is no longer in force and is never announced.
        assert green == [(2, 3_000_000)]
