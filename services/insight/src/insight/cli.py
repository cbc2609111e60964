"""`insight serve|worker|migrate|replay`.

serve, worker and migrate are the kit's. `replay` differs from the other services' (which re-publish their
outbox): insight publishes nothing, so its replay rebuilds the read models from the topics (insight.replay).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from servicekit.cli import run_cli
from servicekit.logging import configure_logging
from servicekit.migrations import upgrade

from insight.config import get_settings
from insight.main import definition
from insight.replay import rebuild

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
PORT = 8005


def _aware(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["replay"]:
        run_cli(definition, get_settings, ALEMBIC_INI, default_port=PORT, argv=args)
        return
    parser = argparse.ArgumentParser(
        prog="insight replay", description="rebuild the read models from the events retained on the topics"
    )
    parser.add_argument("--since", type=_aware, default=None, help="RFC 3339 start (default: the topics' beginning)")
    options = parser.parse_args(args[1:])
    settings = get_settings()
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    settings.refuse_unauthenticated_bus()
    upgrade(ALEMBIC_INI, settings.database_url)
    count = asyncio.run(rebuild(settings, since=options.since))
    print(f"read {count} events from the topics into the insight database")


if __name__ == "__main__":
    main()
