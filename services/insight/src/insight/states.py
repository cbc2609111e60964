"""The statuses insight keeps of what other services report (its own words for the other services' facts)."""

from __future__ import annotations

from enum import StrEnum


class RoundStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    DRAWN = "drawn"
    COMPLETED = "completed"


class OfferStatus(StrEnum):
    MADE = "made"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    LAPSED = "lapsed"


class LeaseStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class DemandStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class ReviewKind(StrEnum):
    CERTIFICATION = "certification"
    CLAIM = "claim"
