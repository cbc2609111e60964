"""Applicant's request dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from servicekit.auth import Principal, require_roles
from servicekit.db import Database
from servicekit.objectstore import EncryptedStore

from applicant.codes import CodeKeyRing
from applicant.config import ApplicantSettings
from applicant.scan_log import ScanRecorder
from applicant.service import Protector
from applicant.status_list import StatusListCache
from applicant.trust.recognition import PartnerKeys


async def get_protector(request: Request) -> Protector:
    protector: Protector = request.app.state.protector
    return protector


async def get_code_keys(request: Request) -> CodeKeyRing:
    """The code keys, reloaded here when stale: before the request's transaction takes any lock."""
    keyring: CodeKeyRing = request.app.state.code_keys
    return await keyring.refresh_if_stale(request.app.state.database)


async def get_scan_recorder(request: Request) -> ScanRecorder:
    recorder: ScanRecorder = request.app.state.scan_recorder
    return recorder


async def get_partner_keys(request: Request) -> PartnerKeys:
    keys: PartnerKeys = request.app.state.partner_keys
    return keys


async def get_status_lists(request: Request) -> StatusListCache:
    cache: StatusListCache = request.app.state.status_list
    return cache


async def get_document_store(request: Request) -> EncryptedStore:
    store: EncryptedStore = request.app.state.documents
    return store


async def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


async def get_settings(request: Request) -> ApplicantSettings:
    settings: ApplicantSettings = request.app.state.settings
    return settings


ProtectorDep = Annotated[Protector, Depends(get_protector)]
CodeKeysDep = Annotated[CodeKeyRing, Depends(get_code_keys)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SettingsDep = Annotated[ApplicantSettings, Depends(get_settings)]
DocumentStoreDep = Annotated[EncryptedStore, Depends(get_document_store)]
ScanRecorderDep = Annotated[ScanRecorder, Depends(get_scan_recorder)]
StatusListDep = Annotated[StatusListCache, Depends(get_status_lists)]
PartnerKeysDep = Annotated[PartnerKeys, Depends(get_partner_keys)]

OfficerPrincipal = Annotated[Principal, Depends(require_roles("county_reviewer", "city_approver"))]
CountyReviewerPrincipal = Annotated[Principal, Depends(require_roles("county_reviewer"))]
CityApproverPrincipal = Annotated[Principal, Depends(require_roles("city_approver"))]
AdminPrincipal = Annotated[Principal, Depends(require_roles("admin"))]
AuditorPrincipal = Annotated[Principal, Depends(require_roles("auditor", "admin"))]

CertificationId = Annotated[str, Path(min_length=1, max_length=64, description="a certification id")]
ChangeRequestId = Annotated[str, Path(min_length=1, max_length=64, description="a change request id")]
DocumentId = Annotated[str, Path(min_length=1, max_length=64, description="a document id")]
FamilyMemberId = Annotated[str, Path(min_length=1, max_length=64, description="a family member id")]
TalentId = Annotated[str, Path(min_length=1, max_length=64, description="a talent id (the gateway's subject)")]
