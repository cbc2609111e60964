"""A certification's and a talent's statuses and every move between them, as data.

`certification.transition` and `validity.transition` are the one function of each that reads its table and
writes the status with everything that goes with it (decision row, audit entry, timers, event).

Certification (人才层次在线认定), reviewed by the county of its region, then by the city:

    (new) ─submit─► submitted ─approve_county─► county_approved ─approve_city─► certified
                        │                          │  approve_first_of_two: stays county_approved until a
                        │                          │  second, different city approver (tier A, case by case)
                        ├─ reject ─► rejected ◄─────┤
                        └─ return ─► returned ◄─────┘
                 returned ─resubmit─► submitted (a new round: earlier rounds' approvals no longer count)
    submitted, county_approved, returned ─reject_on_revocation─► rejected (the talent's status was revoked)
    submitted, county_approved ─escalate─► (stays) the stage's working-day deadline passed (rules: review)

Each review stage (county, city) has a deadline of working days from when the certification starts waiting
in it: the moves marked `restarts_stage_clock` start it, moves out of review stop it (see certification.py).

Talent (动态进退):

    registered, certified, expired ─certify─► certified ─expire─► expired (the validity period ran out)
    registered, certified, expired ─revoke─► revoked (by an admin: 失信 blacklist, left the city)
    revoked ─reinstate─► certified, expired or registered (by an admin; `standing_of` the certification it held)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Literal

from contracts import CertificationStatus, FactSource, TalentStatus
from servicekit.workflow import ReviewStage, StateMachine, Transition

__all__ = [
    "APPROVALS",
    "ATTESTATION_FLOW",
    "CERTIFICATION_FLOW",
    "CHANGE_REQUEST_FLOW",
    "CITY_APPROVER",
    "COUNTY_REVIEWER",
    "DEMAND_FLOW",
    "OPEN_STATUSES",
    "RECOMMENDATION_FLOW",
    "REFUSALS",
    "REVIEW_STAGES",
    "TALENT_FLOW",
    "AttestationAction",
    "AttestationStatus",
    "AttestationTransition",
    "CertificationAction",
    "CertificationStatus",
    "CertificationTransition",
    "ChangeRequestAction",
    "ChangeRequestStatus",
    "ChangeRequestTransition",
    "Decision",
    "DemandAction",
    "DemandStatus",
    "DemandTransition",
    "FactSource",
    "RecommendationAction",
    "RecommendationStatus",
    "RecommendationTransition",
    "TalentAction",
    "TalentStatus",
    "TalentTransition",
    "stage_of",
    "standing_of",
]

Decision = Literal["approve", "reject", "return"]

COUNTY_REVIEWER, CITY_APPROVER = "county_reviewer", "city_approver"


class ChangeRequestStatus(StrEnum):
    """A request to change locked facts: submitted, then approved or rejected by the county reviewer."""

    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class ChangeRequestAction(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True)
class ChangeRequestTransition(Transition[ChangeRequestStatus, ChangeRequestAction]):
    pass


# (new) ─submit─► submitted ─approve─► approved (the facts change) | ─reject─► rejected
CHANGE_REQUEST_FLOW: StateMachine[ChangeRequestTransition] = StateMachine(
    "change request",
    [
        ChangeRequestTransition(ChangeRequestAction.SUBMIT, frozenset(), ChangeRequestStatus.SUBMITTED),
        ChangeRequestTransition(
            ChangeRequestAction.APPROVE, frozenset({ChangeRequestStatus.SUBMITTED}), ChangeRequestStatus.APPROVED
        ),
        ChangeRequestTransition(
            ChangeRequestAction.REJECT, frozenset({ChangeRequestStatus.SUBMITTED}), ChangeRequestStatus.REJECTED
        ),
    ],
)


# --- employer recommendations (举荐) and demand declarations (人才需求申报) ---------------------------------


class RecommendationStatus(StrEnum):
    """An employer's 举荐 of a talent on its staff: filed, then cited by the talent's certification on the
    employer_recommendation route, or withdrawn by the employer before that."""

    FILED = "filed"
    CITED = "cited"
    WITHDRAWN = "withdrawn"


class RecommendationAction(StrEnum):
    FILE = "file"
    CITE = "cite"
    WITHDRAW = "withdraw"


@dataclass(frozen=True)
class RecommendationTransition(Transition[RecommendationStatus, RecommendationAction]):
    # The employer's moves are audited as recommendation.<action>; a citation is the talent's certification
    # submission (which its own event records).
    audited: bool = False


# (new) ─file─► filed ─cite─► cited (a certification relies on it: it can no longer be withdrawn)
#                  └─withdraw─► withdrawn
RECOMMENDATION_FLOW: StateMachine[RecommendationTransition] = StateMachine(
    "recommendation",
    [
        RecommendationTransition(RecommendationAction.FILE, frozenset(), RecommendationStatus.FILED, audited=True),
        RecommendationTransition(
            RecommendationAction.CITE, frozenset({RecommendationStatus.FILED}), RecommendationStatus.CITED
        ),
        RecommendationTransition(
            RecommendationAction.WITHDRAW,
            frozenset({RecommendationStatus.FILED}),
            RecommendationStatus.WITHDRAWN,
            audited=True,
        ),
    ],
)


class DemandStatus(StrEnum):
    """An employer's declaration of open posts: open (listed publicly) until the employer closes it."""

    OPEN = "open"
    CLOSED = "closed"


class DemandAction(StrEnum):
    DECLARE = "declare"
    CLOSE = "close"


@dataclass(frozen=True)
class DemandTransition(Transition[DemandStatus, DemandAction]):
    pass


# (new) ─declare─► open ─close─► closed
DEMAND_FLOW: StateMachine[DemandTransition] = StateMachine(
    "demand",
    [
        DemandTransition(DemandAction.DECLARE, frozenset(), DemandStatus.OPEN),
        DemandTransition(DemandAction.CLOSE, frozenset({DemandStatus.OPEN}), DemandStatus.CLOSED),
    ],
)


# --- employment attestations (applicant.employer.attestations) ------------------------------------------


class AttestationStatus(StrEnum):
    """An employer's attestation: it stands until a newer one of the same employer supersedes it, the employer
    revokes it, or the talent's profile names another employer (it lapses)."""

    STANDING = "standing"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"
    LAPSED = "lapsed"


class AttestationAction(StrEnum):
    ATTEST = "attest"
    SUPERSEDE = "supersede"
    REVOKE = "revoke"
    LAPSE = "lapse"


@dataclass(frozen=True)
class AttestationTransition(Transition[AttestationStatus, AttestationAction]):
    # Why a standing attestation stops standing, as EmploymentAttestationWithdrawn says it; None: no withdrawal
    # event (an attestation is announced by EmploymentAttested; a superseded one is replaced by the newer one's).
    withdrawn_reason: Literal["revoked", "employer_changed"] | None = None


# (new) ─attest─► standing ─supersede─► superseded (the same employer attested again)
#                          ─revoke─► revoked (by the employer) | ─lapse─► lapsed (the talent changed employer)
ATTESTATION_FLOW: StateMachine[AttestationTransition] = StateMachine(
    "attestation",
    [
        AttestationTransition(AttestationAction.ATTEST, frozenset(), AttestationStatus.STANDING),
        AttestationTransition(
            AttestationAction.SUPERSEDE, frozenset({AttestationStatus.STANDING}), AttestationStatus.SUPERSEDED
        ),
        AttestationTransition(
            AttestationAction.REVOKE,
            frozenset({AttestationStatus.STANDING}),
            AttestationStatus.REVOKED,
            withdrawn_reason="revoked",
        ),
        AttestationTransition(
            AttestationAction.LAPSE,
            frozenset({AttestationStatus.STANDING}),
            AttestationStatus.LAPSED,
            withdrawn_reason="employer_changed",
        ),
    ],
)


# --- certification ---------------------------------------------------------------------------------------

# Certifications still being handled: a talent has at most one of these at a time.
OPEN_STATUSES: tuple[CertificationStatus, ...] = (
    CertificationStatus.SUBMITTED,
    CertificationStatus.COUNTY_APPROVED,
    CertificationStatus.RETURNED,
)

# The review stage a certification in each status waits for: who decides it, where an approval leads
# (the city stage may need more than one approver first).
REVIEW_STAGES: Mapping[CertificationStatus, ReviewStage[CertificationStatus]] = {
    CertificationStatus.SUBMITTED: ReviewStage("county", COUNTY_REVIEWER, CertificationStatus.COUNTY_APPROVED),
    CertificationStatus.COUNTY_APPROVED: ReviewStage("city", CITY_APPROVER, CertificationStatus.CERTIFIED),
}


def stage_of(status: CertificationStatus) -> str:
    """The stage named in a decision on a certification in `status` (a returned one goes to the county next)."""
    return REVIEW_STAGES.get(status, REVIEW_STAGES[CertificationStatus.SUBMITTED]).stage


class CertificationAction(StrEnum):
    SUBMIT = "submit"
    RESUBMIT = "resubmit"
    APPROVE_COUNTY = "approve_county"
    APPROVE_CITY = "approve_city"
    APPROVE_FIRST_OF_TWO = "approve_first_of_two"
    REJECT = "reject"
    RETURN = "return"
    REJECT_ON_REVOCATION = "reject_on_revocation"
    ESCALATE = "escalate"


@dataclass(frozen=True)
class CertificationTransition(Transition[CertificationStatus, CertificationAction]):
    # The decision the move records (a decision row and CertificationDecided); None: a (re)submission,
    # announced by CertificationSubmitted.
    decision: Decision | None = None
    # An officer's decision at a review stage, audited as certification.<stage>.<decision>; a rejection on
    # revocation is audited as the talent's revocation.
    audited: bool = False
    # A resubmission opens a new review round.
    new_round: bool = False
    # The move starts the working-day clock of the review stage it leads to (a move out of review stops it;
    # a first city approval of two and an escalation leave it running as it is).
    restarts_stage_clock: bool = False


# The move an officer's approval makes, by the status the certification waits in (at the city, while more
# approvers are needed than have approved: APPROVE_FIRST_OF_TWO), and the moves of the other decisions.
APPROVALS: Mapping[CertificationStatus, CertificationAction] = {
    CertificationStatus.SUBMITTED: CertificationAction.APPROVE_COUNTY,
    CertificationStatus.COUNTY_APPROVED: CertificationAction.APPROVE_CITY,
}
REFUSALS: Mapping[str, CertificationAction] = {
    "reject": CertificationAction.REJECT,
    "return": CertificationAction.RETURN,
}

_C, _A = CertificationStatus, CertificationAction
_UNDER_REVIEW = frozenset(REVIEW_STAGES)
NEW: frozenset[CertificationStatus] = frozenset()  # a certification being submitted has no status yet

CERTIFICATION_FLOW: StateMachine[CertificationTransition] = StateMachine(
    "certification",
    [
        CertificationTransition(_A.SUBMIT, NEW, _C.SUBMITTED, restarts_stage_clock=True),
        CertificationTransition(
            _A.RESUBMIT, frozenset({_C.RETURNED}), _C.SUBMITTED, new_round=True, restarts_stage_clock=True
        ),
        CertificationTransition(
            _A.APPROVE_COUNTY,
            frozenset({_C.SUBMITTED}),
            _C.COUNTY_APPROVED,
            decision="approve",
            audited=True,
            restarts_stage_clock=True,
        ),
        CertificationTransition(
            _A.APPROVE_CITY,
            frozenset({_C.COUNTY_APPROVED}),
            _C.CERTIFIED,
            decision="approve",
            audited=True,
            restarts_stage_clock=True,
        ),
        CertificationTransition(
            _A.APPROVE_FIRST_OF_TWO, frozenset({_C.COUNTY_APPROVED}), None, decision="approve", audited=True
        ),
        CertificationTransition(
            _A.REJECT, _UNDER_REVIEW, _C.REJECTED, decision="reject", audited=True, restarts_stage_clock=True
        ),
        CertificationTransition(
            _A.RETURN, _UNDER_REVIEW, _C.RETURNED, decision="return", audited=True, restarts_stage_clock=True
        ),
        CertificationTransition(
            _A.REJECT_ON_REVOCATION, frozenset(OPEN_STATUSES), _C.REJECTED, decision="reject", restarts_stage_clock=True
        ),
        # The system, when the stage's deadline passed: a move in place, audited as certification.escalated.
        CertificationTransition(_A.ESCALATE, _UNDER_REVIEW, None, audited=True),
    ],
)


# --- talent ----------------------------------------------------------------------------------------------


class TalentAction(StrEnum):
    CERTIFY = "certify"
    EXPIRE = "expire"
    REVOKE = "revoke"
    REINSTATE = "reinstate"


@dataclass(frozen=True)
class TalentTransition(Transition[TalentStatus, TalentAction]):
    # Audited as talent.<action>; a certification is audited as the city approval that granted it.
    audited: bool = False
    # The status the move leads to is not fixed: it is where the talent's certification stands now
    # (`standing_of`); the row's target is None.
    restores_standing: bool = False


_T = TalentStatus
_NOT_REVOKED = frozenset({_T.REGISTERED, _T.CERTIFIED, _T.EXPIRED})

TALENT_FLOW: StateMachine[TalentTransition] = StateMachine(
    "talent",
    [
        TalentTransition(TalentAction.CERTIFY, _NOT_REVOKED, _T.CERTIFIED),
        TalentTransition(TalentAction.EXPIRE, frozenset({_T.CERTIFIED}), _T.EXPIRED, audited=True),
        TalentTransition(TalentAction.REVOKE, _NOT_REVOKED, _T.REVOKED, audited=True),
        TalentTransition(TalentAction.REINSTATE, frozenset({_T.REVOKED}), None, audited=True, restores_standing=True),
    ],
)


def standing_of(certified_until: date | None, today: date) -> TalentStatus:
    """Where a talent stands on its certification alone (a reinstatement's status): certified while the
    validity lasts (its last day included), expired once it has run out, registered if never certified."""
    if certified_until is None:
        return _T.REGISTERED
    return _T.CERTIFIED if certified_until >= today else _T.EXPIRED
