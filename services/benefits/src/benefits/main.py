"""The benefits service: its definition and ASGI app factory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from servicekit.app import Runtime, ServiceDefinition, create_app
from servicekit.auth import KeySource

from benefits.clock import Clock
from benefits.config import BenefitsSettings, get_settings
from benefits.finance_router import router as finance_router
from benefits.handlers import consumers, timer_handlers
from benefits.policies import announce_unannounced
from benefits.router import router
from benefits.rules import RULES
from benefits.settlement_router import router as settlement_router

logger = logging.getLogger("benefits.main")
ANNOUNCE_RETRY_S = 5.0


async def announce_policies(runtime: Runtime) -> None:
    """At the worker's start, announce each current policy version never announced (the seeded ones) to the
    city's statistics; retried until the database answers, then done (later versions announce themselves)."""
    while True:
        try:
            async with runtime.database.transaction() as session:
                codes = await announce_unannounced(session)
        except Exception as exc:
            logger.warning("could not announce the policies yet: %s", exc)
            await asyncio.sleep(ANNOUNCE_RETRY_S)
            continue
        if codes:
            logger.info("announced %d policy versions to the statistics", len(codes))
        return


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
        background=[announce_policies],
        audit=True,
        rulebook=RULES,
        state=state,
    )


def build_app(
    settings: BenefitsSettings | None = None, *, key_source: KeySource | None = None, run_workers: bool | None = None
) -> FastAPI:
    settings = settings or get_settings()
    return create_app(definition(settings), settings, key_source=key_source, run_workers=run_workers)
