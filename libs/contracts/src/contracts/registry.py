"""Lookup from a type name to its model, and the helpers that wrap and unwrap events."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from pydantic import ValidationError

from contracts.envelope import CloudEvent
from contracts.errors import InvalidEvent, UnknownEventType, describe
from contracts.events import (
    TOPIC_OWNERS,
    ClaimDisbursed,
    EventData,
    TalentCertified,
    TalentReinstated,
    TalentRevoked,
)


def _concrete(base: type[EventData]) -> Iterator[type[EventData]]:
    for sub in base.__subclasses__():
        if "type" in sub.__dict__:
            yield sub
        yield from _concrete(sub)


def _build_registry() -> Mapping[str, type[EventData]]:
    registry: dict[str, type[EventData]] = {}
    for model in _concrete(EventData):
        if model.type in registry:
            raise TypeError(f"{model.__name__} and {registry[model.type].__name__} share type {model.type!r}")
        registry[model.type] = model
    return MappingProxyType(registry)


# A snapshot taken at import: every model in contracts.events, read-only so no caller changes what
# another one can parse.
EVENT_TYPES: Mapping[str, type[EventData]] = _build_registry()

PARTNER_KINDS: tuple[str, ...] = ("hospital", "transit", "school", "bank", "scenic", "partner_city")

# Default catalogue: what each partner kind may subscribe to unless configured otherwise (docs/api.md).
_CODE_STATUS_TYPES = frozenset({TalentCertified.type, TalentRevoked.type, TalentReinstated.type})
PARTNER_VISIBLE_TYPES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "hospital": _CODE_STATUS_TYPES,
        "transit": _CODE_STATUS_TYPES,
        "school": _CODE_STATUS_TYPES,
        "bank": _CODE_STATUS_TYPES | {ClaimDisbursed.type},
        "scenic": _CODE_STATUS_TYPES,
        "partner_city": _CODE_STATUS_TYPES,
    }
)


def make_event(data: EventData, *, source: str, subject: str | None) -> CloudEvent:
    """Wrap event data in a new envelope (fresh id, current time)."""
    return CloudEvent(source=source, type=data.type, subject=subject, data=data.model_dump(mode="json"))


def model_for(event_type: str) -> type[EventData]:
    """The model of a type name; raise `UnknownEventType` if there is none."""
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None


def topic_for(event_type: str) -> str:
    """The topic an event of this type is published on."""
    return model_for(event_type).topic


def parse_data(event: CloudEvent) -> EventData:
    """Validate an event's data against the model of its type."""
    model = model_for(event.type)
    try:
        return model.model_validate(event.data)
    except ValidationError as exc:
        raise InvalidEvent(f"invalid data for {event.type}: {describe(exc)}") from exc


def ownership_problem(event: CloudEvent, topic: str) -> str | None:
    """Why `event` cannot have come from the service that owns `topic`, or None when it can.

    A topic's owner (TOPIC_OWNERS) stamps its own name as `source` and publishes only types under its topic,
    so anything else on that topic was forged or misrouted, whoever could write to it. Topics the contracts do
    not declare (the kit tests' private ones) have no owner to check against.
    """
    owner = TOPIC_OWNERS.get(topic)
    if owner is None:
        return None
    problems = []
    if event.source != owner:
        problems.append(f"source {event.source[:80]!r} is not {owner!r}")
    if not event.type.startswith(topic + "."):
        problems.append(f"type {event.type[:120]!r} is not published on {topic}")
    return f"not from the owner of {topic}: {'; '.join(problems)}" if problems else None


def dead_letter_topic(group_id: str) -> str:
    """The dead-letter topic of a consumer group."""
    return f"{group_id}.dlq"
