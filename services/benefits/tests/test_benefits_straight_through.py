"""Straight-through approval (免申即享 with no reviewer), the sampled review and its auditable draw, and the
signals that keep a claim for the two-stage review — each with its reason on the claim."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import httpx
import pytest
from benefits.models import Claim, PolicyBudget, SamplingSeed, TalentFacts
from benefits.signals import straight_through_blockers
from benefits.states import TalentFactsStatus
from contracts import ChangeRequestDecided, ChangeRequestSubmitted, TalentRevoked
from fastapi import FastAPI
from servicekit.db import utcnow
from servicekit.models import OutboxEvent
from sqlmodel import select

from .conftest import Events, certified, fire_timers, registered, today
from .test_benefits_attestations import attested, mismatched

Headers = dict[str, str]
POLICY = "LIVING_ALLOWANCE"
MASTER_FEN = 2_000_000  # the living allowance of a master's graduate
# Every fact the seeded rules of the living allowance require, confirmed by a source they accept.
CONFIRMED = {
    "employer": "employer_attested",
    "social_insurance_months": "employer_attested",
    "education": "officer_confirmed",
}


async def _set_straight_through(
    client: httpx.AsyncClient, admin: Headers, code: str = POLICY, **changes: Any
) -> httpx.Response:
    """A new version of the policy whose straight-through rules differ by `changes` (None: no rules at all)."""
    current = (await client.get(f"/api/v1/policies/{code}")).json()
    keys = ("name", "auto_grant", "eligibility", "limits", "amount", "review", "budget", "effects")
    body = {k: current[k] for k in keys} | {"change_reason": "straight-through pilot"}
    body["straight_through"] = (
        None if changes.get("straight_through", 0) is None else current["straight_through"] | changes
    )
    return await client.put(f"/api/v1/admin/policies/{code}", json=body, headers=admin)


async def _certify(events: Events, talent_id: str, **facts: Any) -> None:
    """A tier-E master's graduate with confirmed facts: certification auto-grants the living allowance."""
    await events.apply(registered(talent_id, provenance=facts.pop("provenance", CONFIRMED), **facts))
    await events.apply(certified(talent_id, "E"))


async def _claims_of(app: FastAPI, talent_id: str) -> list[Claim]:
    async with app.state.database.sessionmaker() as session:
        return list((await session.exec(select(Claim).where(Claim.talent_id == talent_id))).all())


async def _only_claim(client: httpx.AsyncClient, app: FastAPI, talent_id: str, official: Headers) -> dict[str, Any]:
    [claim] = await _claims_of(app, talent_id)
    response = await client.get(f"/api/v1/reviews/claims/{claim.id}", headers=official)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _budget(app: FastAPI, code: str = POLICY) -> tuple[int, int]:
    async with app.state.database.sessionmaker() as session:
        row = (await session.exec(select(PolicyBudget).where(PolicyBudget.policy_code == code))).first()
    return (row.committed_count, row.committed_fen) if row else (0, 0)


async def _outbox_types(app: FastAPI) -> list[str]:
    async with app.state.database.sessionmaker() as session:
        return [e.event_type for e in (await session.exec(select(OutboxEvent).order_by(OutboxEvent.id))).all()]


@pytest.fixture
def admin(officials: dict[str, Headers]) -> Headers:
    return officials["admin"]


@pytest.fixture
def city(officials: dict[str, Headers]) -> Headers:
    return officials["approver.city"]


class TestStraightThrough:
    async def test_the_seeded_rules_of_the_living_allowance_are_a_new_version_of_it(
        self, client: httpx.AsyncClient
    ) -> None:
        policy = (await client.get(f"/api/v1/policies/{POLICY}")).json()
        assert policy["version"] == 2 and policy["change_reason"] == "straight-through rules (straight_through.v1.json)"
        assert policy["straight_through"] == {
            "requires": {
                "employer": ["employer_attested", "officer_confirmed"],
                "social_insurance_months": ["employer_attested", "officer_confirmed"],
                "education": ["officer_confirmed"],
            },
            "max_amount_fen": 3_000_000,
            "sample_share": 0.05,
        }
        assert (await client.get(f"/api/v1/policies/{POLICY}?version=1")).json()["straight_through"] is None

    async def test_a_clean_claim_is_publicized_with_no_human_and_its_budget_committed(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent_id: str,
        talent: Headers,
        admin: Headers,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        assert (await _set_straight_through(client, admin, sample_share=0)).status_code == 200
        await _certify(events, talent_id)
        claim = await _only_claim(client, benefits_app, talent_id, officials["approver.city"])
        assert claim["status"] == "publicized" and claim["auto"] is True
        assert claim["straight_through"] is True and claim["sampled"] is False
        assert claim["manual_review_reasons"] == [] and claim["publicized_until"] is not None
        assert [h["action"] for h in claim["history"]] == ["auto_granted", "accepted", "approved_straight_through"]
        approval = claim["history"][-1]
        assert approval["actor"] == "system" and approval["stage"] == "straight_through"
        assert f"under {POLICY} v3 (rule straight_through" in approval["reason"]  # the version and the rule
        assert "sampling draw of" in approval["reason"]
        assert await _budget(benefits_app) == (1, MASTER_FEN)
        types = await _outbox_types(benefits_app)
        # Accepted, then publicized: no officer's decision in between.
        assert types[types.index("talent.benefits.claim.decided.v1") + 1] == "talent.benefits.claim.publicized.v1"
        assert types.count("talent.benefits.claim.decided.v1") == 1
        # Nobody's queue holds it; the talent sees it as approved straight through.
        for reviewer in ("reviewer.nanhu", "approver.city"):
            queue = (await client.get("/api/v1/reviews/claims", headers=officials[reviewer])).json()
            assert claim["id"] not in {c["id"] for c in queue["items"]}
        mine = (await client.get(f"/api/v1/me/claims/{claim['id']}", headers=talent)).json()
        assert mine["straight_through"] is True and mine["manual_review_reasons"] == []
        # Its 公示 ends like a city approval's: the timer was scheduled with it.
        assert await fire_timers(benefits_app, utcnow() + timedelta(hours=2)) >= 1
        [stored] = await _claims_of(benefits_app, talent_id)
        assert stored.publicity_ended_at is not None

    async def test_a_sampled_claim_waits_for_the_normal_two_stage_review(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent_id: str,
        admin: Headers,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        assert (await _set_straight_through(client, admin, sample_share=1)).status_code == 200
        await _certify(events, talent_id)
        claim = await _only_claim(client, benefits_app, talent_id, officials["reviewer.nanhu"])
        assert claim["status"] == "accepted" and claim["sampled"] is True and claim["straight_through"] is False
        assert claim["manual_review_reasons"] == ["sampled"]
        assert await _budget(benefits_app) == (0, 0)
        queue = (await client.get("/api/v1/reviews/claims", headers=officials["reviewer.nanhu"])).json()["items"]
        [queued] = [c for c in queue if c["id"] == claim["id"]]
        assert queued["manual_review_reasons"] == ["sampled"]
        decided = await client.post(
            f"/api/v1/reviews/claims/{claim['id']}/decisions",
            json={"decision": "approve", "reason": "sampled: checked"},
            headers=officials["reviewer.nanhu"],
        )
        assert decided.status_code == 200 and decided.json()["status"] == "county_approved"

    async def test_unconfirmed_facts_keep_the_claim_for_review_naming_each_fact(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent_id: str,
        talent: Headers,
        admin: Headers,
        benefits_app: FastAPI,
    ) -> None:
        assert (await _set_straight_through(client, admin, sample_share=0)).status_code == 200
        await _certify(events, talent_id, provenance={"employer": "employer_attested"})
        [claim] = await _claims_of(benefits_app, talent_id)
        mine = (await client.get(f"/api/v1/me/claims/{claim.id}", headers=talent)).json()
        assert mine["status"] == "accepted" and mine["straight_through"] is False and mine["sampled"] is False
        assert mine["manual_review_reasons"] == [
            "fact_not_confirmed:social_insurance_months",
            "fact_not_confirmed:education",
        ]

    async def test_an_amount_above_the_limit_needs_a_human(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent_id: str,
        admin: Headers,
        city: Headers,
        benefits_app: FastAPI,
    ) -> None:
        assert (
            await _set_straight_through(client, admin, sample_share=0, max_amount_fen=MASTER_FEN - 1)
        ).status_code == 200
        await _certify(events, talent_id)
        claim = await _only_claim(client, benefits_app, talent_id, city)
        assert claim["status"] == "accepted" and claim["manual_review_reasons"] == ["amount_above_limit"]

    @pytest.mark.parametrize(
        ("signal", "reason"),
        [
            ("disputed", "employment_disputed"),
            ("mismatch", "employment_mismatch"),
            ("change", "change_request_pending"),
        ],
    )
    async def test_a_blocking_signal_sends_the_claim_to_review_with_its_reason(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent_id: str,
        admin: Headers,
        city: Headers,
        benefits_app: FastAPI,
        signal: str,
        reason: str,
    ) -> None:
        assert (await _set_straight_through(client, admin, sample_share=0)).status_code == 200
        await events.apply(registered(talent_id, provenance=CONFIRMED))
        if signal == "disputed":
            await events.apply(attested(talent_id, "disputed"))
        elif signal == "mismatch":
            await events.apply(mismatched(talent_id))
        else:
            await events.apply(_change_submitted(talent_id))
        await events.apply(certified(talent_id, "E"))
        claim = await _only_claim(client, benefits_app, talent_id, city)
        assert claim["status"] == "accepted" and claim["straight_through"] is False and claim["sampled"] is False
        assert claim["manual_review_reasons"] == [reason]
        assert claim["straight_through_blockers"] == [reason]
        assert await _budget(benefits_app) == (0, 0)

    async def test_a_resubmitted_claim_goes_back_to_a_human(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent_id: str,
        talent: Headers,
        admin: Headers,
        officials: dict[str, Headers],
        benefits_app: FastAPI,
    ) -> None:
        assert (await _set_straight_through(client, admin, sample_share=1)).status_code == 200
        await _certify(events, talent_id)
        [claim] = await _claims_of(benefits_app, talent_id)
        returned = await client.post(
            f"/api/v1/reviews/claims/{claim.id}/decisions",
            json={"decision": "return", "reason": "attach the labour contract"},
            headers=officials["reviewer.nanhu"],
        )
        assert returned.status_code == 200, returned.text
        again = await client.post(f"/api/v1/me/claims/{claim.id}/resubmit", json={"note": "attached"}, headers=talent)
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "accepted" and again.json()["manual_review_reasons"] == ["resubmitted"]

    async def test_a_policy_without_rules_is_always_reviewed_and_gives_no_reasons(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent_id: str,
        admin: Headers,
        city: Headers,
        benefits_app: FastAPI,
    ) -> None:
        assert (await _set_straight_through(client, admin, straight_through=None)).status_code == 200
        await _certify(events, talent_id)
        claim = await _only_claim(client, benefits_app, talent_id, city)
        assert claim["status"] == "accepted" and claim["manual_review_reasons"] == [] and claim["sampled"] is False


def _change_submitted(talent_id: str, request_id: str | None = None) -> ChangeRequestSubmitted:
    return ChangeRequestSubmitted(
        change_request_id=request_id or str(uuid.uuid4()),
        talent_id=talent_id,
        facts=["education"],
        submitted_at=datetime.now(UTC),
    )


def _change_decided(talent_id: str, request_id: str) -> ChangeRequestDecided:
    return ChangeRequestDecided(
        change_request_id=request_id, talent_id=talent_id, decision="reject", facts=["education"], decided_by="o"
    )


async def _facts(app: FastAPI, talent_id: str) -> TalentFacts:
    async with app.state.database.sessionmaker() as session:
        facts = await session.get(TalentFacts, talent_id)
    assert facts is not None
    return facts


class TestChangeRequestSignal:
    async def test_pending_until_decided_and_a_replay_changes_nothing(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        submitted = _change_submitted(talent_id)
        event = await events.apply(submitted)
        assert straight_through_blockers(await _facts(benefits_app, talent_id)) == ["change_request_pending"]
        await events.apply(_change_decided(talent_id, submitted.change_request_id))
        assert straight_through_blockers(await _facts(benefits_app, talent_id)) == []
        await events.apply_event(event.model_copy(update={"id": str(uuid.uuid4())}))  # redelivered after replay
        assert straight_through_blockers(await _facts(benefits_app, talent_id)) == []

    async def test_a_decision_arriving_before_its_submission_leaves_nothing_pending(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        request_id = str(uuid.uuid4())
        await events.apply(_change_decided(talent_id, request_id))
        await events.apply(_change_submitted(talent_id, request_id))
        assert straight_through_blockers(await _facts(benefits_app, talent_id)) == []

    def test_a_revoked_talent_is_a_blocker(self) -> None:
        assert straight_through_blockers(TalentFacts(talent_id="t", status=TalentFactsStatus.REVOKED)) == ["revoked"]

    async def test_revocation_stops_the_claim_and_blocks_the_signal(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        await _certify(events, talent_id)
        await events.apply(TalentRevoked(talent_id=talent_id, pseudonym="p", revoked_at=datetime.now(UTC), reason="x"))
        assert "revoked" in straight_through_blockers(await _facts(benefits_app, talent_id))


class TestSamplingDraw:
    async def test_an_auditor_recomputes_every_draw_from_the_published_seed(
        self, client: httpx.AsyncClient, events: Events, admin: Headers, benefits_app: FastAPI
    ) -> None:
        assert (await _set_straight_through(client, admin, sample_share=0.5)).status_code == 200
        talents = [str(uuid.uuid4()) for _ in range(12)]
        for tid in talents:
            await _certify(events, tid)
        claims = [c for tid in talents for c in await _claims_of(benefits_app, tid)]
        assert len(claims) == 12

        # Before the day is over: the commitment is public (today's and tomorrow's), the seed is not.
        listed = (await client.get("/api/v1/publicity/sampling")).json()["items"]
        mine = {(i["policy_code"], i["day"]): i for i in listed}
        day, tomorrow = today(), today() + timedelta(days=1)
        assert mine[(POLICY, day.isoformat())]["seed"] is None
        assert mine[(POLICY, tomorrow.isoformat())]["seed"] is None

        # After it, the seed (read here from the table: the list shows it from tomorrow on).
        async with benefits_app.state.database.sessionmaker() as session:
            stored = await session.get(SamplingSeed, (POLICY, day))
        assert stored is not None
        assert hashlib.sha256(bytes.fromhex(stored.seed)).hexdigest() == mine[(POLICY, day.isoformat())]["commitment"]
        threshold = (2**256 * Fraction("0.5").numerator) // Fraction("0.5").denominator
        for claim in claims:
            value = int.from_bytes(
                hmac.new(bytes.fromhex(stored.seed), claim.id.encode(), hashlib.sha256).digest(), "big"
            )
            assert claim.sampled is (value < threshold), claim.id
            assert claim.straight_through is not claim.sampled
            assert claim.status == ("accepted" if claim.sampled else "publicized")

    async def test_the_seed_of_a_past_day_is_published_and_pages_go_newest_first(
        self, client: httpx.AsyncClient, benefits_app: FastAPI
    ) -> None:
        seed = "ab" * 32
        async with benefits_app.state.database.sessionmaker() as session:
            for code, back in (("RENT_SUBSIDY", 2), (POLICY, 2), (POLICY, 1)):
                session.add(
                    SamplingSeed(
                        policy_code=code,
                        day=today() - timedelta(days=back),
                        seed=seed,
                        commitment=hashlib.sha256(bytes.fromhex(seed)).hexdigest(),
                    )
                )
            await session.commit()
        first = (await client.get("/api/v1/publicity/sampling?limit=2")).json()
        rest = (await client.get(f"/api/v1/publicity/sampling?limit=2&cursor={first['next_cursor']}")).json()
        listed = [(i["policy_code"], i["day"], i["seed"]) for i in first["items"] + rest["items"]]
        assert listed == [
            (POLICY, (today() - timedelta(days=1)).isoformat(), seed),
            ("RENT_SUBSIDY", (today() - timedelta(days=2)).isoformat(), seed),
            (POLICY, (today() - timedelta(days=2)).isoformat(), seed),
        ]
        assert rest["next_cursor"] is None
        assert (await client.get("/api/v1/publicity/sampling?cursor=bm9wZQ")).status_code == 422


class TestRulesValidation:
    @pytest.mark.parametrize(
        "rules",
        [
            {"requires": {"employer": ["self_declared"]}, "max_amount_fen": 1},
            {"requires": {"employer": []}, "max_amount_fen": 1},
            {"requires": {"salary": ["employer_attested"]}, "max_amount_fen": 1},
            {"requires": {}, "max_amount_fen": 1, "sample_share": 1.5},
            {"requires": {}, "max_amount_fen": -1},
            {"requires": {}},
            {"requires": {}, "max_amount_fen": 1, "sample_rate": 0.1},
        ],
    )
    async def test_malformed_straight_through_rules_are_422_naming_the_field(
        self, client: httpx.AsyncClient, admin: Headers, rules: dict[str, Any]
    ) -> None:
        current = (await client.get(f"/api/v1/policies/{POLICY}")).json()
        keys = ("name", "auto_grant", "eligibility", "limits", "amount", "review", "budget", "effects")
        body = {k: current[k] for k in keys} | {"change_reason": "bad rules", "straight_through": rules}
        response = await client.put(f"/api/v1/admin/policies/{POLICY}", json=body, headers=admin)
        assert response.status_code == 422, rules
        assert any("straight_through" in e["field"] for e in response.json()["errors"]), response.json()
        assert (await client.get(f"/api/v1/policies/{POLICY}")).json()["version"] == 2
