"""Notify's typed errors, each a problem+json status."""

from __future__ import annotations

from collections.abc import Sequence

from servicekit.problems import Conflict, Forbidden, NotFound, Unprocessable


class NotificationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such notification in your inbox.")


class InvalidField(Unprocessable):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])


class CriticalChannelLocked(Unprocessable):
    def __init__(self, category: str, missing: Sequence[str]) -> None:
        message = f"{category} is a critical category; its channels {', '.join(missing)} cannot be switched off"
        super().__init__(message, errors=[{"field": f"channels.{category}", "message": message}])


class NotAPartner(Forbidden):
    def __init__(self) -> None:
        super().__init__("Your token names no partner kind; partner endpoints need a partner client's token.")


class EventTypeNotVisible(Forbidden):
    def __init__(self, partner_kind: str, event_types: list[str]) -> None:
        super().__init__(
            f"Partners of kind {partner_kind} may not subscribe to: {', '.join(event_types)}.",
            forbidden_event_types=event_types,
        )


class SubscriptionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such subscription of yours.")


class TooManySubscriptions(Conflict):
    def __init__(self, limit: int) -> None:
        super().__init__(f"You already have {limit} active subscriptions; delete one first.")


class DeliveryNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No such delivery of yours.")


class DeliveryInProgress(Conflict):
    def __init__(self) -> None:
        super().__init__("This delivery is still being attempted; redeliver it once it is delivered or dead.")


class UnknownPartnerKind(NotFound):
    def __init__(self, kind: str) -> None:
        super().__init__(f"There is no partner kind {kind!r}.")


class UnknownPseudonym(Exception):
    """An event for partners arrived before the talent's pseudonym did; the consumer retries it."""
