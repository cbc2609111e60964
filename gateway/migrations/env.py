"""Alembic environment of the gateway: the kit's async env over the gateway's own (gw_) tables."""

import gateway.models  # noqa: F401  (registers the gw_ tables on the shared metadata)
from servicekit.db import NAMING_CONVENTION
from servicekit.migrations import run_env
from sqlalchemy import MetaData
from sqlmodel import SQLModel

# SQLModel shares one metadata across the repository (the kit's outbox tables too); the gateway owns
# its gw_ tables and two of the kit's, so autogenerate compares against those alone.
KIT_TABLES = frozenset({"idempotency_record", "audit_log"})
target_metadata = MetaData(naming_convention=NAMING_CONVENTION)
for table in SQLModel.metadata.tables.values():
    if table.name.startswith("gw_") or table.name in KIT_TABLES:
        table.to_metadata(target_metadata)

run_env(target_metadata)
