"""The benefits service: its definition and ASGI app factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from servicekit.app import ServiceDefinition, create_app
from servicekit.auth import KeySource

from benefits.clock import Clock
from benefits.config import BenefitsSettings, get_settings
from benefits.finance_router import router as finance_router
from benefits.handlers import consumers, timer_handlers
from benefits.router import router
from benefits.rules import RULES
from benefits.settlement_router import router as settlement_router


def definition(settings: BenefitsSettings | None = None) -> ServiceDefinition:
    settings = settings or get_settings()
    clock = Clock.from_settings(settings)

    def state(_: Any) -> Mapping[str, Any]:
        return {"clock": clock}

    return ServiceDefinition(
        name="benefits",
        title="Benefits service",
        description="Policy catalogue, eligibility, one-tap claims, 免申即享 auto-grants, approvals, 公示 and payouts.",
        routers=[router, finance_router, settlement_router],
        consumers=consumers(clock, settings.city_code),
        timers=timer_handlers(clock),
        audit=True,
        rulebook=RULES,
        state=state,
    )


def build_app(
    settings: BenefitsSettings | None = None, *, key_source: KeySource | None = None, run_workers: bool | None = None
) -> FastAPI:
    settings = settings or get_settings()
    return create_app(definition(settings), settings, key_source=key_source, run_workers=run_workers)
