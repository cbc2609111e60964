"""Queries of cross-city cost settlement: the usage store, issued months and statements."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from servicekit.sql import insert_ignoring_conflicts
from sqlalchemy import func, update
from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits.models import SettlementMonth, SettlementStatement, SettlementUsage


@dataclass(frozen=True)
class UsageGroup:
    """Uses alike in everything a statement counts, and how many there are."""

    partner: str
    partner_kind: str
    issuing_city: str
    scene: str
    month: str
    privileges: tuple[str, ...]
    count: int


class SettlementRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_usage(self, values: Mapping[str, Any]) -> None:
        """Store a use once: its event id is the key (a redelivery that passed the ledger changes nothing)."""
        await insert_ignoring_conflicts(self.session, SettlementUsage, values, conflict_columns=["event_id"])

    async def issued(self, month: str) -> SettlementMonth | None:
        return await self.session.get(SettlementMonth, month)

    async def unsettled_months_before(self, month: str) -> set[str]:
        query = (
            select(SettlementUsage.month)
            .where(col(SettlementUsage.settled_month).is_(None), col(SettlementUsage.month) < month)
            .distinct()
        )
        return set((await self.session.exec(query)).all())

    async def issued_among(self, months: Iterable[str]) -> set[str]:
        wanted = list(months)
        if not wanted:
            return set()
        query = select(SettlementMonth.month).where(col(SettlementMonth.month).in_(wanted))
        return set((await self.session.exec(query)).all())

    async def settle(self, month: str) -> None:
        """Mark every use not yet settled, of this month or earlier, as settled by this month's statements."""
        await self.session.exec(
            update(SettlementUsage)
            .where(col(SettlementUsage.settled_month).is_(None), col(SettlementUsage.month) <= month)
            .values(settled_month=month)
        )

    async def usage_groups(self, month: str, *, settled: bool) -> list[UsageGroup]:
        """The uses settled by `month` (settled=True), or those issuing `month` now would settle (False)."""
        u = SettlementUsage
        keys = (col(u.partner), col(u.partner_kind), col(u.issuing_city), col(u.scene), col(u.month), col(u.privileges))
        query = select_columns(*keys, func.count()).group_by(*keys)
        if settled:
            query = query.where(col(u.settled_month) == month)
        else:
            query = query.where(col(u.settled_month).is_(None), col(u.month) <= month)
        rows = (await self.session.exec(query)).all()  # type: ignore[call-overload]
        return [
            UsageGroup(partner, kind, city, scene, used_in, tuple(p for p in privileges.split(",") if p), count)
            for partner, kind, city, scene, used_in, privileges, count in rows
        ]

    async def statements(self, month: str, partner: str | None = None) -> list[SettlementStatement]:
        query = select(SettlementStatement).where(SettlementStatement.month == month)
        if partner is not None:
            query = query.where(SettlementStatement.partner == partner)
        query = query.order_by(col(SettlementStatement.partner), col(SettlementStatement.issuing_city))
        return list((await self.session.exec(query)).all())
