"""A database error becomes the answer the caller can act on: a database that cannot serve now is a 503 to retry,
a value it cannot store is the caller's 422, anything else a 500 — never the statement or its values."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from servicekit.problems import install_problem_handlers
from sqlalchemy.exc import DBAPIError


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"driver error {sqlstate}")
        self.sqlstate = sqlstate


def _app(sqlstate: str) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/fails")
    async def fails() -> None:
        raise DBAPIError("SELECT secret", {"phone": "13800000000"}, _DriverError(sqlstate))

    return app


@pytest.mark.parametrize(
    ("sqlstate", "status"),
    [
        ("53300", 503),  # too many connections
        ("57P03", 503),  # cannot connect now (starting up)
        ("08006", 503),  # connection failure
        ("22021", 422),  # a character the column cannot hold
        ("42P01", 500),  # a missing table: our fault
    ],
)
async def test_a_database_error_is_answered_by_what_the_caller_can_do(sqlstate: str, status: int) -> None:
    transport = httpx.ASGITransport(app=_app(sqlstate), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.get("/fails")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (response.headers.get("retry-after") == "1") is (status == 503)
    assert "13800000000" not in response.text and "SELECT" not in response.text
