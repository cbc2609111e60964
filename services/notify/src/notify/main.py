"""The notify service: its definition and ASGI app factory."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.app import ServiceDefinition, create_app
from servicekit.auth import KeySource

from notify.config import NotifySettings, get_settings
from notify.handlers import INBOX_HANDLERS
from notify.router import router


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="notify",
        title="Notify service",
        description="Inbox, SMS, e-mail and signed partner webhooks.",
        routers=[router],
        consumers={"inbox": INBOX_HANDLERS},
    )


def build_app(
    settings: NotifySettings | None = None, *, key_source: KeySource | None = None, run_workers: bool | None = None
) -> FastAPI:
    return create_app(definition(), settings or get_settings(), key_source=key_source, run_workers=run_workers)
