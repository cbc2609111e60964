"""The insight service: its definition and ASGI app factory."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.app import Runtime, ServiceDefinition, create_app
from servicekit.auth import KeySource

from insight.components import Components
from insight.config import InsightSettings, get_settings
from insight.handlers import fact_handlers
from insight.index import RULES
from insight.router import router
from insight.snapshots import SnapshotKeeper

CONSUMER_GROUP = "facts"


def definition(settings: InsightSettings | None = None) -> ServiceDefinition:
    components = Components.from_settings(settings or get_settings())
    keeper = SnapshotKeeper(components)

    async def keep_summary(runtime: Runtime) -> None:
        await keeper.run(runtime.database)

    return ServiceDefinition(
        name="insight",
        title="Insight service",
        description="The city's talent statistics, built from the other services' events, privacy-safe.",
        routers=[router],
        consumers={CONSUMER_GROUP: fact_handlers(components.pseudonymise, keeper.mark_after_commit)},
        background=[keep_summary],
        state=lambda _: {"components": components},
        rulebook=RULES,
    )


def build_app(
    settings: InsightSettings | None = None, *, key_source: KeySource | None = None, run_workers: bool | None = None
) -> FastAPI:
    settings = settings or get_settings()
    return create_app(definition(settings), settings, key_source=key_source, run_workers=run_workers)
