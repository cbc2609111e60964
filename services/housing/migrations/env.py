"""Alembic environment of the housing service."""

from servicekit.migrations import run_env
from sqlmodel import SQLModel

run_env(SQLModel.metadata)
