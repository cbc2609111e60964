"""Insight's queries: the state row of an entity (created on first sight) and the aggregates of the read models."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.sql import Executable
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

RowT = TypeVar("RowT", bound=SQLModel)


async def row(session: AsyncSession, model: type[RowT], key: str, **defaults: Any) -> RowT:
    """The state row of `key`, or a new one added to the session (its facts are filled in by the caller)."""
    found = await session.get(model, key)
    if found is None:
        found = model(**{_primary_key(model): key}, **defaults)
        session.add(found)
    return found


def _primary_key(model: type[SQLModel]) -> str:
    table = model.__table__  # type: ignore[attr-defined]
    (column,) = table.primary_key.columns
    return str(column.name)


async def grouped(session: AsyncSession, statement: Executable) -> list[dict[str, Any]]:
    """Rows of an aggregate query as plain dicts (column label -> value)."""
    result = await session.exec(statement)  # type: ignore[call-overload]
    return [dict(r._mapping) for r in result.all()]
