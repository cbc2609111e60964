"""Employers' demand declarations (人才需求申报): declared in the employer's region with a shortage category and
salary band from the catalogues, closed by their employer only, listed publicly (open ones, no sign-in, no
personal data) with filters and keyset pages; each declaration and closure is an event."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from servicekit.models import OutboxEvent
from servicekit.testing import TestKeys
from sqlmodel import select

from .conftest import Officials

DEMANDS = "/api/v1/employer/demands"
PUBLIC = "/api/v1/demands"
OPTIONS = "/api/v1/demands/options"

CODE = "91330402MA2B3C4D53"
OTHER_CODE = "91330411MA2B3C4D77"


def _employer_headers(keys: TestKeys, user: str, code: str, name: str, region: str) -> dict[str, str]:
    return keys.headers(
        user, ["employer"], region=region, employer_id=f"emp-{code[-4:]}", credit_code=code, employer_name=name
    )


@pytest.fixture
def employer(test_keys: TestKeys) -> dict[str, str]:
    return _employer_headers(test_keys, "employer-user-1", CODE, "嘉兴某科技有限公司", "330402")


@pytest.fixture
def colleague(test_keys: TestKeys) -> dict[str, str]:
    """Another user of the same employer."""
    return _employer_headers(test_keys, "employer-user-3", CODE, "嘉兴某科技有限公司", "330402")


@pytest.fixture
def other_employer(test_keys: TestKeys) -> dict[str, str]:
    return _employer_headers(test_keys, "employer-user-2", OTHER_CODE, "秀洲某新材料有限公司", "330411")


def _demand(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "芯片设计工程师",
        "count": 5,
        "shortage_category": "集成电路",
        "degree": "master",
        "salary_band": "20k_50k",
    }
    body.update(overrides)
    return body


async def _declare(client: httpx.AsyncClient, employer: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = await client.post(DEMANDS, json=_demand(**overrides), headers=employer)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _events(app: FastAPI, suffix: str) -> list[dict[str, Any]]:
    async with app.state.database.sessionmaker() as session:
        rows = (await session.exec(select(OutboxEvent).order_by(OutboxEvent.id))).all()  # type: ignore[arg-type]
    return [json.loads(r.payload)["data"] for r in rows if r.event_type.endswith(suffix)]


async def _public_ids(client: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await client.get(PUBLIC, params=params)
    assert response.status_code == 200, response.text
    return [d["id"] for d in response.json()["items"]]


class TestDeclaring:
    async def test_a_declaration_is_in_the_employers_region_and_announced(
        self, client: httpx.AsyncClient, applicant_app: FastAPI, employer: dict[str, str], officials: Officials
    ) -> None:
        created = await _declare(client, employer)
        assert created | {"id": None, "declared_at": None} == {
            "id": None,
            "employer_credit_code": CODE,
            "employer_name": "嘉兴某科技有限公司",
            "region_code": "330402",
            "title": "芯片设计工程师",
            "count": 5,
            "shortage_category": "集成电路",
            "degree": "master",
            "salary_band": "20k_50k",
            "status": "open",
            "declared_at": None,
            "closed_at": None,
        }
        [event] = await _events(applicant_app, ".demand.declared.v1")
        assert event["demand_id"] == created["id"]
        assert event["region_code"] == "330402" and event["shortage_category"] == "集成电路"
        async with applicant_app.state.database.sessionmaker() as session:
            [row] = (await session.exec(select(OutboxEvent))).all()
        assert json.loads(row.payload)["subject"] == row.key == created["id"]  # partitioned by demand
        audit = await client.get("/api/v1/audit/applicant", headers=officials.auditor, params={"limit": 200})
        assert [e["actor"] for e in audit.json()["items"] if e["action"] == "demand.declare"] == ["employer-user-1"]

    async def test_degree_and_salary_band_are_optional(
        self, client: httpx.AsyncClient, employer: dict[str, str]
    ) -> None:
        body = _demand()
        del body["degree"], body["salary_band"]
        response = await client.post(DEMANDS, json=body, headers=employer)
        assert response.status_code == 201, response.text
        assert response.json()["degree"] is None and response.json()["salary_band"] is None

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"title": ""}, "title"),
            ({"title": "   "}, "title"),
            ({"title": "工" * 101}, "title"),
            ({"count": 0}, "count"),
            ({"count": 10001}, "count"),
            ({"shortage_category": "房地产"}, "shortage_category"),
            ({"degree": "phd"}, "degree"),
            ({"salary_band": "1m_plus"}, "salary_band"),
            ({"region_code": "330411"}, "region_code"),  # the region is the employer's, not the body's
        ],
    )
    async def test_bad_input_is_a_422_naming_the_field(
        self, client: httpx.AsyncClient, employer: dict[str, str], change: dict[str, Any], field: str
    ) -> None:
        response = await client.post(DEMANDS, json=_demand(**change), headers=employer)
        assert response.status_code == 422, response.text
        assert field in [e["field"] for e in response.json()["errors"]]

    async def test_the_bounds_themselves_are_accepted(
        self, client: httpx.AsyncClient, employer: dict[str, str]
    ) -> None:
        await _declare(client, employer, title="工" * 100, count=10000)
        await _declare(client, employer, title="x", count=1, salary_band="below_5k", degree="doctor")

    async def test_a_retry_with_the_same_idempotency_key_declares_once(
        self, client: httpx.AsyncClient, applicant_app: FastAPI, employer: dict[str, str]
    ) -> None:
        headers = employer | {"Idempotency-Key": "demand-chips-1"}
        first = await client.post(DEMANDS, json=_demand(), headers=headers)
        retry = await client.post(DEMANDS, json=_demand(), headers=headers)
        assert first.status_code == retry.status_code == 201
        assert retry.headers["Idempotent-Replayed"] == "true"
        assert retry.json()["id"] == first.json()["id"]
        assert len(await _events(applicant_app, ".demand.declared.v1")) == 1
        assert (await client.post(DEMANDS, json=_demand(count=6), headers=headers)).status_code == 409

    async def test_only_employers_declare(
        self, client: httpx.AsyncClient, talent: dict[str, str], officials: Officials
    ) -> None:
        for headers in (talent, officials.nanhu, officials.admin):
            assert (await client.post(DEMANDS, json=_demand(), headers=headers)).status_code == 403
            assert (await client.get(DEMANDS, headers=headers)).status_code == 403
        assert (await client.post(DEMANDS, json=_demand())).status_code == 401


class TestClosing:
    async def test_the_employer_closes_its_demand_once_and_it_leaves_the_public_list(
        self,
        client: httpx.AsyncClient,
        applicant_app: FastAPI,
        employer: dict[str, str],
        colleague: dict[str, str],
    ) -> None:
        demand = await _declare(client, employer)
        assert await _public_ids(client) == [demand["id"]]
        # Any user of the same employer may close it.
        assert (await client.delete(f"{DEMANDS}/{demand['id']}", headers=colleague)).status_code == 204
        assert await _public_ids(client) == []
        [own] = (await client.get(DEMANDS, headers=employer)).json()["items"]
        assert own["status"] == "closed" and own["closed_at"] is not None

        # Closing a closed one is a 204 that changes nothing (no second event).
        assert (await client.delete(f"{DEMANDS}/{demand['id']}", headers=employer)).status_code == 204
        [closed] = await _events(applicant_app, ".demand.closed.v1")
        assert closed == {
            "demand_id": demand["id"],
            "employer_credit_code": CODE,
            "region_code": "330402",
            "shortage_category": "集成电路",
            "count": 5,
            "closed_at": closed["closed_at"],
        }
        assert (await client.get(DEMANDS, headers=employer)).json()["items"][0]["closed_at"] == own["closed_at"]

    async def test_another_employers_demand_is_a_404(
        self, client: httpx.AsyncClient, employer: dict[str, str], other_employer: dict[str, str]
    ) -> None:
        demand = await _declare(client, employer)
        assert (await client.delete(f"{DEMANDS}/{demand['id']}", headers=other_employer)).status_code == 404
        assert (await client.delete(f"{DEMANDS}/no-such-demand", headers=other_employer)).status_code == 404
        assert (await client.get(DEMANDS, headers=other_employer)).json()["items"] == []
        assert await _public_ids(client) == [demand["id"]]


class TestPublicList:
    async def test_open_demands_are_listed_without_sign_in_filtered_and_paged(
        self, client: httpx.AsyncClient, employer: dict[str, str], other_employer: dict[str, str]
    ) -> None:
        chips = await _declare(client, employer)
        ai = await _declare(client, employer, title="算法工程师", shortage_category="人工智能", degree="doctor")
        materials = await _declare(client, other_employer, title="材料研究员", shortage_category="新材料", degree=None)
        closed = await _declare(client, other_employer, title="已招满", shortage_category="新材料")
        assert (await client.delete(f"{DEMANDS}/{closed['id']}", headers=other_employer)).status_code == 204

        assert await _public_ids(client) == [materials["id"], ai["id"], chips["id"]]
        assert await _public_ids(client, region_code="330411") == [materials["id"]]
        assert await _public_ids(client, region_code="330402") == [ai["id"], chips["id"]]
        assert await _public_ids(client, shortage_category="人工智能") == [ai["id"]]
        assert await _public_ids(client, degree="master") == [chips["id"]]
        assert await _public_ids(client, region_code="330402", degree="doctor") == [ai["id"]]

        first = (await client.get(PUBLIC, params={"limit": 2})).json()
        rest = (await client.get(PUBLIC, params={"limit": 2, "cursor": first["next_cursor"]})).json()
        assert [d["id"] for d in first["items"] + rest["items"]] == [materials["id"], ai["id"], chips["id"]]
        assert rest["next_cursor"] is None

        # The employer's own list holds its open and closed ones.
        own = (await client.get(DEMANDS, headers=other_employer)).json()["items"]
        assert [(d["id"], d["status"]) for d in own] == [(closed["id"], "closed"), (materials["id"], "open")]

    async def test_the_public_list_names_employers_never_people(
        self, client: httpx.AsyncClient, employer: dict[str, str]
    ) -> None:
        await _declare(client, employer)
        [item] = (await client.get(PUBLIC)).json()["items"]
        assert "employer-user-1" not in json.dumps(item)  # not the user who declared it
        assert set(item) == {
            "id",
            "employer_credit_code",
            "employer_name",
            "region_code",
            "title",
            "count",
            "shortage_category",
            "degree",
            "salary_band",
            "status",
            "declared_at",
            "closed_at",
        }

    @pytest.mark.parametrize(
        "params",
        [{"degree": "phd"}, {"cursor": "not-a-cursor"}, {"limit": 0}, {"region_code": "33"}],
    )
    async def test_bad_filters_are_a_422(self, client: httpx.AsyncClient, params: dict[str, Any]) -> None:
        response = await client.get(PUBLIC, params=params)
        assert response.status_code == 422, response.text

    async def test_the_options_list_the_catalogues(self, client: httpx.AsyncClient) -> None:
        options = (await client.get(OPTIONS)).json()
        assert "集成电路" in options["shortage_categories"]
        assert [b["code"] for b in options["salary_bands"]] == ["below_5k", "5k_10k", "10k_20k", "20k_50k", "above_50k"]
        assert all(b["label_zh"] and b["label_en"] for b in options["salary_bands"])
