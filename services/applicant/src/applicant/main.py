"""The applicant service: its definition and ASGI app factory."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from servicekit.app import Runtime, ServiceDefinition, create_app
from servicekit.auth import KeySource
from servicekit.crypto import FieldCipher
from servicekit.objectstore import EncryptedStore

from applicant.certification import STAGE_DEADLINE_TIMER
from applicant.codes import CodeKeyRing
from applicant.config import ApplicantSettings, get_settings
from applicant.deadlines import on_stage_deadline
from applicant.documents import build_store, store_open
from applicant.employer import attestation_routes, demand_routes
from applicant.router import internal_router, router
from applicant.rules import RULES
from applicant.scan_log import ScanRecorder
from applicant.service import Protector
from applicant.status_list import StatusListCache, list_uri
from applicant.trust import routes as trust_routes
from applicant.trust.recognition import PartnerKeys
from applicant.trust.status import PartnerStatusLists
from applicant.validity import EXPIRY_TIMER, expire_certification


def code_key_sealer(settings: ApplicantSettings) -> FieldCipher:
    return FieldCipher.from_spec(settings.code_key_encryption_keys.get_secret_value(), associated_data=b"code-key")


def trust_list_sealer(settings: ApplicantSettings) -> FieldCipher:
    # The code keys' sealing keyring, bound to another purpose: a sealed trust-list key cannot pass for a code key.
    return FieldCipher.from_spec(settings.code_key_encryption_keys.get_secret_value(), associated_data=b"trust-key")


def _state(settings: ApplicantSettings) -> Mapping[str, Any]:
    return {
        "protector": Protector.from_settings(settings),
        "documents": build_store(settings),
        "code_keys": CodeKeyRing(
            code_key_sealer(settings),
            reload_s=settings.code_keys_reload_s,
            lifetime=timedelta(seconds=settings.code_lifetime_s),
            reuse=timedelta(seconds=settings.code_reuse_s),
        ),
        "scan_recorder": ScanRecorder.from_settings(settings),
        "status_list": StatusListCache(
            uri=list_uri(settings.public_base_url),
            cache_s=settings.status_list_cache_s,
            ttl_s=settings.status_list_ttl_s,
            valid_s=settings.status_list_valid_s,
            min_bits=settings.status_list_min_bits,
        ),
        "trust_list_sealer": trust_list_sealer(settings),
        "partner_keys": PartnerKeys(
            allow_private=settings.is_dev,
            refetch_min_s=settings.trust_refetch_min_s,
            refresh_s=settings.trust_refresh_s,
            timeout_s=settings.trust_fetch_timeout_s,
            status_lists=PartnerStatusLists(
                allow_private=settings.is_dev,
                refetch_min_s=settings.trust_refetch_min_s,
                timeout_s=settings.trust_fetch_timeout_s,
            ),
        ),
    }


def _partner_keys(runtime: Runtime) -> AbstractAsyncContextManager[PartnerKeys]:
    """Partner cities' code key sets refresh on a schedule while the process serves."""
    keys: PartnerKeys = runtime.state["partner_keys"]
    return keys.running(runtime.database)


def _scan_log(runtime: Runtime) -> AbstractAsyncContextManager[ScanRecorder]:
    """The scan log's writer runs while the process serves, and writes what is left when it stops."""
    recorder: ScanRecorder = runtime.state["scan_recorder"]
    return recorder.running(runtime.database)


def _documents(runtime: Runtime) -> AbstractAsyncContextManager[EncryptedStore]:
    """The documents' store; an S3 store's connections are closed when the process stops."""
    return store_open(runtime.state["documents"])


def definition() -> ServiceDefinition:
    return ServiceDefinition(
        name="applicant",
        title="Applicant service",
        description="Profiles, online certification, talent points and the signed talent code.",
        routers=[router, attestation_routes.router, demand_routes.router, trust_routes.router, internal_router],
        timers={EXPIRY_TIMER: expire_certification, STAGE_DEADLINE_TIMER: on_stage_deadline},
        audit=True,
        state=_state,
        lifespans=[_scan_log, _documents, _partner_keys],
        rulebook=RULES,
    )


def build_app(
    settings: ApplicantSettings | None = None, *, key_source: KeySource | None = None, run_workers: bool | None = None
) -> FastAPI:
    return create_app(definition(), settings or get_settings(), key_source=key_source, run_workers=run_workers)
