"""Alembic environment of the housing service."""

import servicekit.idempotency  # registers the kit tables
import servicekit.models  # noqa: F401
from servicekit.migrations import run_env
from sqlmodel import SQLModel

run_env(SQLModel.metadata)
