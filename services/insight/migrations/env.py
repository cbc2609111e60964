"""Alembic environment of the insight service."""

import insight.models  # noqa: F401  (registers the tables)
from servicekit.migrations import run_env
from sqlmodel import SQLModel

run_env(SQLModel.metadata)
