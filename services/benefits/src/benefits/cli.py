"""`benefits serve|worker|migrate|replay`."""

from __future__ import annotations

from pathlib import Path

from servicekit.cli import run_cli

from benefits.config import get_settings
from benefits.main import definition

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def main() -> None:
    run_cli(definition, get_settings, ALEMBIC_INI, default_port=8002)


if __name__ == "__main__":
    main()
