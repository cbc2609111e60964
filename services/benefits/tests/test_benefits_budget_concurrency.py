"""Parallel approvals never overspend a policy's yearly budget (PostgreSQL: real concurrent transactions)."""

from __future__ import annotations

import asyncio
import os
import uuid

import httpx
import pytest
from benefits.models import PolicyBudget
from fastapi import FastAPI
from servicekit.testing import TestKeys
from sqlmodel import select

from .conftest import Events, certified, registered

Headers = dict[str, str]

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="SQLite serialises every writer (BEGIN IMMEDIATE), so approvals cannot race there; "
    "set TEST_DATABASE_URL to a PostgreSQL server to run this test",
)

CLAIMS = 8
BUDGET_FEN = 3 * 200000  # room for three health-check vouchers


class TestParallelApprovals:
    async def test_concurrent_city_approvals_stop_exactly_at_the_budget(
        self,
        client: httpx.AsyncClient,
        events: Events,
        test_keys: TestKeys,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        current = (await client.get("/api/v1/policies/HEALTH_CHECK")).json()
        body = {k: current[k] for k in ("name", "eligibility", "limits", "amount", "review", "effects")}
        body |= {"budget": {"yearly_budget_fen": BUDGET_FEN}, "change_reason": "budget for the test"}
        assert (
            await client.put("/api/v1/admin/policies/HEALTH_CHECK", json=body, headers=officials["admin"])
        ).status_code == 200

        claim_ids = []
        for _ in range(CLAIMS):
            talent_id = str(uuid.uuid4())
            await events.apply(registered(talent_id))
            await events.apply(certified(talent_id, "D"))
            claim = await client.post(
                "/api/v1/me/claims",
                json={"policy_code": "HEALTH_CHECK"},
                headers=test_keys.headers(talent_id, ["talent"]),
            )
            assert claim.json()["status"] == "accepted"
            county = await client.post(
                f"/api/v1/reviews/claims/{claim.json()['id']}/decisions",
                json={"decision": "approve", "reason": "ok"},
                headers=officials["reviewer.nanhu"],
            )
            assert county.status_code == 200
            claim_ids.append(claim.json()["id"])

        approvers = [officials["approver.city"], officials["approver.city2"]]
        responses = await asyncio.gather(
            *(
                client.post(
                    f"/api/v1/reviews/claims/{claim_id}/decisions",
                    json={"decision": "approve", "reason": "ok"},
                    headers=approvers[i % 2],
                )
                for i, claim_id in enumerate(claim_ids)
            )
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] * 3 + [409] * (CLAIMS - 3), [
            r.text for r in responses if r.status_code not in {200, 409}
        ]
        assert all("budget" in r.json()["detail"] for r in responses if r.status_code == 409)
        async with benefits_app.state.database.sessionmaker() as session:
            [budget] = (
                await session.exec(select(PolicyBudget).where(PolicyBudget.policy_code == "HEALTH_CHECK"))
            ).all()
        assert budget.committed_fen == BUDGET_FEN and budget.committed_count == 3
