"""The pytest fixtures that every service's tests declare the same way, made with one call.

For each test: a fresh copy of the service's migrated database, the service's settings on it and on the
session's broker, the app built from those settings with the test keys, and an HTTP client over the app
with its lifespan running. A service's conftest.py assigns them to module-level names, which pytest finds:

    TESTBED = ServiceTestbed("housing", HousingSettings, build_app, ALEMBIC_INI)
    housing_databases, housing_settings, housing_app, client, settings_overrides = TESTBED.fixtures()

The fixtures rely on `broker` and `test_keys` from the repository's root conftest.py. A test module or class
changes the settings of its tests by overriding `settings_overrides` (a dict of settings values).
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Generic, Literal, NamedTuple, Protocol, TypeVar

import httpx
import pytest
from fastapi import FastAPI

from servicekit.auth import KeySource, StaticJwks
from servicekit.settings import ServiceSettings
from servicekit.testing import TansuBroker, TestDatabases, TestKeys, serve_in_process

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)
SettingsT_contra = TypeVar("SettingsT_contra", bound=ServiceSettings, contravariant=True)

# Settings values every test gets; a callable is given the test's tmp_path (for files of the test's own).
SettingsDefaults = Mapping[str, Any] | Callable[[Path], Mapping[str, Any]]


class AppBuilder(Protocol[SettingsT_contra]):
    """A service's `build_app`."""

    def __call__(
        self, settings: SettingsT_contra, *, key_source: KeySource | None = ..., run_workers: bool | None = ...
    ) -> FastAPI: ...


class ServiceFixtures(NamedTuple):
    """Pytest fixtures; pytest finds each under the name it is assigned to in a conftest.py."""

    databases: object  # "<service>_databases" (session): the migrated template, a fresh copy per test
    settings: object  # "<service>_settings": the settings on a fresh database and the session's broker
    app: object  # "<service>_app": the app built from those settings, trusting the test keys, no workers
    client: object  # "client": an httpx.AsyncClient over the app, its lifespan running
    settings_overrides: object  # "settings_overrides": {} unless a test module or class overrides it


class ServiceTestbed(Generic[SettingsT]):
    """What a service's tests need to stand it up: its name, settings class, build_app and migrations."""

    def __init__(
        self,
        name: str,
        settings_class: type[SettingsT],
        build_app: AppBuilder[SettingsT],
        alembic_ini: Path,
        *,
        defaults: SettingsDefaults | None = None,
    ) -> None:
        self.name = name
        self.settings_class = settings_class
        self.build_app = build_app
        self.alembic_ini = alembic_ini
        self.defaults = defaults

    def settings(
        self, database_url: str, broker: TansuBroker, tmp_path: Path | None = None, **overrides: Any
    ) -> SettingsT:
        """Dev settings on `database_url` and `broker`: the testbed's defaults, then `overrides` on top.

        `tmp_path` (the test's own folder) is needed when the defaults are a callable.
        """
        defaults = self.defaults or {}
        if callable(defaults):
            if tmp_path is None:
                raise TypeError(f"the {self.name} testbed's defaults need the test's tmp_path")
            defaults = defaults(tmp_path)
        values: dict[str, Any] = {
            "TALENT_ENV": "dev",
            "database_url": database_url,
            "kafka_bootstrap_servers": broker.bootstrap_servers,
            **defaults,
            **overrides,
        }
        return self.settings_class(**values)

    def app(self, settings: SettingsT, keys: TestKeys) -> FastAPI:
        """The app as tests drive it: tokens signed by `keys`, and the background workers left to the test."""
        return self.build_app(settings, key_source=StaticJwks(keys.jwks()), run_workers=False)

    def fixtures(self) -> ServiceFixtures:
        """The standard fixtures of this service's tests (see ServiceFixtures for their names)."""
        databases, settings, app = (f"{self.name}_{part}" for part in ("databases", "settings", "app"))
        needs_tmp_path = ["tmp_path"] if callable(self.defaults) else []

        def settings_fixture(**given: Any) -> Iterator[SettingsT]:
            with given[databases].fresh() as url:
                yield self.settings(url, given["broker"], given.get("tmp_path"), **given["settings_overrides"])

        def app_fixture(**given: Any) -> FastAPI:
            return self.app(given[settings], given["test_keys"])

        async def client_fixture(**given: Any) -> AsyncIterator[httpx.AsyncClient]:
            async with serve_in_process(given[app]) as http:
                yield http

        def settings_overrides() -> dict[str, Any]:
            """Override in a test module or class to change the app's settings (e.g. an SMTP server)."""
            return {}

        return ServiceFixtures(
            databases=databases_fixture(self.name, self.alembic_ini),
            settings=_fixture(settings, settings_fixture, databases, "broker", "settings_overrides", *needs_tmp_path),
            app=_fixture(app, app_fixture, settings, "test_keys"),
            client=_fixture("client", client_fixture, app),
            settings_overrides=_fixture("settings_overrides", settings_overrides),
        )


def databases_fixture(name: str, alembic_ini: Path) -> object:
    """The session fixture "<name>_databases": migrates a template once, then `.fresh()` copies it per test."""

    def databases() -> Iterator[TestDatabases]:
        instance = TestDatabases(alembic_ini, name)
        yield instance
        instance.close()

    return _fixture(f"{name}_databases", databases, scope="session")


class TalentFixtures(NamedTuple):
    talent_id: object  # "talent_id": a fresh talent id per test
    talent: object  # "talent": that talent's Authorization headers, signed with the test keys


def talent_fixtures() -> TalentFixtures:
    """The fixtures of a signed-in talent: `talent_id, talent = talent_fixtures()` in a conftest.py."""

    def talent_id() -> str:
        return str(uuid.uuid4())

    def talent(test_keys: TestKeys, talent_id: str) -> dict[str, str]:
        return test_keys.headers(talent_id, ["talent"])

    return TalentFixtures(talent_id=pytest.fixture(talent_id), talent=pytest.fixture(talent))


def _fixture(
    name: str, function: Callable[..., Any], *needs: str, scope: Literal["function", "session"] = "function"
) -> object:
    """`function` as the pytest fixture `name`, given the fixtures `needs` as keyword arguments.

    pytest reads a fixture's dependencies from its function's parameter names; these names depend on the
    service (benefits_settings needs benefits_databases), so they are set on the signature, not written.
    Static dependencies, unlike request.getfixturevalue, keep the order in which pytest sets fixtures up.
    """
    parameters = [inspect.Parameter(need, inspect.Parameter.KEYWORD_ONLY) for need in needs]
    function.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    return pytest.fixture(name=name, scope=scope)(function)
