"""The few statements SQLite and PostgreSQL spell differently, behind one name each.

Services write portable SQLAlchemy everywhere else; when they need one of these, they ask here instead of
branching on the dialect themselves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import String, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession


def dialect_of(session: AsyncSession) -> str:
    """`sqlite` or `postgresql` (SQLAlchemy's dialect name of the session's bind)."""
    return session.get_bind().dialect.name


async def insert_ignoring_conflicts(
    session: AsyncSession, model: Any, values: Mapping[str, Any], *, conflict_columns: Sequence[str]
) -> None:
    """INSERT … ON CONFLICT (columns) DO NOTHING: create a row unless a concurrent transaction just did."""
    insert = postgresql.insert if dialect_of(session) == "postgresql" else sqlite.insert
    statement = insert(model).values(**values).on_conflict_do_nothing(index_elements=list(conflict_columns))
    await session.exec(statement)


def greatest(session: AsyncSession, *values: Any) -> ColumnElement[Any]:
    """The largest of the values: PostgreSQL's GREATEST, SQLite's many-argument MAX."""
    if dialect_of(session) == "sqlite":
        return func.max(*values)
    return func.greatest(*values)


E = TypeVar("E", bound=StrEnum)


class StrEnumText(TypeDecorator[E]):
    """A status column: stored as plain VARCHAR(length) (no database ENUM to migrate when a status is added),
    read back as the `StrEnum` member, so the model's annotation tells the truth."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int) -> None:
        super().__init__(length=length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else str(self.enum(value))

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        return None if value is None else self.enum(value)
