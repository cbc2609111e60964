"""The round-trip savers: rows queued per transaction (servicekit.bulk), the audit chain's remembered tip,
timers without a look-up, work after a timer's commit, a consumer batch's prepare step, and the pydantic
default-factory fix. Each must behave exactly as the one-statement-per-row code it replaces."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from contracts import CloudEvent, make_event
from pydantic import BaseModel, Field
from servicekit.audit import AuditEntry, record, verify_chain
from servicekit.bulk import queue_insert
from servicekit.consumer import EventConsumer, with_prepare
from servicekit.db import Database, utcnow
from servicekit.kafka import KafkaPublisher
from servicekit.models import OutboxEvent, ProcessedEvent
from servicekit.outbox import Outbox
from servicekit.timers import ScheduledTimer, TimerRunner, cancel, schedule, schedule_new
from sqlalchemy import event, func
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .conftest import WidgetMade

TIMERS: Any = ScheduledTimer.__table__  # type: ignore[attr-defined]


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(
            SQLModel.metadata.create_all,
            tables=[
                ScheduledTimer.__table__,  # type: ignore[attr-defined]
                AuditEntry.__table__,  # type: ignore[attr-defined]
                OutboxEvent.__table__,  # type: ignore[attr-defined]
                ProcessedEvent.__table__,  # type: ignore[attr-defined]
            ],
        )
    yield db
    await db.dispose()


def timer_row(key: str, **values: Any) -> dict[str, Any]:
    row = {
        "kind": "k",
        "key": key,
        "due_at": utcnow(),
        "payload": "{}",
        "status": "pending",
        "attempts": 0,
        "last_error": None,
        "created_at": utcnow(),
        "fired_at": None,
    }
    return row | values


async def timer_keys(database: Database) -> list[str]:
    async with database.sessionmaker() as session:
        return list((await session.exec(select(ScheduledTimer.key).order_by(col(ScheduledTimer.id)))).all())


class Statements:
    def __init__(self, database: Database) -> None:
        self.engine = database.engine.sync_engine
        self.seen: list[str] = []

    def _count(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.seen.append(
            statement.split()[0].upper() + " " + statement.split()[2 if statement.startswith("INSERT") else 1]
        )

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


class TestQueuedRows:
    async def test_rows_go_out_in_one_statement_in_the_order_queued(self, database: Database) -> None:
        with Statements(database) as statements:
            async with database.transaction() as session:
                for n in range(50):
                    queue_insert(session, TIMERS, timer_row(f"t{n:02d}"))
        assert await timer_keys(database) == [f"t{n:02d}" for n in range(50)]
        assert statements.seen.count("INSERT scheduled_timer") == 1

    async def test_a_query_in_the_same_transaction_sees_them(self, database: Database) -> None:
        async with database.transaction() as session:
            queue_insert(session, TIMERS, timer_row("seen"))
            count = await session.scalar(select(func.count()).select_from(ScheduledTimer))
        assert count == 1

    async def test_a_rollback_drops_them_and_the_next_transaction_starts_empty(self, database: Database) -> None:
        with pytest.raises(RuntimeError):
            async with database.transaction() as session:
                queue_insert(session, TIMERS, timer_row("lost"))
                raise RuntimeError("boom")
        async with database.sessionmaker() as session:
            queue_insert(session, TIMERS, timer_row("x1"))
            await session.rollback()
            queue_insert(session, TIMERS, timer_row("x2"))
            await session.commit()
        assert await timer_keys(database) == ["x2"]

    async def test_a_duplicate_fails_the_commit(self, database: Database) -> None:
        async with database.transaction() as session:
            schedule_new(session, "k", "once", utcnow())
        with pytest.raises(Exception, match=r"(?i)unique"):
            async with database.transaction() as session:
                schedule_new(session, "k", "once", utcnow())
        assert await timer_keys(database) == ["once"]

    async def test_outbox_rows_wait_for_the_commit_and_keep_their_order(self, database: Database) -> None:
        outbox = Outbox("kittest")
        with Statements(database) as statements:
            async with database.transaction() as session:
                for n in range(5):
                    outbox.emit(session, WidgetMade(name=f"w{n}", seq=n), subject="s")
                    await session.scalar(select(func.count()).select_from(ScheduledTimer))  # statements between
        async with database.sessionmaker() as session:
            rows = (await session.exec(select(OutboxEvent).order_by(col(OutboxEvent.id)))).all()
        assert [json.loads(r.payload)["data"]["seq"] for r in rows] == [0, 1, 2, 3, 4]
        assert statements.seen.count("INSERT outbox") == 1
        assert database.outbox_signal.is_set(), "the commit still wakes the relay"


class TestTimersWithoutLookups:
    async def test_cancel_is_one_update_and_updates_the_sessions_copy(self, database: Database) -> None:
        async with database.transaction() as session:
            await schedule(session, "k", "a", utcnow())
        async with database.transaction() as session:
            held = (await session.exec(select(ScheduledTimer).where(ScheduledTimer.key == "a"))).one()
            with Statements(database) as statements:
                assert await cancel(session, "k", "a") is True
            assert held.status == "cancelled"
            assert statements.seen == ["UPDATE scheduled_timer"]
            assert await cancel(session, "k", "a") is False
            assert await cancel(session, "k", "never") is False

    async def test_a_timer_scheduled_new_can_be_cancelled_in_the_same_transaction(self, database: Database) -> None:
        async with database.transaction() as session:
            schedule_new(session, "k", "fresh", utcnow())
            assert await cancel(session, "k", "fresh") is True
        async with database.sessionmaker() as session:
            [timer] = (await session.exec(select(ScheduledTimer))).all()
        assert timer.status == "cancelled"


class TestWorkAfterCommit:
    async def test_runs_after_the_timer_committed_and_a_failure_is_not_a_retry(self, database: Database) -> None:
        seen: list[str] = []

        async def handler(session: AsyncSession, timer: ScheduledTimer) -> Any:
            async def after(db: Database) -> None:
                async with db.sessionmaker() as other:  # another connection: only committed rows are visible
                    fired = await other.get(ScheduledTimer, timer.id)
                    seen.append(fired.status if fired else "missing")
                raise RuntimeError("the network said no")

            return after

        async with database.transaction() as session:
            await schedule(session, "net", "n1", utcnow() - timedelta(seconds=1))
        runner = TimerRunner(database, {"net": handler})
        assert await runner.fire_due() == 1
        assert seen == ["done"], "the follow-up saw the committed claim, not the open transaction"
        assert await runner.fire_due() == 0, "a failing follow-up leaves the timer done"


class TestAuditTip:
    async def test_many_entries_in_one_transaction_and_across_transactions_chain(self, database: Database) -> None:
        with Statements(database) as statements:
            async with database.transaction() as session:
                for n in range(20):
                    await record(session, "system", "a", subject_type="claim", subject_id=f"c{n}")
        assert statements.seen.count("SELECT audit_log.hash") == 1
        assert statements.seen.count("INSERT audit_log") == 1
        async with database.transaction() as session:
            await record(session, "system", "b", subject_type="claim", subject_id="next")
        async with database.sessionmaker() as session:
            result = await verify_chain(session)
        assert result.valid and result.entries == 21

    async def test_a_rolled_back_transaction_leaves_no_tip_behind(self, database: Database) -> None:
        async with database.sessionmaker() as session:
            await record(session, "system", "kept", subject_type="claim", subject_id="c1")
            await session.commit()
            await record(session, "system", "dropped", subject_type="claim", subject_id="c2")
            await session.rollback()
            await record(session, "system", "kept", subject_type="claim", subject_id="c3")
            await session.commit()
        async with database.sessionmaker() as session:
            result = await verify_chain(session)
        assert result.valid and result.entries == 2


class TestPrepare:
    async def test_prepare_runs_once_per_batch_over_the_new_events_only(
        self, database: Database, publisher: KafkaPublisher
    ) -> None:
        prepared: list[list[str]] = []
        handled: list[str] = []

        async def prepare(session: AsyncSession, items: Sequence[tuple[CloudEvent, Any]]) -> None:
            prepared.append([data.name for _, data in items])

        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            handled.append(data.name)

        consumer = EventConsumer(
            database,
            publisher,
            bootstrap_servers=publisher.bootstrap_servers,
            group_id="kit.prepare",
            handlers=with_prepare(prepare, {WidgetMade: handler}),
        )
        events = [make_event(WidgetMade(name=f"p{n}", seq=n), source="kittest", subject="s") for n in range(4)]

        class Message:
            def __init__(self, value: bytes) -> None:
                self.value, self.headers, self.topic, self.partition, self.offset, self.key = value, [], "t", 0, 0, None

        await consumer.handle_batch([Message(e.to_json()) for e in events[:2]])  # type: ignore[misc]
        await consumer.handle_batch([Message(e.to_json()) for e in events])  # type: ignore[misc]
        assert prepared == [["p0", "p1"], ["p2", "p3"]]
        assert handled == ["p0", "p1", "p2", "p3"]
        await consumer.handle_batch([Message(events[0].to_json())])  # type: ignore[misc]  # one: no prepare
        assert handled == ["p0", "p1", "p2", "p3"] and len(prepared) == 2


class TestDefaultFactories:
    def test_factories_still_see_validated_data_when_they_ask_for_it(self) -> None:
        import servicekit.db  # noqa: F401  (installs the fix)

        class Model(BaseModel):
            a: int
            b: int = Field(default_factory=lambda data: data["a"] + 1)
            c: list[int] = Field(default_factory=list)

        assert Model(a=1).b == 2 and Model(a=5).b == 6 and Model(a=1).c == []
