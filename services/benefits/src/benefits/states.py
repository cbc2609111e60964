"""A claim's statuses and every move between them, as data; `flow.transition` is the one function that reads it.

    submitted ─accepted─► accepted ─approved─► county_approved ─approved─► city_approved ─publicized─► publicized
        │                    │ ▲                  │  (approved_first_of_two: stays, above the two-approver line)  │
        └─rejected           │ └──────────────────┴─ objection (from publicized, back to city review)  ◄──────────┤
                             ├─ returned ─resubmitted─► submitted                       publicity_ended (stays)  │
                             └─ rejected / withdrawn / stopped                                       disbursed ◄─┘

    rejected (by an officer, ≤ 15 days) ─appeal─► appealed ─appeal_upheld─► rejected (final: no second appeal)
                                                      └─appeal_overturned─► city_approved ─publicized─► …

    publicized (公示 over) ─a batch line the bank paid─► disbursed
               └─a batch line the bank refused─► payment_failed ─paid by a later batch─► disbursed

Any open claim may also be escalated (a deadline passed: the status stays) or stopped (revocation, a lease,
a used voucher: `stopped`, final, ended by a fact and not appealable). docs/domain.md has the same flow in words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from contracts import CLAIM_OPEN_STATUSES, ClaimStatus
from servicekit.workflow import ReviewStage, StateMachine, Transition

__all__ = [
    "CLAIM_FLOW",
    "OPEN_STATUSES",
    "PERIOD_FREEING",
    "REVIEW_STAGES",
    "STAGE_WORKING_DAYS",
    "TRANSIENT_STATUSES",
    "WAITING_STAGE",
    "ClaimAction",
    "ClaimStatus",
    "ClaimTransition",
    "ObjectionStatus",
    "PaymentBatchStatus",
    "PaymentResult",
    "TalentFactsStatus",
]

OPEN_STATUSES: tuple[ClaimStatus, ...] = CLAIM_OPEN_STATUSES
# A claim never rests here: the automatic checks accept or reject it in the transaction that filed it.
TRANSIENT_STATUSES = frozenset({ClaimStatus.SUBMITTED})
# A claim that ends this way frees its period, so the talent may claim that period again.
PERIOD_FREEING = frozenset({ClaimStatus.REJECTED, ClaimStatus.WITHDRAWN, ClaimStatus.STOPPED})

COUNTY_REVIEWER, CITY_APPROVER, FINANCE_OFFICER = "county_reviewer", "city_approver", "finance_officer"

# The two review stages: who decides a claim in a status, and where an approval moves it.
REVIEW_STAGES: Mapping[ClaimStatus, ReviewStage[ClaimStatus]] = {
    ClaimStatus.ACCEPTED: ReviewStage("county", COUNTY_REVIEWER, ClaimStatus.COUNTY_APPROVED),
    ClaimStatus.COUNTY_APPROVED: ReviewStage("city", CITY_APPROVER, ClaimStatus.CITY_APPROVED),
    # 复议: a city approver who took no decision on the claim before upholds or overturns it (benefits.appeals).
    ClaimStatus.APPEALED: ReviewStage("appeal", CITY_APPROVER, ClaimStatus.CITY_APPROVED),
}
# A stage whose deadline is not the settings' stage_deadline_working_days: an appeal is decided within 10.
STAGE_WORKING_DAYS: Mapping[str, int] = {"appeal": 10}

# The stage a claim waits in (named in its events, history and escalations), by status.
WAITING_STAGE: Mapping[ClaimStatus, str] = {
    ClaimStatus.SUBMITTED: "acceptance",
    ClaimStatus.RETURNED: "acceptance",
    ClaimStatus.ACCEPTED: "county",
    ClaimStatus.COUNTY_APPROVED: "city",
    ClaimStatus.CITY_APPROVED: "city",
    ClaimStatus.PUBLICIZED: "city",
    ClaimStatus.APPEALED: "appeal",
}


class TalentFactsStatus(StrEnum):
    """A talent's status as benefits' read model knows it from applicant's events."""

    UNKNOWN = "unknown"  # no status event seen yet
    REGISTERED = "registered"
    CERTIFIED = "certified"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ObjectionStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class PaymentBatchStatus(StrEnum):
    """A payment batch (benefits.payments): open until the bank's results settle every line."""

    OPEN = "open"
    SETTLED = "settled"


class PaymentResult(StrEnum):
    """The bank's word on one line of a payment batch."""

    PAID = "paid"
    FAILED = "failed"


class ClaimAction(StrEnum):
    """The moves of a claim; `ClaimTransition.recorded_as` is the word its history and audit use."""

    FILE = "file"
    AUTO_GRANT = "auto_grant"
    RENEW = "renew"
    ACCEPT = "accept"
    REJECT = "reject"
    RETURN = "return"
    APPROVE_COUNTY = "approve_county"
    APPROVE_CITY = "approve_city"
    APPROVE_FIRST_OF_TWO = "approve_first_of_two"
    PUBLICIZE = "publicize"
    APPROVE_STRAIGHT_THROUGH = "approve_straight_through"
    OBJECT = "object"
    END_PUBLICITY = "end_publicity"
    DISBURSE = "disburse"
    FAIL_PAYMENT = "fail_payment"
    WITHDRAW = "withdraw"
    RESUBMIT = "resubmit"
    STOP = "stop"
    APPEAL = "appeal"
    UPHOLD_APPEAL = "uphold_appeal"
    OVERTURN_APPEAL = "overturn_appeal"
    ESCALATE = "escalate"


# Which event a move publishes. Every move that changes the status publishes one (tests/test_spec_transition_events.py);
# "none" is for a move in place that nobody outside needs: the end of 公示 (the claim becomes payable).
EventKind = Literal["submitted", "decided", "publicized", "disbursed", "payment_failed", "escalated", "none"]
Decision = Literal["approve", "reject", "return"]


@dataclass(frozen=True)
class ClaimTransition(Transition[ClaimStatus, ClaimAction]):
    recorded_as: str = ""
    event: EventKind = "none"
    decision: Decision | None = None
    # The stage named in history and event; None: the stage the claim waited in (WAITING_STAGE).
    stage: str | None = None
    # A decision by the system names it in the event (`decided_by: "system"`) rather than leaving it empty.
    system_named: bool = False
    # The objector stays anonymous: the event names nobody and gives no words of theirs.
    anonymous: bool = False
    # A review stage's working-day clock restarts with the move (escalations and the end of 公示 leave it).
    restarts_stage_clock: bool = True
    officer_decision: bool = False

    @property
    def word(self) -> str:
        return self.recorded_as or str(self.action)


def _row(
    action: ClaimAction,
    sources: frozenset[ClaimStatus] | set[ClaimStatus],
    target: ClaimStatus | None,
    recorded_as: str,
    **extra: Any,
) -> ClaimTransition:
    return ClaimTransition(action, frozenset(sources), target, recorded_as, **extra)


S = ClaimStatus
_OPEN = frozenset(OPEN_STATUSES)
NEW: frozenset[ClaimStatus] = frozenset()  # a claim being filed has no status yet

CLAIM_FLOW: StateMachine[ClaimTransition] = StateMachine(
    "claim",
    [
        _row(ClaimAction.FILE, NEW, S.SUBMITTED, "submitted", event="submitted", stage="acceptance"),
        _row(ClaimAction.AUTO_GRANT, NEW, S.SUBMITTED, "auto_granted", event="submitted", stage="acceptance"),
        # A multi-year policy's next year, filed by its yearly timer like an auto-grant (benefits.renewals).
        _row(ClaimAction.RENEW, NEW, S.SUBMITTED, "renewed", event="submitted", stage="acceptance"),
        _row(ClaimAction.ACCEPT, {S.SUBMITTED}, S.ACCEPTED, "accepted", event="decided", decision="approve"),
        _row(
            ClaimAction.REJECT,
            {S.SUBMITTED, S.ACCEPTED, S.COUNTY_APPROVED},
            S.REJECTED,
            "rejected",
            event="decided",
            decision="reject",
            officer_decision=True,
        ),
        _row(
            ClaimAction.RETURN,
            {S.ACCEPTED, S.COUNTY_APPROVED},
            S.RETURNED,
            "returned",
            event="decided",
            decision="return",
            officer_decision=True,
        ),
        _row(
            ClaimAction.APPROVE_COUNTY,
            {S.ACCEPTED},
            S.COUNTY_APPROVED,
            "approved",
            event="decided",
            decision="approve",
            officer_decision=True,
        ),
        _row(
            ClaimAction.APPROVE_CITY,
            {S.COUNTY_APPROVED},
            S.CITY_APPROVED,
            "approved",
            event="decided",
            decision="approve",
            officer_decision=True,
        ),
        _row(
            ClaimAction.APPROVE_FIRST_OF_TWO,
            {S.COUNTY_APPROVED},
            None,
            "approved_first_of_two",
            event="decided",
            decision="approve",
            officer_decision=True,
        ),
        _row(ClaimAction.PUBLICIZE, {S.CITY_APPROVED}, S.PUBLICIZED, "publicized", event="publicized"),
        # 免申即享 straight through: a clean claim that was not drawn for sampled review goes on public notice
        # without a reviewer (benefits.straight_through; its budget is committed as at a city approval).
        _row(
            ClaimAction.APPROVE_STRAIGHT_THROUGH,
            {S.ACCEPTED},
            S.PUBLICIZED,
            "approved_straight_through",
            event="publicized",
            stage="straight_through",
        ),
        _row(
            ClaimAction.OBJECT,
            {S.PUBLICIZED},
            S.COUNTY_APPROVED,
            "objection",
            event="decided",
            decision="return",
            anonymous=True,
        ),
        _row(ClaimAction.END_PUBLICITY, {S.PUBLICIZED}, None, "publicity_ended", restarts_stage_clock=False),
        _row(
            ClaimAction.DISBURSE,
            # A payment the bank refused is paid by a later batch.
            {S.PUBLICIZED, S.PAYMENT_FAILED},
            S.DISBURSED,
            "disbursed",
            event="disbursed",
            stage="disbursement",
            officer_decision=True,
        ),
        # The bank refused a batch's payment (a closed account, a wrong payee): the claim waits for a later batch.
        _row(
            ClaimAction.FAIL_PAYMENT,
            {S.PUBLICIZED},
            S.PAYMENT_FAILED,
            "payment_failed",
            event="payment_failed",
            stage="disbursement",
        ),
        _row(ClaimAction.WITHDRAW, _OPEN - {S.SUBMITTED}, S.WITHDRAWN, "withdrawn", event="decided", decision="reject"),
        # 补正: announced as a submission again (ClaimSubmitted with `resubmitted`), then checked like a new one.
        _row(ClaimAction.RESUBMIT, {S.RETURNED}, S.SUBMITTED, "resubmitted", event="submitted", stage="acceptance"),
        # A fact ended the claim (revocation, a lease, a used voucher): `stopped`, final, not an officer's rejection.
        _row(ClaimAction.STOP, _OPEN, S.STOPPED, "stopped", event="decided", decision="reject", system_named=True),
        # 复议: the talent appeals an officer's rejection (within 15 days, benefits.appeals); the inbox says so.
        _row(ClaimAction.APPEAL, {S.REJECTED}, S.APPEALED, "appealed", event="submitted", stage="appeal"),
        _row(
            ClaimAction.UPHOLD_APPEAL,
            {S.APPEALED},
            S.REJECTED,
            "appeal_upheld",
            event="decided",
            decision="reject",
            stage="appeal",
            officer_decision=True,
        ),
        # Overturned: the claim continues as after a city approval (budget committed, then 公示).
        _row(
            ClaimAction.OVERTURN_APPEAL,
            {S.APPEALED},
            S.CITY_APPROVED,
            "appeal_overturned",
            event="decided",
            decision="approve",
            stage="appeal",
            officer_decision=True,
        ),
        _row(ClaimAction.ESCALATE, _OPEN, None, "escalated", event="escalated", restarts_stage_clock=False),
    ],
)

# History words of the decisions an officer takes: one officer decides one stage of a claim.
OFFICER_DECISIONS = frozenset(t.word for t in CLAIM_FLOW.transitions.values() if t.officer_decision)
