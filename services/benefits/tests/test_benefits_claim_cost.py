"""What one one-tap claim costs the database: SQL statements per POST /api/v1/me/claims.

Counts, not timings (performance lives in bench/): a regression that adds a query per claim (an N+1, a rule
re-read, a row written one by one) fails here. The CPU per claim is printed for bench/gaps/benefits.md.
"""

from __future__ import annotations

import os
import time
import uuid

import httpx
from fastapi import FastAPI
from servicekit.testing import TestKeys

from .conftest import Events, Statements, certified, registered

# Claimable with one tap at tier C by the fixtures' talent (the bench's CLAIMABLE_AT_TIER_C).
CLAIMABLE = ("HEALTH_CHECK", "RENT_SUBSIDY", "HOUSING_VOUCHER", "TAX_REBATE", "GREEN_CARD")
# Statements of one claim, BEGIN and COMMIT included. A one-tap claim reads the catalogue's fingerprint, the
# talent's facts, lease and claims, the year's budget, writes the claim, its history, its outbox rows and its
# timers (one statement each kind): 10 (and the year's budget where the policy has one).
MAX_STATEMENTS_PER_CLAIM = 11


async def test_a_one_tap_claim_sends_a_bounded_number_of_statements(
    client: httpx.AsyncClient, events: Events, benefits_app: FastAPI, test_keys: TestKeys
) -> None:
    talents = [str(uuid.uuid4()) for _ in range(int(os.environ.get("CLAIM_COST_TALENTS", "4")))]
    for talent_id in talents:
        await events.apply(registered(talent_id))
        await events.apply(certified(talent_id, "C"))
    # A first claim of each policy warms the process (catalogue, seeds of the day); the rest are measured.
    warm = test_keys.headers(talents[0], ["talent"])
    for code in CLAIMABLE:
        response = await client.post("/api/v1/me/claims", json={"policy_code": code}, headers=warm)
        assert response.status_code == 201, response.text
    measured = 0
    cpu = time.process_time()
    with Statements(benefits_app) as statements:
        for talent_id in talents[1:]:
            headers = test_keys.headers(talent_id, ["talent"])
            for code in CLAIMABLE:
                response = await client.post("/api/v1/me/claims", json={"policy_code": code}, headers=headers)
                assert response.status_code == 201, response.text
                measured += 1
    cpu = time.process_time() - cpu
    per_claim = sum(statements.seen.values()) / measured
    print(f"\n{per_claim:.2f} statements and {cpu / measured * 1e6:.0f} µs CPU (client included) per one-tap claim")
    for statement, count in statements.seen.most_common():
        print(f"  {count / measured:5.2f}  {statement}")
    assert per_claim <= MAX_STATEMENTS_PER_CLAIM, statements.seen.most_common()
