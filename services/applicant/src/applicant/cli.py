"""`applicant serve|worker|migrate|replay|rotate-code-key|rotate-trust-list-key`."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from servicekit.cli import run_cli
from servicekit.db import Database
from servicekit.migrations import upgrade

from applicant.codes import rotate_code_keys
from applicant.config import ApplicantSettings, get_settings
from applicant.main import code_key_sealer, definition, trust_list_sealer
from applicant.trust.signing import rotate_trust_keys

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
ROTATE_CODE_KEY = "rotate-code-key"
ROTATE_TRUST_LIST_KEY = "rotate-trust-list-key"


def rotate_code_key(settings: ApplicantSettings) -> str:
    """Add a new talent-code signing key; the previous one stays published until it retires."""

    async def run() -> str:
        database = Database(settings.database_url)
        try:
            async with database.transaction() as session:
                retire_after = timedelta(seconds=settings.code_key_retire_after_s)
                key = await rotate_code_keys(session, code_key_sealer(settings), retire_after)
                return key.kid
        finally:
            await database.dispose()

    upgrade(ALEMBIC_INI, settings.database_url)
    return asyncio.run(run())


def rotate_trust_list_key(settings: ApplicantSettings) -> str:
    """Add a new trust-list signing key; the previous one stays published (lists it signed verify) until it retires."""

    async def run() -> str:
        database = Database(settings.database_url)
        try:
            async with database.transaction() as session:
                retire_after = timedelta(seconds=settings.trust_key_retire_after_s)
                key = await rotate_trust_keys(session, trust_list_sealer(settings), retire_after)
                return key.kid
        finally:
            await database.dispose()

    upgrade(ALEMBIC_INI, settings.database_url)
    return asyncio.run(run())


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == [ROTATE_CODE_KEY]:
        settings = get_settings()
        kid = rotate_code_key(settings)
        print(
            f"new talent-code key {kid}; the previous key(s) stay published for {settings.code_key_retire_after_s} s "
            f"(running replicas pick it up within {settings.code_keys_reload_s:g} s)"
        )
        return
    if args[:1] == [ROTATE_TRUST_LIST_KEY]:
        settings = get_settings()
        kid = rotate_trust_list_key(settings)
        print(f"new trust-list key {kid}; the previous key(s) stay published for {settings.trust_key_retire_after_s} s")
        return
    run_cli(definition, get_settings, ALEMBIC_INI, default_port=8001, argv=argv)


if __name__ == "__main__":
    main()
