"""Employers' attestations in the read model (any order, replays change nothing) and the straight-through
blockers officials see on a claim."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from benefits.models import TalentFacts
from benefits.signals import straight_through_blockers
from contracts import AttestationOutcome, EmploymentAttestationWithdrawn, EmploymentAttested
from fastapi import FastAPI

from .conftest import Events, certified, registered

Headers = dict[str, str]
CREDIT_CODE = "91330402MA2B3C4D53"


def attested(talent_id: str, outcome: str = "confirmed", **extra: Any) -> EmploymentAttested:
    values: dict[str, Any] = {
        "attestation_id": str(uuid.uuid4()),
        "talent_id": talent_id,
        "employer_credit_code": CREDIT_CODE,
        "outcome": outcome,
        "attested_facts": ["employer", "social_insurance_months"] if outcome == "confirmed" else [],
        "mismatched_facts": [],
        "blocking": outcome == "disputed",
        "attested_at": datetime.now(UTC),
    }
    values.update(extra)
    return EmploymentAttested(**values)


def mismatched(talent_id: str) -> EmploymentAttested:
    """A confirmation with fewer months of social insurance than the profile holds."""
    return attested(talent_id, "confirmed", mismatched_facts=["social_insurance_months"], blocking=True)


def withdrawn(talent_id: str, attestation_id: str, reason: str = "revoked") -> EmploymentAttestationWithdrawn:
    return EmploymentAttestationWithdrawn(
        attestation_id=attestation_id,
        talent_id=talent_id,
        employer_credit_code=CREDIT_CODE,
        reason=reason,
        withdrawn_at=datetime.now(UTC),
    )


async def _facts(app: FastAPI, talent_id: str) -> TalentFacts:
    async with app.state.database.sessionmaker() as session:
        facts: TalentFacts | None = await session.get(TalentFacts, talent_id)
    assert facts is not None
    return facts


class TestReadModel:
    async def test_a_dispute_stands_with_its_outcome_blocking_flag_and_time(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        dispute = attested(talent_id, "disputed")
        await events.apply(dispute)
        facts = await _facts(benefits_app, talent_id)
        assert facts.attestation_id == dispute.attestation_id
        assert facts.attestation_outcome == AttestationOutcome.DISPUTED and facts.attestation_blocking is True
        assert facts.attested_at == dispute.attested_at and facts.attestation_mismatched_facts == []

    async def test_a_newer_attestation_replaces_the_standing_one(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        now = datetime.now(UTC)
        await events.apply(attested(talent_id, "disputed"), time=now - timedelta(minutes=5))
        confirmation = attested(talent_id, "confirmed")
        await events.apply(confirmation, time=now)
        facts = await _facts(benefits_app, talent_id)
        assert facts.attestation_id == confirmation.attestation_id and facts.attestation_blocking is False

    async def test_an_older_attestation_arriving_late_changes_nothing(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        now = datetime.now(UTC)
        confirmation = attested(talent_id, "confirmed")
        await events.apply(confirmation, time=now)
        await events.apply(attested(talent_id, "disputed"), time=now - timedelta(minutes=5))
        facts = await _facts(benefits_app, talent_id)
        assert facts.attestation_id == confirmation.attestation_id and facts.attestation_outcome == "confirmed"

    async def test_a_replayed_attestation_does_not_bring_back_a_withdrawn_one(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        now = datetime.now(UTC)
        dispute = attested(talent_id, "disputed")
        replay = await events.apply(dispute, time=now - timedelta(minutes=5))
        await events.apply(withdrawn(talent_id, dispute.attestation_id), time=now)
        # A replay of the topic redelivers the attestation as a new delivery: the ledger does not know it.
        await events.apply_event(replay.model_copy(update={"id": str(uuid.uuid4())}))
        facts = await _facts(benefits_app, talent_id)
        assert facts.attestation_id is None and facts.attestation_blocking is False
        assert facts.attestation_outcome is None and facts.attested_at is None

    async def test_a_withdrawal_of_an_older_attestation_leaves_the_newer_standing(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        now = datetime.now(UTC)
        old, new = attested(talent_id, "confirmed"), attested(talent_id, "disputed")
        await events.apply(new, time=now)
        withdrawal = withdrawn(talent_id, old.attestation_id, "employer_changed")
        await events.apply(withdrawal, time=now - timedelta(minutes=1))
        await events.apply(old, time=now - timedelta(minutes=2))
        facts = await _facts(benefits_app, talent_id)
        assert facts.attestation_id == new.attestation_id and facts.attestation_outcome == "disputed"

    async def test_a_withdrawal_arriving_before_its_attestation_keeps_it_from_standing(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        now = datetime.now(UTC)
        dispute = attested(talent_id, "disputed")
        await events.apply(withdrawn(talent_id, dispute.attestation_id), time=now)
        await events.apply(dispute, time=now - timedelta(minutes=1))
        facts = await _facts(benefits_app, talent_id)
        assert facts.attestation_id is None and facts.attestation_blocking is False

    async def test_attestations_leave_the_profile_facts_alone(
        self, events: Events, talent_id: str, benefits_app: FastAPI
    ) -> None:
        await events.apply(registered(talent_id, social_insurance_months=18))
        await events.apply(mismatched(talent_id))
        facts = await _facts(benefits_app, talent_id)
        assert facts.social_insurance_months == 18 and facts.profile_known
        assert facts.attestation_mismatched_facts == ["social_insurance_months"]


class TestStraightThroughBlockers:
    def test_nothing_blocks_a_talent_without_an_attestation_or_one_confirmed_as_declared(self) -> None:
        assert straight_through_blockers(None) == []
        assert straight_through_blockers(TalentFacts(talent_id="t")) == []
        confirmed = TalentFacts(talent_id="t", attestation_id="a", attestation_outcome=AttestationOutcome.CONFIRMED)
        assert straight_through_blockers(confirmed) == []

    def test_a_dispute_and_a_mismatch_each_have_their_reason_code(self) -> None:
        disputed = TalentFacts(talent_id="t", attestation_id="a", attestation_outcome=AttestationOutcome.DISPUTED)
        mismatch = TalentFacts(
            talent_id="t",
            attestation_id="a",
            attestation_outcome=AttestationOutcome.CONFIRMED,
            attestation_blocking=True,
            attestation_mismatched_facts=["social_insurance_months"],
        )
        assert straight_through_blockers(disputed) == ["employment_disputed"]
        assert straight_through_blockers(mismatch) == ["employment_mismatch"]

    def test_a_blocking_attestation_of_a_reason_not_known_here_still_blocks(self) -> None:
        odd = TalentFacts(
            talent_id="t",
            attestation_id="a",
            attestation_outcome=AttestationOutcome.CONFIRMED,
            attestation_blocking=True,
        )
        assert straight_through_blockers(odd) == ["employment_mismatch"]


class TestClaimCaseView:
    async def _claim(self, client: httpx.AsyncClient, events: Events, talent: Headers, talent_id: str) -> str:
        await events.apply(registered(talent_id))
        await events.apply(certified(talent_id, "D"))
        response = await client.post(
            "/api/v1/me/claims", json={"policy_code": "RENT_SUBSIDY", "details": {"months": 6}}, headers=talent
        )
        assert response.status_code == 201, response.text
        claim_id: str = response.json()["id"]
        return claim_id

    async def test_officials_see_the_blockers_of_a_disputed_talent_until_the_dispute_is_withdrawn(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        officials: dict[str, Headers],
    ) -> None:
        claim_id = await self._claim(client, events, talent, talent_id)
        url = f"/api/v1/reviews/claims/{claim_id}"
        assert (await client.get(url, headers=officials["reviewer.nanhu"])).json()["straight_through_blockers"] == []

        await events.apply(attested(talent_id, "confirmed"))
        case = (await client.get(url, headers=officials["reviewer.nanhu"])).json()
        assert case["employment_attestation"] == "confirmed" and case["straight_through_blockers"] == []

        dispute = attested(talent_id, "disputed")
        await events.apply(dispute)
        case = (await client.get(url, headers=officials["reviewer.nanhu"])).json()
        assert case["employment_attestation"] == "disputed"
        assert case["straight_through_blockers"] == ["employment_disputed"]
        [queued] = [
            c
            for c in (await client.get("/api/v1/reviews/claims", headers=officials["reviewer.nanhu"])).json()["items"]
            if c["id"] == claim_id
        ]
        assert queued["straight_through_blockers"] == ["employment_disputed"]

        await events.apply(withdrawn(talent_id, dispute.attestation_id))
        case = (await client.get(url, headers=officials["approver.city"])).json()
        assert case["employment_attestation"] is None and case["straight_through_blockers"] == []

    async def test_a_decision_answers_with_the_blockers_and_the_talent_never_sees_them(
        self,
        client: httpx.AsyncClient,
        events: Events,
        talent: Headers,
        talent_id: str,
        officials: dict[str, Headers],
    ) -> None:
        claim_id = await self._claim(client, events, talent, talent_id)
        await events.apply(mismatched(talent_id))
        decided = await client.post(
            f"/api/v1/reviews/claims/{claim_id}/decisions",
            json={"decision": "approve", "reason": "checked with the employer"},
            headers=officials["reviewer.nanhu"],
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["straight_through_blockers"] == ["employment_mismatch"]
        mine = (await client.get(f"/api/v1/me/claims/{claim_id}", headers=talent)).json()
        assert "straight_through_blockers" not in mine
