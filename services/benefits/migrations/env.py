"""Alembic environment of the benefits service."""

from servicekit.migrations import run_env
from sqlmodel import SQLModel

run_env(SQLModel.metadata)
