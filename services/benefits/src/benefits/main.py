"""The benefits service: its definition and ASGI app factory."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.app import ServiceDefinition, create_app
from servicekit.auth import KeySource

from benefits.config import BenefitsSettings, get_settings
from benefits.router import router


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="benefits",
        title="Benefits service",
        description="Policy catalogue, eligibility, one-tap claims, 免申即享 auto-grants, approvals, 公示 and payouts.",
        routers=[router],
    )


def build_app(
    settings: BenefitsSettings | None = None, *, key_source: KeySource | None = None, run_workers: bool | None = None
) -> FastAPI:
    return create_app(definition(), settings or get_settings(), key_source=key_source, run_workers=run_workers)
