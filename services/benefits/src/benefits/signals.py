"""Employers' attestations (用人单位核验) and pending change requests in the talents' read model, and the
signals they give reviewers and straight-through approval (benefits.straight_through).

A talent has at most one standing attestation. Events of it may arrive late, twice or out of order, so the
read model keeps the time of the newest attestation event it took (`attestation_as_of`): an attestation
older than that changes nothing, and a withdrawal clears only the attestation it names. A withdrawal that
arrives before its own attestation still moves the time on, so the attestation arriving after it is
recognised as older and does not stand.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from contracts import (
    AttestationOutcome,
    ChangeRequestDecided,
    ChangeRequestSubmitted,
    EmploymentAttestationWithdrawn,
    EmploymentAttested,
)
from servicekit.db import utcnow

from benefits.models import TalentFacts
from benefits.states import TalentFactsStatus

EMPLOYMENT_DISPUTED = "employment_disputed"
EMPLOYMENT_MISMATCH = "employment_mismatch"
CHANGE_REQUEST_PENDING = "change_request_pending"
REVOKED = "revoked"


def _newer(facts: TalentFacts, at: datetime) -> bool:
    return facts.attestation_as_of is None or at > facts.attestation_as_of


def take_attestation(facts: TalentFacts, data: EmploymentAttested, at: datetime) -> bool:
    """The attestation now stands, unless a newer attestation event was taken already; True when it was taken."""
    if not _newer(facts, at):
        return False
    facts.attestation_id = data.attestation_id
    facts.attestation_outcome = data.outcome
    facts.attestation_blocking = data.blocking
    facts.attestation_mismatched_facts = list(data.mismatched_facts)
    facts.attested_at = data.attested_at
    facts.attestation_as_of = at
    facts.updated_at = utcnow()
    return True


def withdraw_attestation(facts: TalentFacts, data: EmploymentAttestationWithdrawn, at: datetime) -> bool:
    """The named attestation no longer stands; another one standing (a newer one) is left alone."""
    if facts.attestation_id is None:
        # Nothing stands: the attestation itself may still be on its way, and must not stand when it comes.
        if _newer(facts, at):
            facts.attestation_as_of = at
            facts.updated_at = utcnow()
        return False
    if facts.attestation_id != data.attestation_id or not _newer(facts, at):
        return False
    facts.attestation_id = None
    facts.attestation_outcome = None
    facts.attestation_blocking = False
    facts.attestation_mismatched_facts = []
    facts.attested_at = None
    facts.attestation_as_of = at
    facts.updated_at = utcnow()
    return True


# Each reason code with the test that raises it, in the order reviewers read them.
_BLOCKERS: tuple[tuple[str, Callable[[TalentFacts], bool]], ...] = (
    (EMPLOYMENT_DISPUTED, lambda f: f.attestation_outcome == AttestationOutcome.DISPUTED),
    (EMPLOYMENT_MISMATCH, lambda f: bool(f.attestation_mismatched_facts)),
)


def straight_through_blockers(talent_facts: TalentFacts | None) -> list[str]:
    """Why a claim of this talent may not be approved straight through (empty: nothing stands in the way).

    `revoked`: the talent's certification was revoked; `employment_disputed`: the employer disputes the
    talent's employment; `employment_mismatch`: the employer confirmed it with other facts than the profile
    holds (e.g. fewer months of social insurance); `change_request_pending`: the talent asked to change
    locked facts and the request is not decided yet.
    """
    if talent_facts is None:
        return []
    blockers = [REVOKED] if talent_facts.status == TalentFactsStatus.REVOKED else []
    if talent_facts.attestation_id is not None:
        employment = [code for code, raised in _BLOCKERS if raised(talent_facts)]
        if talent_facts.attestation_blocking and not employment:
            # The employer's event says blocking for a reason this service does not know yet: still a blocker.
            employment.append(EMPLOYMENT_MISMATCH)
        blockers += employment
    if any(state == _PENDING for state in talent_facts.change_requests.values()):
        blockers.append(CHANGE_REQUEST_PENDING)
    return blockers


# --- change requests of locked facts --------------------------------------------------------------------

_PENDING, _DECIDED = "pending", "decided"


def take_change_request(facts: TalentFacts, data: ChangeRequestSubmitted | ChangeRequestDecided) -> bool:
    """Submitted: pending, unless its decision arrived first; decided: no longer pending, whatever came
    before. The same event twice changes nothing. True when the read model changed."""
    state = _DECIDED if isinstance(data, ChangeRequestDecided) else _PENDING
    known = facts.change_requests.get(data.change_request_id)
    if known in (_DECIDED, state):
        return False
    # A new dict: the JSON column notices an assignment, not an update in place.
    facts.change_requests = {**facts.change_requests, data.change_request_id: state}
    facts.updated_at = utcnow()
    return True
