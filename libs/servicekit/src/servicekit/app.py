"""The service factory: one FastAPI app and one set of workers (relay, consumers, timers) per service."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from contracts import TOPICS, EventData, dead_letter_topic
from fastapi import APIRouter, FastAPI

from servicekit.audit import audit_router
from servicekit.auth import HttpJwks, KeySource, TokenVerifier, document_roles
from servicekit.consumer import EventConsumer, Handler
from servicekit.db import Database
from servicekit.hardening import NoStoreMiddleware, NulCharacterMiddleware, UrlLengthLimitMiddleware
from servicekit.health import health_router
from servicekit.kafka import KafkaPublisher, ensure_topics
from servicekit.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from servicekit.outbox import OutboxRelay
from servicekit.problems import install_problem_handlers, install_problem_openapi, problem_responses
from servicekit.rulebook import RuleBook
from servicekit.settings import ServiceSettings
from servicekit.timers import TimerHandler, TimerRunner
from servicekit.tracing import NATIVE_TELEMETRY_OFF, TracingMiddleware, configure_tracing, shutdown_tracing

logger = logging.getLogger("servicekit.app")

BackgroundTask = Callable[["Runtime"], Awaitable[None]]
# An in-process resource every process of the service runs while it serves (API and worker alike).
Lifespan = Callable[["Runtime"], AbstractAsyncContextManager[Any]]


@dataclass
class ServiceDefinition:
    """What makes a service: its routers, the events it consumes, and its periodic work."""

    name: str
    title: str
    routers: Sequence[APIRouter]
    # consumer group suffix -> {event data type: handler}; the group id is "<service>.<suffix>".
    consumers: Mapping[str, Mapping[type[EventData], Handler]] = field(default_factory=dict)
    background: Sequence[BackgroundTask] = ()
    # Entered in every process (with or without workers) once the rules are loaded, left at shutdown before
    # the workers stop and the database closes: e.g. a recorder that writes what requests queued.
    lifespans: Sequence[Lifespan] = ()
    # timer kind -> handler; fired by a TimerRunner in the worker (see servicekit.timers).
    timers: Mapping[str, TimerHandler] = field(default_factory=dict)
    # Expose the hash-chained audit log at /api/v1/audit/<name> for auditors.
    audit: bool = False
    # Objects built once per process from the settings (keys, clients), exposed as app.state.<name>.
    state: Callable[[Any], Mapping[str, Any]] | None = None
    # The service's rules as versioned data (servicekit.rulebook), with its admin API.
    rulebook: RuleBook | None = None
    description: str = ""
    version: str = "1.0.0"


class Runtime:
    """The live resources of one service process."""

    def __init__(
        self, definition: ServiceDefinition, settings: ServiceSettings, key_source: KeySource | None = None
    ) -> None:
        self.definition = definition
        self.settings = settings
        self.database = Database(settings.database_url, pool_size=settings.database_pool_size)
        self.publisher = KafkaPublisher(
            settings.kafka_bootstrap_servers,
            security=settings.kafka_security,
            enable_idempotence=settings.kafka_enable_idempotence,
            client_id=settings.kafka_client_id or definition.name,
        )
        self.token_verifier = TokenVerifier(
            key_source or HttpJwks(settings.jwks_url),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
        )
        self.relay = OutboxRelay(
            self.database,
            self.publisher,
            poll_interval_s=settings.outbox_poll_interval_s,
            idle_poll_s=settings.outbox_idle_poll_s,
            idle_check_every_s=settings.outbox_idle_check_every_s,
            retention=timedelta(days=settings.outbox_retention_days),
        )
        self.consumers = [
            EventConsumer(
                self.database,
                self.publisher,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                security=settings.kafka_security,
                group_id=f"{definition.name}.{suffix}",
                handlers=handlers,
                max_attempts=settings.consumer_max_attempts,
                retry_backoff_s=settings.consumer_retry_backoff_s,
                batch_size=settings.consumer_batch_size,
                idle_fetch_wait_ms=settings.kafka_consumer_idle_fetch_wait_ms,
                quiet_after_s=settings.kafka_consumer_quiet_after_s,
                consumer_config={
                    "session_timeout_ms": settings.kafka_consumer_session_timeout_ms,
                    "heartbeat_interval_ms": settings.kafka_consumer_heartbeat_interval_ms,
                },
            )
            for suffix, handlers in definition.consumers.items()
        ]
        self.timer_runner = (
            TimerRunner(self.database, definition.timers, max_sleep_s=settings.timer_max_sleep_s)
            if definition.timers
            else None
        )
        self.state: Mapping[str, Any] = definition.state(settings) if definition.state else {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start_workers(self) -> None:
        """Start the relay, the consumers and the background jobs as tasks of this process."""
        topics = list(TOPICS) + [c.dead_letter_topic for c in self.consumers]
        try:
            await ensure_topics(
                self.settings.kafka_bootstrap_servers,
                topics,
                partitions=self.settings.kafka_topic_partitions,
                replication_factor=self.settings.kafka_topic_replication_factor,
                security=self.settings.kafka_security,
            )
        except Exception as exc:  # the relay and consumers retry on their own; do not block start-up
            logger.warning("could not ensure topics yet: %s", exc)
        self._spawn("outbox-relay", self.relay.run())
        for consumer in self.consumers:
            self._spawn(f"consumer:{consumer.group_id}", consumer.run())
        if self.timer_runner is not None:
            self._spawn("timers", self.timer_runner.run())
        for job in self.definition.background:
            self._spawn(f"job:{getattr(job, '__name__', 'job')}", job(self))

    def _spawn(self, name: str, coroutine: Awaitable[None]) -> None:
        async def guarded() -> None:
            try:
                await coroutine
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("worker %s stopped with an error", name)

        self._tasks.append(asyncio.create_task(guarded(), name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        await self.publisher.stop()
        await self.database.dispose()

    async def check_broker(self) -> None:
        await self.publisher.check()


def create_app(
    definition: ServiceDefinition,
    settings: ServiceSettings,
    *,
    key_source: KeySource | None = None,
    run_workers: bool | None = None,
) -> FastAPI:
    """Build the service's ASGI app; workers run in-process when the settings (or caller) say so."""
    runtime = Runtime(definition, settings, key_source)
    with_workers = settings.workers_in_process if run_workers is None else run_workers

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Before the workers start, so the relay's and consumers' first spans are exported too.
        traced = configure_tracing(definition.name)
        if definition.rulebook is not None:
            # The rules in force before the first request or event (the package's seed is only version 1).
            await definition.rulebook.load(runtime.database)
        if with_workers:
            await runtime.start_workers()
        try:
            async with AsyncExitStack() as lifespans:
                for enter in definition.lifespans:
                    await lifespans.enter_async_context(enter(runtime))
                yield
        finally:
            if definition.rulebook is not None:
                await definition.rulebook.close()
            await runtime.stop()
            if traced:
                shutdown_tracing()

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version=definition.version,
        lifespan=lifespan,
        telemetry=NATIVE_TELEMETRY_OFF,
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.database = runtime.database
    app.state.token_verifier = runtime.token_verifier
    for name, value in runtime.state.items():
        setattr(app.state, name, value)
    app.state.readiness_checks = {"database": runtime.database.ping, "broker": runtime.check_broker}
    install_problem_handlers(app)
    app.add_middleware(NulCharacterMiddleware)  # inside the body limit: it reads bodies that limit bounds
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes, path_limits=settings.body_limits())
    app.add_middleware(UrlLengthLimitMiddleware, max_bytes=settings.max_url_bytes)
    app.add_middleware(NoStoreMiddleware)
    app.add_middleware(RequestContextMiddleware)
    # Outermost: the request's span is current for everything inside, its logs included.
    app.add_middleware(TracingMiddleware)
    app.include_router(health_router())
    # Every operation documents the problem+json answers it may give, so clients and fuzzers can rely on them.
    errors = problem_responses()
    for router in definition.routers:
        app.include_router(router, responses=errors)
    if definition.audit:
        app.include_router(audit_router(definition.name), responses=errors)
    if definition.rulebook is not None:
        definition.rulebook.bind(runtime.database)
        if definition.routers:  # a worker (no public routes) reads the rules but offers no API to change them
            app.include_router(definition.rulebook.router(), responses=errors)
    # Every operation says who may call it (x-roles / x-public), from its own role dependencies.
    document_roles(app)
    install_problem_openapi(app)
    return app


__all__ = ["Runtime", "ServiceDefinition", "create_app", "dead_letter_topic"]
