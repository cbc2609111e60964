"""Benefits' typed errors, each a problem+json status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from servicekit import messages
from servicekit.messages import EN, render
from servicekit.problems import Conflict, DomainError, Forbidden, NotFound, PayloadTooLarge, Unprocessable
from servicekit.workflow import IllegalTransition

from benefits.rules import Reason

# Every text below is in data/messages.json (zh-CN and en), rendered in the caller's language.
messages.register_package("benefits")


class PolicyNotFound(NotFound):
    key = "benefits.error.policy_not_found"

    def __init__(self, code: str) -> None:
        super().__init__(params={"code": code})


class UnknownPolicy(Unprocessable):
    key = "benefits.error.unknown_policy"

    def __init__(self, code: str) -> None:
        super().__init__(
            params={"code": code},
            errors=[{"field": "policy_code", "key": "benefits.error.unknown_policy_field"}],
        )


class PolicyExists(Conflict):
    key = "benefits.error.policy_exists"

    def __init__(self, code: str) -> None:
        super().__init__(params={"code": code})


class ClaimNotFound(NotFound):
    key = "benefits.error.claim_not_found"


def _joined(reasons: Sequence[Reason]) -> str:
    # Raised while serving the request, so the reasons are rendered in the caller's language here.
    return " ".join(r.message for r in reasons)


class NotEligible(Unprocessable):
    """The talent may not claim the policy; every reason is listed."""

    key = "benefits.error.not_eligible"

    def __init__(self, policy_code: str, reasons: Sequence[Reason]) -> None:
        super().__init__(
            render(self.key, {"policy_code": policy_code, "reasons": _english(reasons)}, EN),
            params={"policy_code": policy_code, "reasons": _joined(reasons)},
            errors=[{"field": "policy_code", "key": r.key, "params": dict(r.params)} for r in reasons],
            reasons=[r.public() for r in reasons],
        )


class AlreadyClaimed(Conflict):
    key = "benefits.error.already_claimed"

    def __init__(self, policy_code: str, reasons: Sequence[Reason]) -> None:
        super().__init__(
            render(self.key, {"policy_code": policy_code, "reasons": _english(reasons)}, EN),
            params={"policy_code": policy_code, "reasons": _joined(reasons)},
            reasons=[r.public() for r in reasons],
        )


def _english(reasons: Sequence[Reason]) -> str:
    return " ".join(render(r.key, r.params, EN) for r in reasons)


class InvalidClaimDetails(Unprocessable):
    """A detail of the claim that does not fit the policy (benefits.details.* says what)."""

    key = "benefits.error.invalid_details"

    def __init__(self, field: str, message_key: str, params: dict[str, object] | None = None) -> None:
        message = render(message_key, params)
        super().__init__(
            f"{field}: {render(message_key, params, EN)}",
            params={"field": field, "message": message},
            errors=[{"field": field, "key": message_key, "params": dict(params or {})}],
        )


class WrongState(IllegalTransition):
    """The kit's refusal of a move the claim's status does not allow, said of a claim."""

    def __init__(self, action: str, status: str) -> None:
        super().__init__("claim", status, action)


class BudgetExhausted(Conflict):
    key = "benefits.error.budget_exhausted_budget"

    def __init__(self, policy_code: str, year: int, what: str) -> None:
        super().__init__(
            key=f"benefits.error.budget_exhausted_{what}", params={"policy_code": policy_code, "year": year}
        )


class AmountRequired(Unprocessable):
    key = "benefits.error.amount_required"

    def __init__(self) -> None:
        super().__init__(errors=[{"field": "amount_fen", "key": "benefits.error.amount_required_field"}])


class AmountNotEditable(Unprocessable):
    key = "benefits.error.amount_not_editable"

    def __init__(self) -> None:
        super().__init__(errors=[{"field": "amount_fen", "key": "benefits.error.amount_not_editable_field"}])


class PublicityNotOver(Conflict):
    key = "benefits.error.publicity_not_over"

    def __init__(self, until: datetime | None) -> None:
        if until is None:
            super().__init__(key="benefits.error.publicity_not_over_open")
        else:
            super().__init__(params={"until": until.isoformat()})


class PaymentReferenceUsed(Conflict):
    key = "benefits.error.payment_reference_used"


class NoReviewQueue(Forbidden):
    key = "benefits.error.no_review_queue"

    def __init__(self, roles: tuple[str, ...]) -> None:
        super().__init__(params={"roles": ", ".join(roles)})


class NotAppealable(Conflict):
    """复议 is open only against an officer's rejection, once, and not once the period is claimed again."""

    key = "benefits.error.not_appealable_decided"

    def __init__(self, why: str) -> None:
        """`why`: stopped, automatic, decided or period_taken."""
        super().__init__(key=f"benefits.error.not_appealable_{why}")


class AppealTooLate(Conflict):
    key = "benefits.error.appeal_too_late"

    def __init__(self, until: datetime) -> None:
        super().__init__(params={"until": until.isoformat()})


class AppealNotReturnable(Unprocessable):
    key = "benefits.error.appeal_not_returnable"

    def __init__(self) -> None:
        super().__init__(errors=[{"field": "decision", "key": "benefits.error.appeal_not_returnable_field"}])


class NothingToPay(Conflict):
    key = "benefits.error.nothing_to_pay"


class PaymentBatchNotFound(NotFound):
    key = "benefits.error.payment_batch_not_found"


class UnreadableResultFile(Unprocessable):
    key = "benefits.error.unreadable_result_file"

    def __init__(self, why: str) -> None:
        """`why`: not_utf8, empty, header_not_csv or header_lacks (benefits.result_file.*)."""
        why_key = f"benefits.result_file.{why}"
        super().__init__(params={"why": why_key}, errors=[{"field": "body", "key": why_key}])


class NotCsv(DomainError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"
    key = "benefits.error.not_csv"


class ResultFileTooLarge(PayloadTooLarge):
    key = "benefits.error.result_file_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(params={"limit": limit})


class SettlementMonthNotEnded(Unprocessable):
    key = "benefits.error.settlement_month_not_ended"

    def __init__(self, month: str) -> None:
        super().__init__(params={"month": month}, errors=[{"field": "month", "key": "benefits.error.month_not_ended"}])


class SettlementMonthInFuture(Unprocessable):
    key = "benefits.error.settlement_month_in_future"

    def __init__(self, month: str) -> None:
        super().__init__(params={"month": month}, errors=[{"field": "month", "key": "benefits.error.month_in_future"}])


class SettlementAlreadyIssued(Conflict):
    key = "benefits.error.settlement_already_issued"

    def __init__(self, month: str) -> None:
        super().__init__(params={"month": month})


class SettlementEarlierMonthOpen(Conflict):
    key = "benefits.error.settlement_earlier_month_open"

    def __init__(self, month: str, earlier: str) -> None:
        super().__init__(params={"month": month, "earlier": earlier})


class SettlementPriceMissing(Conflict):
    key = "benefits.error.settlement_price_missing"

    def __init__(self, privileges: Sequence[str], month: str) -> None:
        super().__init__(params={"privileges": ", ".join(privileges), "month": month})
