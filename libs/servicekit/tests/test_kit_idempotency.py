"""Idempotency-Key: a retried creation returns the first response and never creates twice."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel
from servicekit.app import ServiceDefinition, create_app
from servicekit.auth import CurrentPrincipal, StaticJwks
from servicekit.db import SessionDep
from servicekit.idempotency import IdempotencyKey, IdempotencyRecord, run_idempotent
from servicekit.settings import ServiceSettings
from servicekit.testing import TansuBroker, TestKeys, serve_in_process
from sqlmodel import Field, SQLModel, func, select


class KitIdemWidget(SQLModel, table=True):
    __tablename__ = "kit_idem_widget"

    id: int | None = Field(default=None, primary_key=True)
    name: str


class WidgetCreate(BaseModel):
    name: str


_numbers = itertools.count(1)
router = APIRouter()


@router.post("/widgets", status_code=201)
async def create_widget(
    body: WidgetCreate, session: SessionDep, principal: CurrentPrincipal, key: IdempotencyKey = None
) -> object:
    async def create() -> dict[str, object]:
        widget = KitIdemWidget(name=body.name)
        session.add(widget)
        await session.flush()
        return {"id": widget.id, "name": widget.name, "serial": next(_numbers)}

    return await run_idempotent(session, principal, key, operation="create_widget", body=body, create=create)


@pytest.fixture
async def client(tmp_path: Path, broker: TansuBroker, test_keys: TestKeys) -> AsyncIterator[httpx.AsyncClient]:
    settings = ServiceSettings(
        TALENT_ENV="dev",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'idem.db'}",
        kafka_bootstrap_servers=broker.bootstrap_servers,
    )
    app = create_app(
        ServiceDefinition(name="kitidem", title="t", routers=[router]),
        settings,
        key_source=StaticJwks(test_keys.jwks()),
        run_workers=False,
    )
    async with app.state.database.engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all, tables=[KitIdemWidget.__table__, IdempotencyRecord.__table__])  # type: ignore[attr-defined]
    async with serve_in_process(app) as http:
        http.app_state = app.state  # type: ignore[attr-defined]
        yield http


async def _count(client: httpx.AsyncClient) -> int:
    async with client.app_state.database.sessionmaker() as session:  # type: ignore[attr-defined]
        return int((await session.exec(select(func.count()).select_from(KitIdemWidget))).one())


class TestIdempotencyKey:
    async def test_same_key_and_body_replays_the_first_response(
        self, client: httpx.AsyncClient, test_keys: TestKeys
    ) -> None:
        headers = {**test_keys.headers("u1", ["talent"]), "Idempotency-Key": "k-1"}
        first = await client.post("/widgets", json={"name": "a"}, headers=headers)
        again = await client.post("/widgets", json={"name": "a"}, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        assert await _count(client) == 1

    async def test_same_key_with_another_body_is_409(self, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
        headers = {**test_keys.headers("u1", ["talent"]), "Idempotency-Key": "k-2"}
        await client.post("/widgets", json={"name": "a"}, headers=headers)
        response = await client.post("/widgets", json={"name": "b"}, headers=headers)
        assert response.status_code == 409
        assert "different request" in response.json()["detail"]
        assert await _count(client) == 1

    async def test_keys_belong_to_their_caller(self, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
        for user in ("u1", "u2"):
            headers = {**test_keys.headers(user, ["talent"]), "Idempotency-Key": "shared"}
            assert (await client.post("/widgets", json={"name": "a"}, headers=headers)).status_code == 201
        assert await _count(client) == 2

    async def test_without_a_key_each_post_creates(self, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
        headers = test_keys.headers("u1", ["talent"])
        for _ in range(2):
            await client.post("/widgets", json={"name": "a"}, headers=headers)
        assert await _count(client) == 2

    async def test_a_key_with_control_characters_is_422(self, client: httpx.AsyncClient, test_keys: TestKeys) -> None:
        headers = {**test_keys.headers("u1", ["talent"]), "Idempotency-Key": "bad key"}
        assert (await client.post("/widgets", json={"name": "a"}, headers=headers)).status_code == 422
