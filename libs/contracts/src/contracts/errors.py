"""Errors raised when an event cannot be read."""

from __future__ import annotations

from pydantic import ValidationError


class InvalidEvent(ValueError):
    """An event that is not well-formed: bad JSON, a missing attribute, or data that does not validate."""


class UnknownEventType(ValueError):
    """An event whose type no model in `contracts` describes."""


def describe(exc: ValidationError) -> str:
    """Turn a pydantic error into one readable line, e.g. `time: Field required; data.tier: ...`."""
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "(root)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
