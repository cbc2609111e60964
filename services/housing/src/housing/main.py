"""The housing service: its definition and ASGI app factory."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.app import ServiceDefinition, create_app
from servicekit.auth import KeySource

from housing.config import HousingSettings, get_settings
from housing.handlers import READ_MODEL_HANDLERS, TIMERS
from housing.router import router
from housing.rules import RULES


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="housing",
        title="Housing service",
        description="Talent apartments, allocation rounds with a verifiable draw, offers and leases.",
        routers=[router],
        consumers={"talents": READ_MODEL_HANDLERS},
        timers=TIMERS,
        audit=True,
        rulebook=RULES,
    )


def build_app(
    settings: HousingSettings | None = None, *, key_source: KeySource | None = None, run_workers: bool | None = None
) -> FastAPI:
    return create_app(definition(), settings or get_settings(), key_source=key_source, run_workers=run_workers)
