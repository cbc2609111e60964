"""The CloudEvents 1.0 envelope (JSON format) every event travels in."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from contracts.errors import InvalidEvent, describe

# Defaults are for producers; a received event must carry these itself, or a consumer would
# invent an id (breaking deduplication) or a time (misordering history).
_REQUIRED_ON_THE_WIRE = ("specversion", "id", "source", "type", "time", "data")

# The Kafka `content-type` header of a structured-mode CloudEvent (CloudEvents Kafka protocol binding 1.0):
# the whole event is the record's value, so there are no `ce_*` headers, which would mean binary mode.
STRUCTURED_CONTENT_TYPE = "application/cloudevents+json; charset=UTF-8"


def _new_id() -> str:
    return str(uuid.uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event whose data is a JSON object."""

    # Extension attributes (e.g. traceparent) are legal CloudEvents and must survive a round trip.
    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=_new_id, min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    time: AwareDatetime = Field(default_factory=_now)
    # Non-empty or absent (the spec has no null); received events without one are still accepted.
    subject: str | None = Field(default=None, min_length=1)
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]

    def to_json(self) -> bytes:
        """Serialise to the CloudEvents JSON format."""
        return self.model_dump_json(exclude=None if self.subject is not None else {"subject"}).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Self:
        """Parse a received event; raise `InvalidEvent` saying what is wrong."""
        try:
            payload = json.loads(raw)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError both are ValueErrors
            raise InvalidEvent(f"invalid CloudEvent: not valid JSON ({exc})") from exc
        if not isinstance(payload, dict):
            raise InvalidEvent(f"invalid CloudEvent: expected a JSON object, got {type(payload).__name__}")
        missing = [name for name in _REQUIRED_ON_THE_WIRE if name not in payload]
        if missing:
            raise InvalidEvent(f"invalid CloudEvent: missing {', '.join(missing)}")
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            raise InvalidEvent(f"invalid CloudEvent: {describe(exc)}") from exc
