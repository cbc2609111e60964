"""Keyset pagination: ``?limit=`` (default 50, max 200) and an opaque ``?cursor=``."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import and_, or_
from sqlalchemy.sql.elements import ColumnElement

from servicekit.problems import Unprocessable

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    """A page of a list: the items and the cursor of the next page (null on the last)."""

    items: list[T]
    next_cursor: str | None = None


# --- what a cursor's values may be: each raises ValueError/TypeError for anything else (a 422) -----------
_LARGEST_INT = 2**31 - 1  # an INTEGER column; a larger number would fail in the database instead


def cursor_key(value: Any) -> str:
    """A text column's value (an id, a unit number)."""
    if not isinstance(value, str) or "\x00" in value or len(value) > 200:
        raise ValueError("not a key of this list")
    return value


def cursor_time(value: Any) -> datetime:
    """A time stamp as the list wrote it (ISO 8601 with its offset; a time without one would match no row
    and, on PostgreSQL, fail the query)."""
    at = datetime.fromisoformat(value)  # TypeError for anything but a string
    if at.tzinfo is None:
        raise ValueError("a time without its offset")
    return at


def cursor_int(value: Any) -> int:
    """A non-negative INTEGER column's value (a rank, a sequence number)."""
    if type(value) is not int or not 0 <= value <= _LARGEST_INT:
        raise ValueError("not a position of this list")
    return value


class PageParams(BaseModel):
    limit: int
    after: list[Any] | None

    def position(self, *types: Callable[[Any], Any]) -> list[Any] | None:
        """The cursor's keyset position, each value converted by its type (`cursor_time`, `cursor_key`,
        `cursor_int`); None on the first page. A cursor of another shape is the caller's error: 422, never a 500."""
        if self.after is None:
            return None
        if len(self.after) != len(types):
            raise _invalid_cursor()
        try:
            return [convert(value) for convert, value in zip(types, self.after, strict=True)]
        except (TypeError, ValueError) as exc:
            raise _invalid_cursor() from exc


def encode_cursor(position: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, default=str).encode()).decode().rstrip("=")


def _invalid_cursor() -> Unprocessable:
    return Unprocessable(
        "The cursor is not one this API issued.",
        key="problem.invalid_cursor",
        errors=[{"field": "cursor", "message": "invalid"}],
    )


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded))
    except ValueError as exc:
        raise _invalid_cursor() from exc
    if not isinstance(value, list):
        raise _invalid_cursor()
    return value


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=500, description="from the previous page's next_cursor")] = None,
) -> PageParams:
    return PageParams(limit=limit, after=decode_cursor(cursor) if cursor else None)


PageDep = Annotated[PageParams, Depends(page_params)]


def keyset_page(rows: Sequence[T], limit: int, position: Callable[[T], list[Any]]) -> Page[T]:
    """A page from rows fetched with `limit + 1`: the extra row only says that a next page exists, and the
    cursor is the keyset position of the last row shown (`position` gives the ordering columns' values)."""
    shown = list(rows[:limit])
    cursor = encode_cursor(position(shown[-1])) if len(rows) > limit and shown else None
    # Built without validation: the items are the caller's own objects (table rows or views), not input.
    return Page[T].model_construct(items=shown, next_cursor=cursor)


def keyset_after(columns: Sequence[Any], position: Sequence[Any], *, descending: bool = False) -> ColumnElement[bool]:
    """The rows strictly after `position` in the order of `columns` (ascending, or all descending):
    (a, b) after (x, y) is a > x OR (a = x AND b > y). Each value is bound through its column's type."""
    column, value = columns[0], position[0]
    beyond: ColumnElement[bool] = column < value if descending else column > value
    if len(columns) == 1:
        return beyond
    return or_(beyond, and_(column == value, keyset_after(columns[1:], position[1:], descending=descending)))
