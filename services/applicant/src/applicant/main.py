"""The applicant service: its definition and ASGI app factory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from servicekit.app import ServiceDefinition, create_app
from servicekit.auth import KeySource

from applicant.config import ApplicantSettings, get_settings
from applicant.router import router
from applicant.service import Protector


def _state(settings: ApplicantSettings) -> Mapping[str, Any]:
    return {"protector": Protector.from_settings(settings)}


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="applicant",
        title="Applicant service",
        description="Profiles, online certification, talent points and the signed talent code.",
        routers=[router],
        state=_state,
    )


def build_app(
    settings: ApplicantSettings | None = None, *, key_source: KeySource | None = None, run_workers: bool | None = None
) -> FastAPI:
    return create_app(definition(), settings or get_settings(), key_source=key_source, run_workers=run_workers)
