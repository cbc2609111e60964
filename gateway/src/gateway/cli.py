"""`gateway serve | migrate | rotate-keys | create-official | create-partner | create-employer | purge-dev-accounts`."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import uvicorn
from pydantic import ValidationError
from servicekit.auth import ROLES
from servicekit.logging import configure_logging
from servicekit.migrations import upgrade
from servicekit.problems import DomainError
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import employers, service
from gateway.config import GatewaySettings
from gateway.keys import rotate_signing_keys
from gateway.main import ALEMBIC_INI, create_app
from gateway.metrics import start_metrics_listener
from gateway.runtime import GatewayRuntime
from gateway.schemas import EmployerCreate

T = TypeVar("T")
OFFICIAL_ROLES = tuple(r for r in ROLES if r not in {"talent", "partner"})
PARTNER_KINDS = ("hospital", "transit", "school", "bank", "scenic", "partner_city")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="The talent platform's public gateway.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="migrate the database, then serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-migrate", action="store_true", help="do not migrate the database on start")
    serve.add_argument(
        "--metrics-port", type=int, help="serve Prometheus metrics on this internal port (never publish it)"
    )
    serve.add_argument("--metrics-host", default="127.0.0.1", help="the metrics listener's address")
    commands.add_parser("migrate", help="migrate the database to the latest revision")
    commands.add_parser("rotate-keys", help="add a new signing key; the current one stays published until it retires")
    official = commands.add_parser("create-official", help="create an official's account (password from a prompt)")
    official.add_argument("username")
    official.add_argument("--role", dest="roles", action="append", choices=OFFICIAL_ROLES, required=True)
    official.add_argument("--region", help="the region code a county reviewer is scoped to")
    official.add_argument("--display-name", help="the name talents see on the cases the official owns (首问负责制)")
    official.add_argument("--office-phone", help="an office number talents may call (never a personal phone)")
    partner = commands.add_parser("create-partner", help="create a partner client; prints its secret once")
    partner.add_argument("client_id")
    partner.add_argument("--kind", choices=PARTNER_KINDS, required=True)
    employer = commands.add_parser(
        "create-employer", help="register an employer (用人单位) and its first user (password from a prompt)"
    )
    employer.add_argument("credit_code", help="统一社会信用代码 (GB 32100)")
    employer.add_argument("--name", required=True, help="the employer's registered name")
    employer.add_argument("--region", required=True, help="GB/T 2260 region code (six digits)")
    employer.add_argument("--username", required=True, help="the first user's username")
    commands.add_parser("purge-dev-accounts", help="delete the dev accounts (before running outside dev)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = GatewaySettings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    # httpx logs every upstream call with its full URL at INFO; the gateway logs failures itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.command in {"migrate", "serve"} and not getattr(args, "no_migrate", False):
        upgrade(ALEMBIC_INI, settings.database_url)
    if args.command == "serve":
        if args.metrics_port is not None:
            start_metrics_listener(args.metrics_host, args.metrics_port)
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=None, access_log=False)
    elif args.command == "rotate-keys":
        key = _with_session(
            settings,
            lambda runtime, s: rotate_signing_keys(
                s, runtime.key_sealer, timedelta(seconds=settings.signing_key_retire_after_s)
            ),
        )
        print(
            f"new signing key {key.kid}; the previous key(s) stay published for {settings.signing_key_retire_after_s} s"
        )
    elif args.command == "create-official":
        password = os.environ.get("GATEWAY_NEW_PASSWORD") or getpass.getpass("password: ")
        if len(password) < 12:
            sys.exit("a password needs at least 12 characters")
        account = _with_session(
            settings,
            lambda runtime, s: service.create_official(
                s,
                runtime.auth,
                args.username,
                password,
                args.roles,
                args.region,
                display_name=args.display_name,
                office_phone=args.office_phone,
            ),
        )
        print(f"created official {args.username} (sub {account.id})")
    elif args.command == "create-partner":
        secret = secrets.token_urlsafe(32)
        account = _with_session(
            settings, lambda runtime, s: service.create_partner(s, runtime.auth, args.client_id, secret, args.kind)
        )
        print(f"created partner {args.client_id} (sub {account.id}); client secret, shown once: {secret}")
    elif args.command == "create-employer":
        password = os.environ.get("GATEWAY_NEW_PASSWORD") or getpass.getpass("password: ")
        try:
            body = EmployerCreate(
                credit_code=args.credit_code,
                name=args.name,
                region_code=args.region,
                username=args.username,
                password=password,
            )
        except ValidationError as exc:
            sys.exit("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
        try:
            created = _with_session(
                settings,
                # An operator at the console, not a signed-in admin: the audit entry names the command.
                lambda runtime, s: employers.create_employer(s, runtime.auth, "cli:create-employer", body),
            )
        except DomainError as exc:
            sys.exit(exc.detail)
        print(f"created employer {created.credit_code} (id {created.id}) with user {args.username}")
    elif args.command == "purge-dev-accounts":
        count = _with_session(settings, lambda _runtime, s: service.purge_dev_accounts(s))
        print(f"deleted {count} dev account(s)")


def _with_session(settings: GatewaySettings, work: Callable[[GatewayRuntime, AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        runtime = GatewayRuntime(settings)
        try:
            async with runtime.database.transaction() as session:
                return await work(runtime, session)
        finally:
            await runtime.stop()

    return asyncio.run(run())
