"""Notify test fixtures: a fresh migrated database per test, the app with its consumers on the test broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from notify.config import NotifySettings
from notify.main import build_app
from servicekit.auth import StaticJwks
from servicekit.testing import TansuBroker, TestDatabases, TestKeys, serve_in_process

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"


@pytest.fixture(scope="session")
def notify_databases() -> Iterator[TestDatabases]:
    databases = TestDatabases(ALEMBIC_INI, "notify")
    yield databases
    databases.close()


@pytest.fixture
def notify_settings(notify_databases: TestDatabases, broker: TansuBroker) -> Iterator[NotifySettings]:
    with notify_databases.fresh() as url:
        yield NotifySettings(TALENT_ENV="dev", database_url=url, kafka_bootstrap_servers=broker.bootstrap_servers)


@pytest.fixture
def notify_app(notify_settings: NotifySettings, test_keys: TestKeys) -> FastAPI:
    return build_app(notify_settings, key_source=StaticJwks(test_keys.jwks()), run_workers=False)


@pytest.fixture
async def client(notify_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve_in_process(notify_app) as http:
        yield http


@pytest.fixture
def talent_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def talent(test_keys: TestKeys, talent_id: str) -> dict[str, str]:
    return test_keys.headers(talent_id, ["talent"])
