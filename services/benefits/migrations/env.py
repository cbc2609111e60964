"""Alembic environment of the benefits service."""

import benefits.models  # noqa: F401  (registers the tables)
from servicekit.migrations import run_env
from sqlmodel import SQLModel

run_env(SQLModel.metadata)
