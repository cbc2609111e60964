"""Keyset pages and cursors; the workflow primitives (transition tables, two-stage review refusals)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from servicekit.db import Database, UTCDateTime
from servicekit.pagination import PageParams, decode_cursor, encode_cursor, keyset_after, keyset_page
from servicekit.problems import Conflict, Forbidden, Unprocessable
from servicekit.workflow import (
    IllegalTransition,
    ReviewStage,
    StateMachine,
    Transition,
    check_second_approver,
    check_segregation,
    queue_statuses,
    require_stage_role,
)
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel, col, select


class TestKeysetPages:
    def test_the_extra_row_makes_a_cursor_at_the_last_row_shown(self) -> None:
        page = keyset_page([1, 2, 3], 2, lambda n: [n])
        assert page.items == [1, 2]
        assert page.next_cursor is not None and decode_cursor(page.next_cursor) == [2]

    def test_the_last_page_has_no_cursor(self) -> None:
        assert keyset_page([1, 2], 2, lambda n: [n]).next_cursor is None
        assert keyset_page([], 2, lambda n: [n]).next_cursor is None

    def test_a_position_is_converted_to_the_keyset_types(self) -> None:
        at = datetime(2026, 12, 1, 8, 0)
        params = PageParams(limit=10, after=decode_cursor(encode_cursor([at.isoformat(), "c-1"])))
        assert params.position(datetime.fromisoformat, str) == [at, "c-1"]
        assert PageParams(limit=10, after=None).position(datetime.fromisoformat, str) is None

    @pytest.mark.parametrize("after", [["not a time", "c-1"], ["2026-12-01T08:00:00"], [1, 2, 3]])
    def test_a_cursor_of_another_shape_is_a_422(self, after: list[object]) -> None:
        with pytest.raises(Unprocessable):
            PageParams(limit=10, after=after).position(datetime.fromisoformat, str)


class Door(StrEnum):
    OPEN = "open"
    SHUT = "shut"
    LOCKED = "locked"


class DoorAction(StrEnum):
    SHUT = "shut"
    LOCK = "lock"
    KNOCK = "knock"


DOOR = StateMachine(
    "door",
    [
        Transition(DoorAction.SHUT, frozenset({Door.OPEN}), Door.SHUT),
        Transition(DoorAction.LOCK, frozenset({Door.SHUT}), Door.LOCKED),
        Transition(DoorAction.KNOCK, frozenset({Door.SHUT, Door.LOCKED}), None),
    ],
)


class TestStateMachines:
    def test_a_move_leads_from_its_sources_to_its_target(self) -> None:
        assert DOOR.check(Door.OPEN, DoorAction.SHUT).leads_from(Door.OPEN) == Door.SHUT
        assert DOOR.check(Door.LOCKED, DoorAction.KNOCK).leads_from(Door.LOCKED) == Door.LOCKED  # stays

    def test_a_move_from_another_status_is_a_409_naming_the_status(self) -> None:
        with pytest.raises(IllegalTransition) as refused:
            DOOR.check(Door.OPEN, DoorAction.LOCK, "locked")
        assert isinstance(refused.value, Conflict)
        assert refused.value.detail == "A door that is open cannot be locked."
        assert refused.value.extensions == {"status_now": "open"}

    def test_one_action_has_one_row(self) -> None:
        with pytest.raises(ValueError, match="two rows"):
            StateMachine("door", [DOOR[DoorAction.SHUT], DOOR[DoorAction.SHUT]])

    def test_rows_list_every_move_for_the_documentation(self) -> None:
        assert ("locked", "knock", "locked") in DOOR.rows()
        assert ("open", "shut", "shut") in DOOR.rows()


STAGES = {
    Door.OPEN: ReviewStage("county", "county_reviewer", Door.SHUT),
    Door.SHUT: ReviewStage("city", "city_approver", Door.LOCKED),
}


class TestTwoStageReview:
    def test_the_role_of_the_stage_decides(self) -> None:
        require_stage_role("claim", "open", STAGES[Door.OPEN], {"county_reviewer"})
        with pytest.raises(Forbidden, match="city_approver"):
            require_stage_role("claim", "shut", STAGES[Door.SHUT], {"county_reviewer"})

    def test_one_officer_decides_one_stage(self) -> None:
        check_segregation("claim", "alice", [("alice", "city"), ("bob", "county")], "city")
        with pytest.raises(Forbidden, match="one stage only"):
            check_segregation("claim", "bob", [("bob", "county")], "city")

    def test_a_second_approval_comes_from_another_officer(self) -> None:
        check_second_approver("claim", "bob", {"alice"})
        with pytest.raises(Conflict, match="second, different officer"):
            check_second_approver("claim", "alice", {"alice"})

    def test_a_roles_queue_is_the_statuses_it_decides(self) -> None:
        assert queue_statuses(STAGES, "city_approver") == (Door.SHUT,)


class Row(SQLModel, table=True):
    __tablename__ = "kit_keyset_row"

    id: str = SQLField(primary_key=True)
    at: datetime = SQLField(sa_type=UTCDateTime)


class TestKeysetAfter:
    async def test_walking_pages_visits_every_row_once_in_either_direction(self, tmp_path: Path) -> None:
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'keyset.db'}")
        async with database.engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all, tables=[Row.__table__])  # type: ignore[attr-defined]
        noon = datetime(2026, 12, 1, 12, tzinfo=UTC)
        # Ties on the time are broken by the id: five rows share one instant.
        rows = [Row(id=f"r{i}", at=noon if i < 5 else noon + timedelta(minutes=i)) for i in range(9)]
        async with database.transaction() as session:
            session.add_all(rows)
        order = (col(Row.at), col(Row.id))
        for descending in (False, True):
            seen: list[str] = []
            after: list[Any] | None = None
            while True:
                async with database.transaction() as session:
                    query = select(Row)
                    if after is not None:
                        query = query.where(keyset_after(order, after, descending=descending))
                    keys = [c.desc() if descending else c for c in order]
                    page = keyset_page(
                        list((await session.exec(query.order_by(*keys).limit(3))).all()),
                        2,
                        lambda r: [r.at.isoformat(), r.id],
                    )
                seen += [r.id for r in page.items]
                if page.next_cursor is None:
                    break
                after = [
                    datetime.fromisoformat(str(v)) if i == 0 else v
                    for i, v in enumerate(decode_cursor(page.next_cursor))
                ]
            expected = sorted(rows, key=lambda r: (r.at, r.id), reverse=descending)
            assert seen == [r.id for r in expected]
        await database.dispose()
