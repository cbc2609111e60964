"""Alembic environment of the benefits service."""

import servicekit.idempotency  # registers the kit tables
import servicekit.models  # noqa: F401
from servicekit.migrations import run_env
from sqlmodel import SQLModel

run_env(SQLModel.metadata)
