"""Alembic environment of the applicant service."""

import applicant.employer.models
import applicant.models
import applicant.trust.models  # noqa: F401  (registers the tables)
from servicekit.migrations import run_env
from sqlmodel import SQLModel

run_env(SQLModel.metadata)
