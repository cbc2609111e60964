"""A decline passes its unit on in a fixed, small number of SQL statements (issue 17: 1,000 declines in a row),
skipping the waitlisted applicants the unit cannot fit in the query itself, with the same outcome as before."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event

from .conftest import Platform

# BEGIN, the offer with its application, unit and talent (one query), the lapse timer's cancel, the next fitting
# waitlisted applicant with its eligibility facts (one query), the changes (offer, the two applications in one
# statement, the talent, the new offer), the new timer and the two events (one INSERT each). One spare: the
# rule set is re-checked now and then.
MAX_STATEMENTS_PER_DECLINE = 11


@contextmanager
def _counting(app: FastAPI) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = app.state.database.engine.sync_engine

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


class TestDeclineCost:
    async def test_a_decline_skips_who_the_unit_cannot_fit_in_few_statements(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        here = await platform.project("近的")
        there = await platform.project("远的")
        one_bedroom, family_flat = await platform.units(here, ("101", "1BR", 300000), ("301", "3BR", 500000))
        (studio,) = await platform.units(there, ("S1", "studio", 100000))
        round_id = await platform.round([one_bedroom, family_flat, studio])
        _, there_fan = await platform.talent("A", 150)
        _, decliner = await platform.talent("A", 100)
        _, family = await platform.talent("B", 90)
        _, too_big = await platform.talent("C", 80)
        _, elsewhere = await platform.talent("C", 70)
        _, next_fitting = await platform.talent("D", 40)
        applications: list[tuple[dict[str, str], dict[str, Any]]] = [
            (there_fan, {"preferred_project_ids": [there]}),
            (decliner, {"preferred_project_ids": [here]}),
            (family, {"household_size": 5}),
            (too_big, {"household_size": 3}),  # a 1BR holds 2
            (elsewhere, {"preferred_project_ids": [there]}),
            (next_fitting, {}),
        ]
        for headers, body in applications:
            assert (await platform.apply(round_id, headers, **body)).status_code == 201
        await platform.close_and_draw(round_id)
        offer = await platform.open_offer(decliner)
        assert offer is not None and offer["unit_id"] == one_bedroom

        url = f"/api/v1/me/housing/offers/{offer['id']}/decline"
        with _counting(housing_app) as statements:
            response = await platform.client.post(url, headers=decliner)
        assert response.status_code == 200, response.text
        assert len(statements) <= MAX_STATEMENTS_PER_DECLINE, "\n".join(statements)

        passed = await platform.open_offer(next_fitting)
        assert passed is not None and passed["unit_id"] == one_bedroom
        for skipped in (too_big, elsewhere):
            assert await platform.open_offer(skipped) is None
            assert (await platform.mine(skipped))["applications"][0]["status"] == "waitlisted"
