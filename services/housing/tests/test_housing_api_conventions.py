"""What every housing list and every creating POST share with the rest of the platform: lists page by keyset
and refuse a cursor they did not issue with a 422 (never a 500); a retried POST with the same Idempotency-Key
replays its answer, and the key is bound to the method and path it was first sent to."""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import FastAPI
from servicekit.idempotency import IdempotencyRecord
from sqlmodel import select

from .conftest import Platform


def _cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


# Cursors no list issues: of another shape than any list's, or of another shape than this list's.
FORGED_EVERYWHERE = [_cursor([1, 2, 3]), _cursor([]), _cursor({"after": 1}), "not-a-cursor"]
FORGED_FOR = {
    "projects": [_cursor([1]), _cursor([None]), _cursor(["a\u0000b"])],
    "units": [_cursor(["x"]), _cursor([101, "x"])],
    "rounds": [_cursor(["x"]), _cursor(["yesterday", "x"]), _cursor(["2026-01-01T00:00:00", "x"])],
    "results": [_cursor(["x"]), _cursor([1.5]), _cursor([True]), _cursor([2**70])],
}


async def _lists(platform: Platform) -> dict[str, str]:
    """The URL of every housing list, each with something in it (the results of a drawn round)."""
    project = await platform.project()
    units = await platform.units(project, ("101", "1BR", 300000), ("102", "1BR", 300000))
    round_id = await platform.round(units[:1])
    _, talent = await platform.talent("C", 60)
    assert (await platform.apply(round_id, talent)).status_code == 201
    await platform.close_and_draw(round_id)
    return {
        "projects": "/api/v1/housing/projects",
        "units": f"/api/v1/housing/projects/{project}/units",
        "rounds": "/api/v1/housing/rounds",
        "results": f"/api/v1/housing/rounds/{round_id}/results",
    }


class TestCursors:
    async def test_a_cursor_no_list_issued_is_a_422_on_every_list(self, platform: Platform) -> None:
        for name, url in (await _lists(platform)).items():
            for cursor in FORGED_EVERYWHERE + FORGED_FOR[name]:
                response = await platform.client.get(url, params={"cursor": cursor})
                assert response.status_code == 422, (url, base64.urlsafe_b64decode(cursor + "=="), response.text)
                assert response.json()["errors"][0]["field"] == "cursor"

    async def test_every_list_pages_through_all_its_items_with_its_own_cursors(self, platform: Platform) -> None:
        for n in range(3):
            project = await platform.project(f"项目 {n}")
            await platform.units(project, (f"{n}01", "studio", 100000))
        for url in (await _lists(platform)).values():
            seen: list[Any] = []
            page = (await platform.client.get(url, params={"limit": 1})).json()
            seen += page["items"]
            while page["next_cursor"]:
                page = (await platform.client.get(url, params={"limit": 1, "cursor": page["next_cursor"]})).json()
                seen += page["items"]
            whole = (await platform.client.get(url)).json()
            assert seen == whole["items"] and whole["next_cursor"] is None, url
            assert len(seen) >= 1


class TestIdempotencyKeys:
    async def test_a_key_is_recorded_with_the_method_and_path_it_was_sent_to(
        self, platform: Platform, housing_app: FastAPI
    ) -> None:
        headers = {**platform.officer, "Idempotency-Key": "k-1"}
        body = {"name": "x", "region_code": "330402", "supply_model": "park", "address": "y"}
        assert (await platform.client.post("/api/v1/housing/projects", json=body, headers=headers)).status_code == 201
        async with housing_app.state.database.sessionmaker() as session:
            [record] = (await session.exec(select(IdempotencyRecord))).all()
        assert record.operation == "POST /api/v1/housing/projects"

    async def test_the_same_key_and_body_on_another_project_is_refused_not_replayed(self, platform: Platform) -> None:
        first, second = await platform.project("一"), await platform.project("二")
        headers = {**platform.officer, "Idempotency-Key": "units-1"}
        body = {"units": [{"number": "1", "unit_type": "1BR", "area_m2": 40, "monthly_rent_fen": 1}]}
        created = await platform.client.post(f"/api/v1/housing/projects/{first}/units", json=body, headers=headers)
        replayed = await platform.client.post(f"/api/v1/housing/projects/{first}/units", json=body, headers=headers)
        assert created.status_code == replayed.status_code == 201 and created.json() == replayed.json()
        other = await platform.client.post(f"/api/v1/housing/projects/{second}/units", json=body, headers=headers)
        assert other.status_code == 409
        listed = (await platform.client.get(f"/api/v1/housing/projects/{second}/units")).json()
        assert listed["items"] == []
