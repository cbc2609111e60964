"""The values a housing list's cursor holds, as `PageParams.position` converts them: a cursor whose values
are not of its list's types is the caller's error (a 422 from the kit), never a query that fails (a 500)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

# A rank is an INTEGER column; a larger number would fail in the database rather than here.
_LARGEST_RANK = 2**31 - 1


def key(value: Any) -> str:
    """A text column's value (an id, a unit number)."""
    if not isinstance(value, str) or "\x00" in value or len(value) > 200:
        raise ValueError("not a key of this list")
    return value


def moment(value: Any) -> datetime:
    """A time stamp as the list wrote it (ISO 8601 with its offset; a time without one matches no row)."""
    at = datetime.fromisoformat(value)  # TypeError for anything but a string
    if at.tzinfo is None:
        raise ValueError("a time without its offset")
    return at


def rank(value: Any) -> int:
    """A place in a round's ranked list."""
    if type(value) is not int or not 0 <= value <= _LARGEST_RANK:
        raise ValueError("not a rank")
    return value
