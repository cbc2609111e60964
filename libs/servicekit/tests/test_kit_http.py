"""The HTTP face of every service: problem+json errors, body limits, request ids, unit of work, health."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import APIRouter, FastAPI, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from servicekit.app import ServiceDefinition, create_app
from servicekit.db import Database, SessionDep
from servicekit.models import OutboxEvent
from servicekit.outbox import Outbox
from servicekit.problems import Conflict
from servicekit.settings import ServiceSettings
from servicekit.testing import TansuBroker
from sqlalchemy.exc import DataError
from sqlmodel import col, select

from .conftest import KitTestWidget, WidgetMade, count_rows, widget_names

MAX_BODY = 2048
PROBLEM = "application/problem+json"
outbox = Outbox("kittest")
router = APIRouter()


class WidgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40)
    seq: int = 0


@router.post("/widgets", status_code=201)
async def create_widget(body: WidgetIn, session: SessionDep) -> dict[str, Any]:
    session.add(KitTestWidget(name=body.name, subject="talent-1", seq=body.seq))
    outbox.emit(session, WidgetMade(name=body.name, seq=body.seq), subject="talent-1")
    return {"name": body.name}


@router.post("/widgets/refused")
async def create_then_refuse(body: WidgetIn, session: SessionDep) -> dict[str, Any]:
    session.add(KitTestWidget(name=body.name, subject="talent-1"))
    outbox.emit(session, WidgetMade(name=body.name), subject="talent-1")
    await session.flush()
    raise Conflict("A rule checked after writing refuses this widget.")


@router.get("/widgets")
async def list_widgets(session: SessionDep, limit: int = Query(10, ge=1, le=100)) -> list[str]:
    return list(await session.exec(select(KitTestWidget.name).order_by(col(KitTestWidget.id)).limit(limit)))


@router.post("/raw")
async def raw_body(request: Request) -> dict[str, int]:
    return {"size": len(await request.body())}


@router.get("/unstorable")
async def unstorable() -> None:
    # What asyncpg reports for a NUL character in a text parameter, as SQLAlchemy raises it.
    raise DataError("INSERT INTO widget …", {}, Exception('invalid byte sequence for encoding "UTF8": 0x00'))


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("internal detail for 330402199001011234 that must not leak")


def settings_for(database_url: str, bootstrap_servers: str) -> ServiceSettings:
    return ServiceSettings(
        TALENT_ENV="test",
        service_name="kittest",
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap_servers,
        max_body_bytes=MAX_BODY,
        workers_in_process=False,
    )


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with LifespanManager(app) as manager:
        # raise_app_exceptions=False: see the 500 response a real client would get.
        transport = httpx.ASGITransport(app=manager.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
            yield client


def kit_app(database_url: str, bootstrap_servers: str) -> FastAPI:
    definition = ServiceDefinition(name="kittest", title="Kit test", routers=[router])
    return create_app(definition, settings_for(database_url, bootstrap_servers), run_workers=False)


@pytest.fixture
async def client(database_url: str, broker: TansuBroker) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(kit_app(database_url, broker.bootstrap_servers)) as http:
        yield http


def problem_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= body.keys()
    return body


class TestProblemDetails:
    async def test_a_wrong_type_is_422_with_the_field_and_a_message(self, client: httpx.AsyncClient) -> None:
        body = problem_of(await client.post("/widgets", json={"name": "w", "seq": "many"}), 422)

        assert body["type"].endswith("/invalid-input")
        assert [e["field"] for e in body["errors"]] == ["seq"]
        assert all(set(e) == {"field", "message"} and e["message"] for e in body["errors"])

    async def test_missing_and_unknown_fields_are_each_named(self, client: httpx.AsyncClient) -> None:
        body = problem_of(await client.post("/widgets", json={"colour": "red"}), 422)

        assert {"field": "colour", "message": "unknown field"} in body["errors"]
        assert "name" in {e["field"] for e in body["errors"]}

    async def test_an_invalid_query_parameter_names_the_parameter(self, client: httpx.AsyncClient) -> None:
        body = problem_of(await client.get("/widgets", params={"limit": "0"}), 422)

        assert [e["field"] for e in body["errors"]] == ["limit"]

    @pytest.mark.parametrize("raw", [b"{bad", b'{"name": "w",}', b"\xff\xfe\x00"], ids=["truncated", "comma", "bytes"])
    async def test_malformed_json_is_400(self, client: httpx.AsyncClient, raw: bytes) -> None:
        response = await client.post("/widgets", content=raw, headers={"content-type": "application/json"})

        assert problem_of(response, 400)["detail"]

    async def test_a_json_array_instead_of_an_object_is_422(self, client: httpx.AsyncClient) -> None:
        problem_of(await client.post("/widgets", json=[{"name": "w"}]), 422)

    async def test_an_unknown_route_is_a_404_problem(self, client: httpx.AsyncClient) -> None:
        body = problem_of(await client.get("/nowhere"), 404)

        assert body["detail"] == "No resource at /nowhere."

    async def test_a_wrong_method_is_a_405_problem(self, client: httpx.AsyncClient) -> None:
        problem_of(await client.delete("/widgets"), 405)

    async def test_a_value_the_database_cannot_store_is_422_not_500(self, client: httpx.AsyncClient) -> None:
        # Found by fuzzing on PostgreSQL: a NUL character in any text field was a 500.
        body = problem_of(await client.get("/unstorable"), 422)
        assert "0x00" not in body["detail"] and "INSERT" not in body["detail"]
        response = await client.post("/widgets", json={"name": "nul\u0000name"})
        assert response.status_code in {201, 422}, response.text  # SQLite stores it; PostgreSQL refuses it

    async def test_an_unexpected_exception_is_a_500_problem_without_internals(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        response = await client.get("/boom", headers={"X-Request-ID": "req-boom-1"})

        body = problem_of(response, 500)
        for leak in ("Traceback", "RuntimeError", "internal detail", "330402", "test_kit_http"):
            assert leak not in response.text
        assert response.headers.get("x-request-id") == "req-boom-1"
        assert any(r.exc_info and "boom" in r.getMessage() for r in caplog.records), "the trace goes to the log"
        assert body["type"].endswith("/internal")


class TestProblemsInTheOpenApiDocument:
    """Found by fuzzing: the services documented only their successes (and FastAPI's application/json 422),
    so every 401, 404, 409 or problem+json 422 they sent contradicted their own OpenAPI document."""

    async def test_every_operation_documents_its_problems_as_problem_json(self, client: httpx.AsyncClient) -> None:
        document = (await client.get("/openapi.json")).json()
        operation = document["paths"]["/widgets"]["post"]
        for status in ("400", "401", "403", "404", "409", "413", "422", "429", "503"):
            content = operation["responses"][status]["content"]
            assert list(content) == [PROBLEM], status
            assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
        problem = document["components"]["schemas"]["Problem"]
        assert problem["required"] == ["type", "title", "status", "detail"]
        assert "HTTPValidationError" not in document["components"]["schemas"]

    async def test_a_real_problem_matches_the_documented_schema(self, client: httpx.AsyncClient) -> None:
        document = (await client.get("/openapi.json")).json()
        schema = document["components"]["schemas"]["Problem"]
        body = problem_of(await client.post("/widgets", json={"name": ""}), 422)
        assert set(schema["required"]) <= body.keys()
        assert {e["field"] for e in body["errors"]} == {"name"}


class TestBodyLimit:
    async def test_a_declared_oversize_body_is_413(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/raw", content=b"x" * (MAX_BODY + 1))

        assert response.request.headers["content-length"] == str(MAX_BODY + 1)
        assert problem_of(response, 413)["type"].endswith("/payload-too-large")

    async def test_an_oversize_chunked_body_without_content_length_is_413(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/raw", content=_chunks(8, 512))

        assert "content-length" not in response.request.headers
        assert response.request.headers["transfer-encoding"] == "chunked"
        problem_of(response, 413)

    async def test_an_oversize_chunked_json_body_is_413_not_a_validation_error(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/widgets", content=_chunks(8, 512), headers={"content-type": "application/json"})

        problem_of(response, 413)

    async def test_a_chunked_body_under_the_limit_is_read_whole(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/raw", content=_chunks(3, 512))

        assert response.status_code == 200 and response.json() == {"size": 1536}


def _chunks(count: int, size: int) -> Any:
    async def gen() -> AsyncIterator[bytes]:
        for _ in range(count):
            yield b"y" * size

    return gen()


class TestRequestId:
    async def test_a_given_request_id_is_echoed(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": "gw-3f2a.17:abc"})

        assert response.headers["x-request-id"] == "gw-3f2a.17:abc"

    async def test_a_request_id_is_minted_when_absent(self, client: httpx.AsyncClient) -> None:
        first, second = [(await client.get("/healthz")).headers["x-request-id"] for _ in range(2)]

        assert re.fullmatch(r"[0-9a-f]{32}", first) and first != second

    @pytest.mark.parametrize(
        "unsafe", ["has spaces", "<script>", "a" * 129, "ok\tnot"], ids=["space", "html", "long", "tab"]
    )
    async def test_an_unsafe_request_id_is_replaced(self, client: httpx.AsyncClient, unsafe: str) -> None:
        response = await client.get("/healthz", headers={"X-Request-ID": unsafe})

        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])

    async def test_error_responses_carry_the_request_id_too(self, client: httpx.AsyncClient) -> None:
        headers = {"X-Request-ID": "req-err-1"}
        for response in [
            await client.get("/nowhere", headers=headers),
            await client.post("/widgets", json={}, headers=headers),
            await client.post("/raw", content=b"x" * (MAX_BODY + 1), headers=headers),
        ]:
            assert response.headers["x-request-id"] == "req-err-1", response.status_code

    async def test_the_request_id_travels_into_the_events_the_request_emits(
        self, client: httpx.AsyncClient, database: Database
    ) -> None:
        response = await client.post("/widgets", json={"name": "w-rid"}, headers={"X-Request-ID": "req-to-kafka"})

        assert response.status_code == 201
        async with database.sessionmaker() as session:
            row = (await session.exec(select(OutboxEvent))).one()
        assert row.request_id == "req-to-kafka"


class TestUnitOfWork:
    async def test_the_endpoints_writes_are_committed_before_the_response(
        self, client: httpx.AsyncClient, database: Database
    ) -> None:
        response = await client.post("/widgets", json={"name": "w-committed", "seq": 3})

        assert response.status_code == 201
        # Another connection sees the widget and its event the moment the response is in.
        assert await widget_names(database) == ["w-committed"]
        assert await count_rows(database, OutboxEvent) == 1

    async def test_a_domain_error_rolls_back_the_writes(self, client: httpx.AsyncClient, database: Database) -> None:
        problem_of(await client.post("/widgets/refused", json={"name": "w-refused"}), 409)

        assert await count_rows(database, KitTestWidget) == 0
        assert await count_rows(database, OutboxEvent) == 0

    async def test_a_commit_that_fails_is_409_not_200(self, client: httpx.AsyncClient, database: Database) -> None:
        assert (await client.post("/widgets", json={"name": "w-unique"})).status_code == 201

        # The duplicate is only caught by the UNIQUE constraint, when the unit of work commits.
        body = problem_of(await client.post("/widgets", json={"name": "w-unique"}), 409)

        assert "nothing was saved" in body["detail"]
        assert await widget_names(database) == ["w-unique"]
        assert await count_rows(database, OutboxEvent) == 1, "the refused change's event is gone with it"


class TestHealth:
    async def test_healthz_says_the_process_is_alive(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")

        assert response.status_code == 200 and response.json() == {"status": "ok"}

    async def test_readyz_is_200_when_database_and_broker_answer(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/readyz")

        assert response.status_code == 200
        assert response.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}

    async def test_readyz_is_503_when_the_broker_is_stopped(
        self, database_url: str, own_broker: Callable[[], TansuBroker]
    ) -> None:
        tansu = own_broker()
        async with serve(kit_app(database_url, tansu.bootstrap_servers)) as http:
            assert (await http.get("/readyz")).status_code == 200
            tansu.kill()

            response = await http.get("/readyz")

        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"] == "ok" and checks["broker"].startswith("failing")

    async def test_metrics_are_prometheus_text_with_route_templates(self, client: httpx.AsyncClient) -> None:
        await client.get("/widgets", params={"limit": 1})

        response = await client.get("/metrics")

        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        assert re.search(r'http_requests_total\{method="GET",route="/widgets",status="200"\} [1-9]', response.text)
        assert "outbox_published_total" in response.text or "outbox_pending" in response.text


@pytest.fixture
def own_broker() -> Iterator[Callable[[], TansuBroker]]:
    started: list[TansuBroker] = []

    def start() -> TansuBroker:
        started.append(TansuBroker().start())
        return started[-1]

    yield start
    for tansu in started:
        tansu.stop()
