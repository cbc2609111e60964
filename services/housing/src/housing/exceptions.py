"""Housing's typed errors, each a problem+json status with a message that says what to do.

Every text is in data/messages.json (zh-CN and en), rendered in the caller's language (servicekit.messages).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from servicekit import messages
from servicekit.messages import EN, render
from servicekit.problems import Conflict, NotFound, Unprocessable

from housing.states import OfferStatus

messages.register_package("housing")


class ProjectNotFound(NotFound):
    key = "housing.error.project_not_found"

    def __init__(self, project_id: str) -> None:
        super().__init__(params={"project_id": project_id})


class UnitNotFound(NotFound):
    key = "housing.error.unit_not_found"

    def __init__(self, unit_id: str) -> None:
        super().__init__(params={"unit_id": unit_id})


class RoundNotFound(NotFound):
    key = "housing.error.round_not_found"

    def __init__(self, round_id: str) -> None:
        super().__init__(params={"round_id": round_id})


class OfferNotFound(NotFound):
    key = "housing.error.offer_not_found"

    def __init__(self, offer_id: str) -> None:
        # Also for someone else's offer: its existence is not the caller's business.
        super().__init__(params={"offer_id": offer_id})


class LeaseNotFound(NotFound):
    """No active lease of the caller's (no lease id), or no lease with that id."""

    key = "housing.error.no_active_lease"

    def __init__(self, lease_id: str | None = None) -> None:
        if lease_id is None:
            super().__init__()
        else:
            super().__init__(key="housing.error.lease_not_found", params={"lease_id": lease_id})


class InvalidHousingRequest(Unprocessable):
    """A field the rules refuse; `problem` is a housing.invalid.* key, its words filled from `params`."""

    key = "housing.error.invalid_request"

    def __init__(self, field: str, problem: str, params: Mapping[str, Any] | None = None) -> None:
        values = dict(params or {})
        super().__init__(
            render(self.key, {"field": field, "problem": render(problem, values, EN)}, EN),
            # Raised while serving the request: the field's words in the caller's language.
            params={"field": field, "problem": render(problem, values)},
            errors=[{"field": field, "key": problem, "params": values}],
        )


class UnitNumberTaken(Conflict):
    key = "housing.error.unit_number_taken"

    def __init__(self, numbers: Sequence[str]) -> None:
        super().__init__(params={"numbers": ", ".join(numbers)}, numbers=list(numbers))


class UnitsUnavailable(Conflict):
    key = "housing.error.units_unavailable"

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(params={"problems": "; ".join(problems)}, units=list(problems))


class UnitBusy(Conflict):
    key = "housing.error.unit_busy"

    def __init__(self, number: str, status: str) -> None:
        super().__init__(params={"number": number, "status": status})


class RoundNotOpen(Conflict):
    key = "housing.error.round_not_open"

    def __init__(self, status: str, closes_at: datetime) -> None:
        super().__init__(params={"status": status, "closes_at": closes_at.isoformat()}, round_status=status)


class AlreadyApplied(Conflict):
    key = "housing.error.already_applied"

    def __init__(self, application_id: str) -> None:
        super().__init__(params={"application_id": application_id})


class NotEligible(Unprocessable):
    """Every reason the talent may not apply, each a (code, message) of housing.eligibility."""

    key = "housing.error.not_eligible"

    def __init__(self, reasons: Sequence[tuple[str, messages.Message]]) -> None:
        words = [message.render() for _, message in reasons]
        super().__init__(
            render(self.key, {"reasons": " ".join(m.english() for _, m in reasons)}, EN),
            params={"reasons": " ".join(words)},
            errors=[{"field": "eligibility", "key": m.key, "params": dict(m.params)} for _, m in reasons],
            reasons=[{"code": code, "message": text} for (code, _), text in zip(reasons, words, strict=True)],
        )


class RoundStateConflict(Conflict):
    """The round's status does not allow the move; `key` says which refusal (housing.error.round_*)."""

    key = "housing.error.round_state"

    def __init__(self, status: str, *, key: str | None = None, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(key=key, params={"status": status, **(params or {})}, round_status=status)


class OfferNotOpen(Conflict):
    key = "housing.error.offer_not_open"

    def __init__(self, status: str) -> None:
        super().__init__(params={"status": status}, offer_status=status)


class OfferExpired(Conflict):
    key = "housing.error.offer_expired"

    def __init__(self, expires_at: datetime) -> None:
        super().__init__(params={"expires_at": expires_at.isoformat()}, offer_status=OfferStatus.LAPSED)


class AlreadyHoldsLease(Conflict):
    key = "housing.error.already_holds_lease"


class UnitAlreadyLeased(Conflict):
    key = "housing.error.unit_already_leased"


class ConcurrentLease(Conflict):
    key = "housing.error.concurrent_lease"


class LeaseStateConflict(Conflict):
    """The lease's state refuses the move; `key` says why (housing.error.lease_*)."""

    key = "housing.error.lease_state"

    def __init__(self, key: str | None = None, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(key=key, params=dict(params or {}))
