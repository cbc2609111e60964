"""Alembic environment of the applicant service."""

import applicant.employer.models
import applicant.models  # noqa: F401  (registers the tables)
import applicant.trust.models
from servicekit.migrations import run_env
from sqlmodel import SQLModel

run_env(SQLModel.metadata)
