"""Every deployable's migrations build exactly the schema its models describe (no drift)."""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from servicekit.migrations import upgrade
from servicekit.rulebook import RuleBook
from sqlmodel import SQLModel

ROOT = Path(__file__).resolve().parents[1]
DEPLOYABLES = {
    "applicant": ROOT / "services/applicant/alembic.ini",
    "benefits": ROOT / "services/benefits/alembic.ini",
    "housing": ROOT / "services/housing/alembic.ini",
    "insight": ROOT / "services/insight/alembic.ini",
    "notify": ROOT / "services/notify/alembic.ini",
    "gateway": ROOT / "gateway/alembic.ini",
}
KIT_MODULES = ("servicekit.models", "servicekit.idempotency", "servicekit.timers", "servicekit.audit")


def _rulebook_of(package: str) -> tuple[str, ...]:
    """The kit's rule_version table belongs to a service that keeps its rules in a RuleBook (`<svc>.rules.RULES`)."""
    try:
        rules = importlib.import_module(f"{package}.rules")
    except ModuleNotFoundError:
        return ()
    return ("servicekit.rulebook",) if isinstance(getattr(rules, "RULES", None), RuleBook) else ()


def _tables_of(package: str) -> set[str]:
    """Tables whose model classes live in this package (or in the kit, for services)."""
    with contextlib.suppress(ModuleNotFoundError):  # a service with only the kit tables so far
        importlib.import_module(f"{package}.models")
    # Tables of a subpackage (applicant.employer.models) are the package's too.
    for found in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}."):
        if found.name.endswith(".models"):
            importlib.import_module(found.name)
    # The gateway keeps the kit's idempotency records and audit chain for its own admin operations.
    gateway_kit = ("servicekit.idempotency", "servicekit.audit")
    owners = (package, *gateway_kit) if package == "gateway" else (package, *KIT_MODULES, *_rulebook_of(package))
    for module in KIT_MODULES:
        importlib.import_module(module)
    tables = set()
    for mapper in SQLModel._sa_registry.mappers:
        if mapper.class_.__module__.startswith(owners) and mapper.local_table is not None:
            tables.add(mapper.local_table.name)
    return tables


@pytest.mark.parametrize("name", sorted(DEPLOYABLES))
def test_migrations_match_the_models(name: str, tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    upgrade(DEPLOYABLES[name], url)
    owned = _tables_of(name)
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_object": lambda obj, n, kind, *_: kind != "table" or n in owned},
        )
        diff = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert diff == [], f"{name}: models and migrations differ: {diff}"
