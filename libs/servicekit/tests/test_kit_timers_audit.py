"""Persisted timers fire once, survive restarts and retry; the audit chain detects tampering."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from servicekit.audit import AuditEntry, record, verify_chain
from servicekit.auth import Principal
from servicekit.db import Database, utcnow
from servicekit.timers import (
    ScheduledTimer,
    TimerRunner,
    cancel,
    cancel_soon,
    cancels_batched,
    schedule,
    schedule_many,
)
from sqlalchemy import event, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'kit.db'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(
            SQLModel.metadata.create_all,
            tables=[ScheduledTimer.__table__, AuditEntry.__table__],  # type: ignore[attr-defined]
        )
    yield db
    await db.dispose()


class TestTimers:
    async def test_due_timer_fires_once_and_future_one_waits(self, database: Database) -> None:
        fired: list[str] = []

        async def handler(session: object, timer: ScheduledTimer) -> None:
            fired.append(timer.key)

        async with database.transaction() as session:
            await schedule(session, "offer.lapse", "due", utcnow() - timedelta(seconds=1), {"offer": "o1"})
            await schedule(session, "offer.lapse", "later", utcnow() + timedelta(hours=1))
        runner = TimerRunner(database, {"offer.lapse": handler})
        assert await runner.fire_due() == 1
        assert await runner.fire_due() == 0
        assert fired == ["due"]

    async def test_a_new_runner_fires_what_a_stopped_one_left(self, database: Database) -> None:
        fired: list[str] = []

        async def handler(session: object, timer: ScheduledTimer) -> None:
            fired.append(timer.data()["claim"])

        async with database.transaction() as session:
            await schedule(session, "claim.deadline", "c1", utcnow() - timedelta(minutes=5), {"claim": "c1"})
        # The first process died before firing; a fresh runner (after a restart) picks the row up.
        assert await TimerRunner(database, {"claim.deadline": handler}).fire_due() == 1
        assert fired == ["c1"]

    async def test_rescheduling_moves_the_timer_and_cancel_stops_it(self, database: Database) -> None:
        async def handler(session: object, timer: ScheduledTimer) -> None:
            raise AssertionError("a cancelled timer must not fire")

        async with database.transaction() as session:
            await schedule(session, "k", "x", utcnow() + timedelta(days=1))
            await schedule(session, "k", "x", utcnow() - timedelta(seconds=1))
            assert await cancel(session, "k", "x") is True
        async with database.sessionmaker() as session:
            rows = (await session.exec(select(ScheduledTimer))).all()
        assert [(r.key, r.status) for r in rows] == [("x", "cancelled")]
        assert await TimerRunner(database, {"k": handler}).fire_due() == 0

    async def test_schedule_many_starts_new_timers_with_one_insert(self, database: Database) -> None:
        fired: list[tuple[str, dict[str, object]]] = []

        async def handler(session: object, timer: ScheduledTimer) -> None:
            fired.append((timer.key, timer.data()))

        inserts: list[bool] = []

        def count_inserts(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if statement.startswith("INSERT INTO scheduled_timer"):
                inserts.append(True)

        event.listen(database.engine.sync_engine, "before_cursor_execute", count_inserts)
        due, later = utcnow() - timedelta(seconds=1), utcnow() + timedelta(hours=1)
        items = [(f"o{n}", due, {"round_id": "r1"}) for n in range(3)] + [("later", later, None)]
        async with database.transaction() as session:
            assert schedule_many(session, "offer.lapse", items) == 4
            assert schedule_many(session, "offer.lapse", []) == 0
        event.remove(database.engine.sync_engine, "before_cursor_execute", count_inserts)
        assert len(inserts) == 1
        assert await TimerRunner(database, {"offer.lapse": handler}).fire_due() == 3
        assert sorted(fired) == [(f"o{n}", {"round_id": "r1"}) for n in range(3)]
        async with database.sessionmaker() as session:
            waiting = (await session.exec(select(ScheduledTimer).where(ScheduledTimer.key == "later"))).one()
        assert (waiting.status, waiting.data(), waiting.attempts) == ("pending", {}, 0)

    async def test_schedule_many_refuses_a_key_that_exists(self, database: Database) -> None:
        async with database.transaction() as session:
            await schedule(session, "k", "x", utcnow())
        with pytest.raises(IntegrityError):
            async with database.transaction() as session:
                schedule_many(session, "k", [("y", utcnow(), None), ("x", utcnow(), None)])
        async with database.sessionmaker() as session:
            assert [t.key for t in (await session.exec(select(ScheduledTimer))).all()] == ["x"]

    async def test_cancels_in_a_batch_run_together_at_its_end_as_one_update_per_kind(self, database: Database) -> None:
        due = utcnow() - timedelta(seconds=1)
        async with database.transaction() as session:
            schedule_many(session, "claim.publicity", [(f"c{n}", due, None) for n in range(5)])
            schedule_many(session, "claim.end_to_end", [(f"c{n}", due, None) for n in range(5)])
        updates: list[str] = []

        def count_updates(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if statement.startswith("UPDATE scheduled_timer"):
                updates.append(statement)

        event.listen(database.engine.sync_engine, "before_cursor_execute", count_updates)
        async with database.transaction() as session, cancels_batched(session):
            for n in range(4):
                await cancel_soon(session, "claim.publicity", f"c{n}")
                await cancel_soon(session, "claim.end_to_end", f"c{n}")
            assert updates == []  # queued, not yet sent
        event.remove(database.engine.sync_engine, "before_cursor_execute", count_updates)
        assert len(updates) == 2
        async with database.sessionmaker() as session:
            pending = (await session.exec(select(ScheduledTimer).where(ScheduledTimer.status == "pending"))).all()
        assert sorted((t.kind, t.key) for t in pending) == [("claim.end_to_end", "c4"), ("claim.publicity", "c4")]

    async def test_a_key_scheduled_again_inside_a_batch_keeps_its_timer(self, database: Database) -> None:
        later = utcnow() + timedelta(hours=1)
        async with database.transaction() as session:
            await schedule(session, "k", "x", later)
        async with database.transaction() as session, cancels_batched(session):
            await cancel_soon(session, "k", "x")
            await cancel_soon(session, "k", "y")  # no such timer: nothing to cancel
            await schedule(session, "k", "x", later + timedelta(hours=1))  # the later schedule wins
        async with database.sessionmaker() as session:
            rows = (await session.exec(select(ScheduledTimer))).all()
        assert [(r.key, r.status) for r in rows] == [("x", "pending")]

    async def test_a_batch_that_raises_cancels_nothing_and_ends(self, database: Database) -> None:
        async with database.transaction() as session:
            await schedule(session, "k", "x", utcnow())
            await schedule(session, "k", "y", utcnow())
        async with database.transaction() as session:  # the caller survives the batch's failure and commits
            with pytest.raises(RuntimeError):
                async with cancels_batched(session):
                    await cancel_soon(session, "k", "x")
                    raise RuntimeError("the bank file is unreadable")
            await cancel_soon(session, "k", "y")  # no batch any more: at once
        async with database.sessionmaker() as session:
            rows = (await session.exec(select(ScheduledTimer).order_by(ScheduledTimer.key))).all()
        assert [(r.key, r.status) for r in rows] == [("x", "pending"), ("y", "cancelled")]

    async def test_cancel_soon_outside_a_batch_cancels_at_once(self, database: Database) -> None:
        async with database.transaction() as session:
            await schedule(session, "k", "x", utcnow())
            await cancel_soon(session, "k", "x")
            status = (await session.exec(select(ScheduledTimer.status))).one()
        assert status == "cancelled"

    async def test_failing_handler_is_retried_then_marked_failed(self, database: Database) -> None:
        calls = 0

        async def handler(session: object, timer: ScheduledTimer) -> None:
            nonlocal calls
            calls += 1
            raise RuntimeError("downstream refused")

        now = utcnow()
        clock = [now]
        async with database.transaction() as session:
            await schedule(session, "k", "x", now - timedelta(seconds=1))
        runner = TimerRunner(database, {"k": handler}, max_attempts=3, clock=lambda: clock[0])
        for _ in range(3):
            await runner.fire_due()
            clock[0] += timedelta(minutes=10)  # past every backoff
        async with database.sessionmaker() as session:
            timer = (await session.exec(select(ScheduledTimer))).one()
        assert calls == 3
        assert timer.status == "failed" and timer.last_error == "RuntimeError: downstream refused"


class TestAuditChain:
    officer = Principal(sub="officer-1", roles=frozenset({"city_approver"}))

    async def test_entries_chain_and_verify(self, database: Database) -> None:
        async with database.transaction() as session:
            for n in range(3):
                await record(
                    session,
                    self.officer,
                    "claim.approve",
                    subject_type="claim",
                    subject_id=f"c{n}",
                    before={"status": "accepted"},
                    after={"status": "county_approved"},
                    reason="ok",
                )
        async with database.sessionmaker() as session:
            result = await verify_chain(session)
            entries = (await session.exec(select(AuditEntry).order_by(AuditEntry.seq))).all()  # type: ignore[arg-type]
        assert result.valid and result.entries == 3
        assert entries[1].prev_hash == entries[0].hash

    async def test_changing_an_entry_is_detected(self, database: Database) -> None:
        async with database.transaction() as session:
            for n in range(3):
                await record(session, "system", "claim.escalate", subject_type="claim", subject_id=f"c{n}")
        async with database.transaction() as session:
            await session.exec(update(AuditEntry).where(AuditEntry.seq == 2).values(reason="forged"))  # type: ignore[call-overload, arg-type]
        async with database.sessionmaker() as session:
            result = await verify_chain(session)
        assert not result.valid and result.first_broken_seq == 2

    async def test_deleting_an_entry_is_detected(self, database: Database) -> None:
        from sqlalchemy import delete

        async with database.transaction() as session:
            for n in range(3):
                await record(session, "system", "a", subject_type="claim", subject_id=f"c{n}")
        async with database.transaction() as session:
            await session.exec(delete(AuditEntry).where(AuditEntry.seq == 2))  # type: ignore[call-overload, arg-type]
        async with database.sessionmaker() as session:
            result = await verify_chain(session)
        assert not result.valid and result.first_broken_seq == 3
