"""Housing's typed errors, each a problem+json status with a message that says what to do."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from servicekit.problems import Conflict, NotFound, Unprocessable

from housing.states import OfferStatus


class ProjectNotFound(NotFound):
    def __init__(self, project_id: str) -> None:
        super().__init__(f"No housing project {project_id}.")


class UnitNotFound(NotFound):
    def __init__(self, unit_id: str) -> None:
        super().__init__(f"No unit {unit_id}.")


class RoundNotFound(NotFound):
    def __init__(self, round_id: str) -> None:
        super().__init__(f"No allocation round {round_id}.")


class OfferNotFound(NotFound):
    def __init__(self, offer_id: str) -> None:
        # Also for someone else's offer: its existence is not the caller's business.
        super().__init__(f"You have no offer {offer_id}.")


class LeaseNotFound(NotFound):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)


class InvalidHousingRequest(Unprocessable):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])


class UnitNumberTaken(Conflict):
    def __init__(self, numbers: Sequence[str]) -> None:
        super().__init__(f"The project already has units numbered {', '.join(numbers)}.", numbers=list(numbers))


class UnitsUnavailable(Conflict):
    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("Some units cannot be offered in a new round: " + "; ".join(problems), units=list(problems))


class UnitBusy(Conflict):
    def __init__(self, number: str, status: str) -> None:
        super().__init__(f"Unit {number} is {status}; its status changes only when its round or lease ends.")


class RoundNotOpen(Conflict):
    def __init__(self, status: str, closes_at: datetime) -> None:
        super().__init__(
            f"The round is {status} (applications closed at {closes_at.isoformat()}); it takes no more applications.",
            round_status=status,
        )


class AlreadyApplied(Conflict):
    def __init__(self, application_id: str) -> None:
        super().__init__(f"You already applied to this round (application {application_id}).")


class NotEligible(Unprocessable):
    def __init__(self, reasons: Sequence[tuple[str, str]]) -> None:
        super().__init__(
            "You are not eligible for this round: " + " ".join(message for _, message in reasons),
            errors=[{"field": "eligibility", "message": message} for _, message in reasons],
            reasons=[{"code": code, "message": message} for code, message in reasons],
        )


class RoundStateConflict(Conflict):
    def __init__(self, detail: str, status: str) -> None:
        super().__init__(detail, round_status=status)


class OfferNotOpen(Conflict):
    def __init__(self, status: str) -> None:
        super().__init__(
            f"This offer is {status}; only an open offer can be accepted or declined.", offer_status=status
        )


class OfferExpired(Conflict):
    def __init__(self, expires_at: datetime) -> None:
        super().__init__(
            f"This offer expired at {expires_at.isoformat()} and has lapsed.", offer_status=OfferStatus.LAPSED
        )


class AlreadyHoldsLease(Conflict):
    def __init__(self) -> None:
        super().__init__("You already hold a talent-apartment lease; move out before accepting another unit.")


class UnitAlreadyLeased(Conflict):
    def __init__(self) -> None:
        super().__init__("This unit has just been leased to someone else; nothing was saved.")


class ConcurrentLease(Conflict):
    def __init__(self) -> None:
        super().__init__("Another lease for this unit or for you was started at the same moment; nothing was saved.")


class LeaseStateConflict(Conflict):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
