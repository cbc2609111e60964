"""`make routes`: write the gateway's route table, gateway/src/gateway/routes.generated.json, from the services.

Each service's app is built (its build_app, never started: no database, broker or network is touched) and its
OpenAPI document read: servicekit marks every operation with who may call it (x-roles, or x-public), from the
operation's own role dependencies. The operations below /api/v1 go into the file (gateway.routetable); the
gateway derives its prefixes and role rules from it. A gateway test runs `generate()` and fails when the
committed file differs.

The gateway's own operations that need a token (registering employers, its audit log: gateway.admin) are in
the file too, under the service name `gateway`, read the same way from their own OpenAPI document: the role
rules and the security suite cover them like the services'. Its sign-in endpoints are not: they are public,
the front door itself, and no role rule applies to them.

    uv run --frozen python scripts/generate_routes.py [--check]
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import sys
import tempfile
from pathlib import Path
from typing import Any

from gateway.admin import own_openapi
from gateway.routetable import GATEWAY, render_table, table_from_openapi
from servicekit.auth import StaticJwks

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "gateway" / "src" / "gateway" / "routes.generated.json"
COMMAND = "make routes"


def service_names() -> list[str]:
    """Every service of the workspace: services/<name>/src/<name>/main.py."""
    services = ROOT / "services"
    return sorted(p.name for p in services.iterdir() if (p / "src" / p.name / "main.py").is_file())


def openapi_document(name: str) -> dict[str, Any]:
    """The service's OpenAPI document, from its app as build_app makes it (dev settings, nothing started)."""
    main = importlib.import_module(f"{name}.main")
    config = importlib.import_module(f"{name}.config")
    settings_class = getattr(config, f"{name.capitalize()}Settings")
    with tempfile.TemporaryDirectory() as scratch:  # the database is never opened; just not ./var
        settings = settings_class(TALENT_ENV="dev", database_url=f"sqlite+aiosqlite:///{scratch}/{name}.db")
        app = main.build_app(settings, key_source=StaticJwks({"keys": []}), run_workers=False)
        document: dict[str, Any] = app.openapi()
    return document


def generate() -> str:
    """The text routes.generated.json should have now."""
    documents = {name: openapi_document(name) for name in service_names()}
    documents[GATEWAY] = own_openapi()
    return render_table(table_from_openapi(documents))


def stale_diff(current: str, wanted: str) -> str:
    return "".join(difflib.unified_diff(current.splitlines(True), wanted.splitlines(True), "committed", "services"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only say whether the file is up to date")
    args = parser.parse_args(argv)
    wanted = generate()
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    shown = TARGET.relative_to(ROOT)
    if current == wanted:
        print(f"{shown} is up to date")
        return 0
    if args.check:
        print(f"{shown} is out of date; run `{COMMAND}`:\n{stale_diff(current, wanted)}", file=sys.stderr)
        return 1
    TARGET.write_text(wanted, encoding="utf-8")
    print(f"wrote {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
