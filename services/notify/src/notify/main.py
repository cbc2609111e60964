"""The notify service: its definition and ASGI app factory."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.app import ServiceDefinition, create_app
from servicekit.auth import KeySource

from notify.components import Components
from notify.config import NotifySettings, get_settings
from notify.handlers import inbox_handlers, partner_handlers, timer_handlers
from notify.officials import official_handlers, official_timers
from notify.one_time_codes import internal_router
from notify.router import admin_router, official_router, partner_router, router
from notify.webhooks import DeliveryWorker


def definition(settings: NotifySettings | None = None) -> ServiceDefinition:
    components = Components.from_settings(settings or get_settings())
    return ServiceDefinition(
        name="notify",
        title="Notify service",
        description="Inbox, SMS, e-mail and signed partner webhooks.",
        routers=[router, official_router, partner_router, admin_router, internal_router],
        # Separate groups: a partner fan-out that retries never holds up anyone's inbox.
        # The officials' inbox is a group of its own too (notify.officials).
        consumers={
            "inbox": inbox_handlers(components),
            "partners": partner_handlers(components),
            "officials": official_handlers(components),
        },
        timers={**timer_handlers(components), **official_timers(components)},
        background=[DeliveryWorker(components).run],
        state=lambda _: {"components": components},
        audit=True,
    )


def build_app(
    settings: NotifySettings | None = None, *, key_source: KeySource | None = None, run_workers: bool | None = None
) -> FastAPI:
    settings = settings or get_settings()
    return create_app(definition(settings), settings, key_source=key_source, run_workers=run_workers)
