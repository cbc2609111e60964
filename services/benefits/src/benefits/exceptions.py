"""Benefits' typed errors, each a problem+json status."""

from __future__ import annotations

from collections.abc import Sequence

from servicekit.problems import Conflict, DomainError, Forbidden, NotFound, PayloadTooLarge, Unprocessable
from servicekit.workflow import IllegalTransition

from benefits.rules import Reason


class PolicyNotFound(NotFound):
    def __init__(self, code: str) -> None:
        super().__init__(f"There is no policy {code!r}; see GET /api/v1/policies.")


class UnknownPolicy(Unprocessable):
    def __init__(self, code: str) -> None:
        super().__init__(
            f"There is no active policy {code!r}; see GET /api/v1/policies.",
            errors=[{"field": "policy_code", "message": "unknown or inactive policy"}],
        )


class PolicyExists(Conflict):
    def __init__(self, code: str) -> None:
        super().__init__(f"Policy {code!r} already exists; change it with PUT /api/v1/admin/policies/{code}.")


class ClaimNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("There is no such claim, or it is not yours to see.")


class NotEligible(Unprocessable):
    """The talent may not claim the policy; every reason is listed."""

    def __init__(self, policy_code: str, reasons: Sequence[Reason]) -> None:
        super().__init__(
            f"You are not eligible for {policy_code}: " + " ".join(r.message for r in reasons),
            errors=[{"field": "policy_code", "message": r.message} for r in reasons],
            reasons=[r.as_dict() for r in reasons],
        )


class AlreadyClaimed(Conflict):
    def __init__(self, policy_code: str, reasons: Sequence[Reason]) -> None:
        super().__init__(
            f"You cannot claim {policy_code} again: " + " ".join(r.message for r in reasons),
            reasons=[r.as_dict() for r in reasons],
        )


class InvalidClaimDetails(Unprocessable):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])


class WrongState(IllegalTransition):
    """The kit's refusal of a move the claim's status does not allow, said of a claim."""

    def __init__(self, action: str, status: str) -> None:
        super().__init__("claim", status, action)


class BudgetExhausted(Conflict):
    def __init__(self, policy_code: str, year: int, what: str) -> None:
        super().__init__(f"Approving this claim would exceed the {year} {what} of {policy_code}; nothing was approved.")


class AmountRequired(Unprocessable):
    def __init__(self) -> None:
        super().__init__(
            "This policy's amount is entered by the officer: approve with amount_fen.",
            errors=[{"field": "amount_fen", "message": "required to approve this claim"}],
        )


class AmountNotEditable(Unprocessable):
    def __init__(self) -> None:
        super().__init__(
            "This policy's amount comes from the policy or the talent; amount_fen cannot be set by an officer.",
            errors=[{"field": "amount_fen", "message": "not allowed for this policy"}],
        )


class PublicityNotOver(Conflict):
    def __init__(self, until: str) -> None:
        super().__init__(f"The claim is on public notice (公示) until {until}; it can be paid after that.")


class PaymentReferenceUsed(Conflict):
    def __init__(self) -> None:
        super().__init__("This payment_reference was already recorded for another disbursement.")


class NoReviewQueue(Forbidden):
    def __init__(self, roles: tuple[str, ...]) -> None:
        super().__init__(f"Only the roles {', '.join(roles)} have a review queue of claims.")


class NotAppealable(Conflict):
    """复议 is open only against an officer's rejection, once, and not once the period is claimed again."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)


class AppealTooLate(Conflict):
    def __init__(self, until: str) -> None:
        super().__init__(f"An appeal was possible within 15 days of the rejection, until {until}; that has passed.")


class AppealNotReturnable(Unprocessable):
    def __init__(self) -> None:
        super().__init__(
            "An appeal is decided, not returned: approve overturns the rejection, reject upholds it.",
            errors=[{"field": "decision", "message": "approve (overturn) or reject (uphold)"}],
        )


class NothingToPay(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "No claim is due for payment: none has ended its public notice (公示) or failed a payment outside an "
            "open batch. Claims you decided at a review stage are left for another finance officer."
        )


class PaymentBatchNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("There is no such payment batch; see GET /api/v1/finance/payment-batches.")


class UnreadableResultFile(Unprocessable):
    def __init__(self, message: str) -> None:
        super().__init__(
            f"The result file cannot be read: {message}. Send UTF-8 CSV with the header "
            "line_ref,status,bank_reference (amount_fen optional).",
            errors=[{"field": "body", "message": message}],
        )


class NotCsv(DomainError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"

    def __init__(self) -> None:
        super().__init__("Send the bank's result file as text/csv (UTF-8).")


class ResultFileTooLarge(PayloadTooLarge):
    def __init__(self, limit: int) -> None:
        super().__init__(f"A result file may have at most {limit} bytes; split it by line_ref.")
