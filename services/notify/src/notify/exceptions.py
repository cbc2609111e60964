"""Notify's typed errors, each a problem+json status; every text is in data/messages.json (zh-CN and en),
rendered in the caller's language (servicekit.messages)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from servicekit import messages
from servicekit.messages import EN, render
from servicekit.problems import Conflict, Forbidden, NotFound, ServiceUnavailable, Unprocessable

messages.register_package("notify")


class NotificationNotFound(NotFound):
    key = "notify.error.notification_not_found"


class InvalidField(Unprocessable):
    """A field the rules refuse; `problem` is a notify.invalid.* key, its words filled from `params`."""

    key = "notify.error.invalid_field"

    def __init__(self, field: str, problem: str, params: Mapping[str, Any] | None = None) -> None:
        values = dict(params or {})
        super().__init__(
            render(self.key, {"field": field, "problem": render(problem, values, EN)}, EN),
            # Raised while serving the request: the field's words in the caller's language.
            params={"field": field, "problem": render(problem, values)},
            errors=[{"field": field, "key": problem, "params": values}],
        )


class CriticalChannelLocked(Unprocessable):
    key = "notify.error.critical_channel_locked"

    def __init__(self, category: str, missing: Sequence[str]) -> None:
        params = {"category": category, "channels": ", ".join(missing)}
        super().__init__(params=params, errors=[{"field": f"channels.{category}", "key": self.key, "params": params}])


class NotAPartner(Forbidden):
    key = "notify.error.not_a_partner"


class EventTypeNotVisible(Forbidden):
    key = "notify.error.event_type_not_visible"

    def __init__(self, partner_kind: str, event_types: list[str]) -> None:
        super().__init__(
            params={"partner_kind": partner_kind, "event_types": ", ".join(event_types)},
            forbidden_event_types=event_types,
        )


class SubscriptionNotFound(NotFound):
    key = "notify.error.subscription_not_found"


class TooManySubscriptions(Conflict):
    key = "notify.error.too_many_subscriptions"

    def __init__(self, limit: int) -> None:
        super().__init__(params={"limit": limit})


class DeliveryNotFound(NotFound):
    key = "notify.error.delivery_not_found"


class DeliveryInProgress(Conflict):
    key = "notify.error.delivery_in_progress"


class UnknownPartnerKind(NotFound):
    key = "notify.error.unknown_partner_kind"

    def __init__(self, kind: str) -> None:
        super().__init__(params={"kind": kind})


class UnknownPseudonym(Exception):
    """An event for partners arrived before the talent's pseudonym did; the consumer retries it."""


class NotTheGateway(Forbidden):
    """An internal endpoint called with anything but the gateway's own service token."""

    key = "notify.error.not_the_gateway"


class SmsUnavailable(ServiceUnavailable):
    slug = "sms-unavailable"
    key = "notify.error.sms_unavailable"
