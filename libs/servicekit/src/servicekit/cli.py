"""The command line every service shares: serve, worker, migrate, replay."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import uvicorn

from servicekit.app import ServiceDefinition, create_app
from servicekit.db import Database
from servicekit.kafka import KafkaPublisher
from servicekit.logging import configure_logging
from servicekit.migrations import upgrade
from servicekit.outbox import replay
from servicekit.settings import ServiceSettings


def _aware(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def run_cli(
    definition_factory: Callable[[], ServiceDefinition],
    settings_factory: Callable[[], ServiceSettings],
    alembic_ini: Path,
    *,
    default_port: int,
    argv: list[str] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=alembic_ini.parent.name)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP API (and the workers when configured)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=default_port)
    serve.add_argument("--no-migrate", action="store_true", help="do not migrate the database on start")
    worker = commands.add_parser(
        "worker", help="run the outbox relay, consumers and timers only (health and metrics on --port)"
    )
    worker.add_argument("--host", default="127.0.0.1")
    worker.add_argument("--port", type=int, default=default_port + 1000, help="port of /healthz, /readyz, /metrics")
    commands.add_parser("migrate", help="migrate the database to the latest revision")
    replay_cmd = commands.add_parser("replay", help="re-publish retained outbox events created in a time range")
    replay_cmd.add_argument("--since", type=_aware, required=True, help="RFC 3339 start (inclusive)")
    replay_cmd.add_argument("--until", type=_aware, default=datetime.now(UTC), help="RFC 3339 end (exclusive)")
    args = parser.parse_args(argv)

    settings = settings_factory()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    if args.command in {"serve", "worker", "replay"}:
        settings.refuse_unauthenticated_bus()
    if args.command in {"migrate", "serve"} and not getattr(args, "no_migrate", False):
        upgrade(alembic_ini, settings.database_url)
    if args.command == "serve":
        app = create_app(definition_factory(), settings)
        uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)
    elif args.command == "worker":
        # The same app without the public routes: uvicorn gives the worker graceful SIGTERM handling,
        # and probes and Prometheus get /healthz, /readyz and /metrics.
        workers_only = dataclasses.replace(definition_factory(), routers=[], audit=False)
        app = create_app(workers_only, settings, run_workers=True)
        uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)
    elif args.command == "replay":
        asyncio.run(_replay(settings, args.since, args.until))


async def _replay(settings: ServiceSettings, since: datetime, until: datetime) -> None:
    database = Database(settings.database_url)
    publisher = KafkaPublisher(
        settings.kafka_bootstrap_servers,
        security=settings.kafka_security,
        enable_idempotence=settings.kafka_enable_idempotence,
    )
    try:
        count = await replay(database, publisher, since=since, until=until)
        print(f"re-published {count} events created in [{since.isoformat()}, {until.isoformat()})")
    finally:
        await publisher.stop()
        await database.dispose()
