"""The city-wide summary computed ahead by the worker, so a leader's read costs one row at any city size.

Computing the summary is a dozen GROUP BYs over every state row: about a second at 20,000 talents, and it grows
with the city. The worker recomputes it after batches it applied, at most once per `snapshot_interval_s`, and
`GET /summary` without filters answers from the stored row with its `as_of` time (filtered reads are computed
as before). Nothing is counted differently: the snapshot is the same `service.summary` answer, through the
same disclosure control, stored as it would be shown.

Nothing applied is missed: a batch marks the snapshot stale only once its transaction has committed, and the
mark is cleared before the recomputation reads, so a batch committed during a recomputation causes another.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from servicekit.db import utcnow
from sqlalchemy import event
from sqlmodel.ext.asyncio.session import AsyncSession

from insight import service
from insight.components import AnswerCache, Components
from insight.models import InsightSnapshot
from insight.queries import Filters
from insight.schemas import SummaryPublic

logger = logging.getLogger("insight.snapshots")

SUMMARY = "summary"
_MARKED = "insight_snapshot_marked"


async def refresh_summary(session: AsyncSession, c: Components) -> datetime:
    """Recompute the city-wide summary from the state rows (no cached table) and store it; returns its as_of."""
    as_of = utcnow()  # the rows read below are at least this fresh
    answer = await service.summary(session, replace(c, cache=AnswerCache(0)), Filters())
    row = await session.get(InsightSnapshot, SUMMARY)
    if row is None:
        row = InsightSnapshot(name=SUMMARY, as_of=as_of)
        session.add(row)
    row.body, row.as_of = answer.model_dump(mode="json"), as_of
    await session.flush()
    return as_of


async def stored_summary(session: AsyncSession) -> tuple[SummaryPublic, datetime] | None:
    """The stored summary and its as_of, or None before the worker first computed it."""
    row = await session.get(InsightSnapshot, SUMMARY)
    if row is None:
        return None
    return SummaryPublic.model_validate(row.body), row.as_of


async def summary(session: AsyncSession, c: Components, filters: Filters) -> tuple[SummaryPublic, datetime | None]:
    """The summary a reader asked for, with its as_of when it is the stored one (None: computed now)."""
    if filters == Filters():
        stored = await stored_summary(session)
        if stored is not None:
            return stored
    return await service.summary(session, c, filters), None


class SnapshotKeeper:
    """Keeps the stored summary current in the worker: once at start, then after applied batches (debounced)."""

    def __init__(self, components: Components) -> None:
        self.components = components
        self.stale = asyncio.Event()
        self.stale.set()  # at start: the rows may have changed while no worker ran (a replay, a restore)

    def mark_after_commit(self, session: AsyncSession) -> None:
        """Mark the snapshot stale when this session's transaction commits (a rolled-back batch changed nothing)."""
        if session.info.get(_MARKED):
            return
        session.info[_MARKED] = True

        def committed(_: Any) -> None:
            session.info.pop(_MARKED, None)
            self.stale.set()

        event.listen(session.sync_session, "after_commit", committed, once=True)

    async def run(self, database: Any) -> None:
        interval = self.components.settings.snapshot_interval_s
        while True:
            await self.stale.wait()
            self.stale.clear()  # before reading: a batch committed from here on marks it again
            try:
                async with database.transaction() as session:
                    await refresh_summary(session, self.components)
            except Exception:
                logger.exception("could not recompute the summary; retrying")
                self.stale.set()
            await asyncio.sleep(interval)  # at most one recomputation per interval, however busy the topics
