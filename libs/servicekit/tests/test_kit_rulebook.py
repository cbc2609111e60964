"""Rules as versioned data: the seed is version 1, a change is a checked, audited new version, and every
replica sees it after its next read."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, Field
from servicekit.audit import AuditEntry
from servicekit.auth import Principal
from servicekit.db import Database, utcnow
from servicekit.problems import Unprocessable
from servicekit.rulebook import RuleBook, RuleSet, RuleVersion
from servicekit.testing import eventually
from sqlalchemy import insert
from sqlmodel import SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession


class Rents(BaseModel):
    percent_of_list: dict[str, int] = Field(min_length=1)


def parse_rents(document: Mapping[str, Any]) -> Rents:
    return Rents.model_validate(document)


# The kit's own package has no data file; the test rule set reads its seed from a stand-in.
class FixedSeed(RuleSet[Rents]):
    def seed(self) -> dict[str, Any]:
        return {"percent_of_list": {"A": 0, "E": 80}}


RENTS = FixedSeed("rents", parse_rents, package="servicekit", seed_file="-")
ADMIN = Principal(sub="admin-1", roles=frozenset({"admin"}))


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'rules.db'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(
            SQLModel.metadata.create_all,
            tables=[RuleVersion.__table__, AuditEntry.__table__],  # type: ignore[attr-defined]
        )
        await conn.execute(insert(RuleVersion), RuleBook("housing", RENTS).seed_rows(utcnow()))
    yield db
    await db.dispose()


class TestRuleBook:
    async def test_the_seed_is_version_1_in_force_before_any_change(self, database: Database) -> None:
        book = RuleBook("housing", RENTS)
        await book.load(database)
        current = book.get(RENTS)
        assert current.version == 1 and current.value.percent_of_list["E"] == 80

    async def test_a_change_is_a_new_audited_version_in_force_at_once(self, database: Database) -> None:
        book = RuleBook("housing", RENTS)
        await book.load(database)
        async with database.transaction() as session:
            row = await book.replace(session, ADMIN, "rents", {"percent_of_list": {"E": 70}}, "2027 rents")
        assert row.version == 2 and book.get(RENTS).value.percent_of_list == {"E": 70}
        async with database.transaction() as session:
            versions = (await session.exec(select(RuleVersion).order_by(RuleVersion.version))).all()
            [entry] = (await session.exec(select(AuditEntry))).all()
        assert [v.version for v in versions] == [1, 2] and versions[0].document["percent_of_list"]["E"] == 80
        assert entry.action == "rules.changed" and entry.reason == "2027 rents" and entry.actor == "admin-1"

    async def test_an_invalid_document_is_a_422_naming_the_field_and_changes_nothing(self, database: Database) -> None:
        book = RuleBook("housing", RENTS)
        await book.load(database)
        with pytest.raises(Unprocessable) as refused:
            async with database.transaction() as session:
                await book.replace(session, ADMIN, "rents", {"percent_of_list": {}}, "oops")
        assert refused.value.errors and refused.value.errors[0]["field"] == "percent_of_list"
        assert book.get(RENTS).version == 1

    async def test_another_replica_sees_the_change_after_its_next_read(self, database: Database) -> None:
        here, there = RuleBook("housing", RENTS, max_age_s=0.0), RuleBook("housing", RENTS, max_age_s=0.0)
        await here.load(database)
        await there.load(database)
        async with database.transaction() as session:
            await here.replace(session, ADMIN, "rents", {"percent_of_list": {"E": 60}}, "cheaper")
        # The first read answers from the snapshot and starts a check; a later read has the new version.
        await eventually(lambda: there.get(RENTS).version == 2, what="the other replica to see version 2")
        assert there.get(RENTS).value.percent_of_list == {"E": 60}
        await here.close()
        await there.close()

    async def test_a_change_rolled_back_is_never_in_force(self, database: Database) -> None:
        book = RuleBook("housing", RENTS)
        await book.load(database)
        with pytest.raises(RuntimeError):
            async with database.transaction() as session:
                await book.replace(session, ADMIN, "rents", {"percent_of_list": {"E": 10}}, "then undone")
                raise RuntimeError("the request failed after the change")
        assert book.get(RENTS).version == 1 and book.get(RENTS).value.percent_of_list["E"] == 80

    async def test_a_decision_can_ask_for_the_version_in_force_in_its_own_transaction(self, database: Database) -> None:
        here, idle = RuleBook("housing", RENTS), RuleBook("housing", RENTS, max_age_s=0.0)
        await here.load(database)
        await idle.load(database)
        async with database.transaction() as session:
            await here.replace(session, ADMIN, "rents", {"percent_of_list": {"E": 75}}, "new year")
        async with database.transaction() as session:
            current = await idle.current(session, RENTS)
        assert current.version == 2 and current.value.percent_of_list == {"E": 75}
        await idle.close()

    async def test_a_re_check_that_read_before_a_change_committed_does_not_bring_the_old_version_back(
        self, database: Database
    ) -> None:
        book = RuleBook("housing", RENTS)
        await book.load(database)

        class CommitsWhileReading:
            """A read session whose first query is answered, then a change commits before the answer is used."""

            def __init__(self, session: AsyncSession) -> None:
                self.session, self.changed = session, False

            async def exec(self, query: Any) -> Any:
                result = await self.session.exec(query)
                rows = result.all()  # the re-check has seen version 1 as the newest
                if not self.changed:
                    self.changed = True
                    async with database.transaction() as writer:
                        await book.replace(writer, ADMIN, "rents", {"percent_of_list": {"E": 50}}, "meanwhile")
                return _Rows(rows)

            async def get(self, *args: Any) -> Any:
                return await self.session.get(*args)

        async with database.read() as conn, AsyncSession(bind=conn) as session:
            book._snapshot.pop("rents")  # so the re-check has something to (re)load from what it read
            await book.refresh(CommitsWhileReading(session))  # type: ignore[arg-type]
        assert book.get(RENTS).version == 2 and book.get(RENTS).value.percent_of_list == {"E": 50}


class _Rows:
    def __init__(self, rows: list[Any]) -> None:
        self.rows = rows

    def all(self) -> list[Any]:
        return self.rows
