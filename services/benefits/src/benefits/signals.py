"""Employers' attestations (用人单位核验) in the talents' read model, and the signal they give reviewers.

A talent has at most one standing attestation. Events of it may arrive late, twice or out of order, so the
read model keeps the time of the newest attestation event it took (`attestation_as_of`): an attestation
older than that changes nothing, and a withdrawal clears only the attestation it names. A withdrawal that
arrives before its own attestation still moves the time on, so the attestation arriving after it is
recognised as older and does not stand.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from contracts import AttestationOutcome, EmploymentAttestationWithdrawn, EmploymentAttested
from servicekit.db import utcnow

from benefits.models import TalentFacts

EMPLOYMENT_DISPUTED = "employment_disputed"
EMPLOYMENT_MISMATCH = "employment_mismatch"


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

    `employment_disputed`: the employer disputes the talent's employment; `employment_mismatch`: the employer
    confirmed it with other facts than the profile holds (e.g. fewer months of social insurance).
    """
    if talent_facts is None or talent_facts.attestation_id is None:
        return []
    blockers = [code for code, raised in _BLOCKERS if raised(talent_facts)]
    if talent_facts.attestation_blocking and not blockers:
        # The employer's event says blocking for a reason this service does not know yet: still a blocker.
        blockers.append(EMPLOYMENT_MISMATCH)
    return blockers
