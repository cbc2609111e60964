"""Applicant endpoints (thin: the rules live in service.py, certification.py, review.py, validity.py and
verification.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from servicekit.auth import PartnerPrincipal, TalentPrincipal
from servicekit.db import SessionDep
from servicekit.idempotency import IdempotencyKey, run_idempotent
from servicekit.pagination import Page, PageDep
from servicekit.problems import problem_responses
from starlette.background import BackgroundTask

from applicant import (
    access_log,
    certification,
    changes,
    corrections,
    documents,
    officers,
    review,
    service,
    status_list,
    validity,
    verification,
)
from applicant.codes import rotate_code_keys
from applicant.contact import verified_phone
from applicant.dependencies import (
    AdminPrincipal,
    AuditorPrincipal,
    CertificationId,
    ChangeRequestId,
    CityApproverPrincipal,
    CodeKeysDep,
    CountyReviewerPrincipal,
    DatabaseDep,
    DocumentId,
    DocumentStoreDep,
    FamilyMemberId,
    OfficerPrincipal,
    PartnerKeysDep,
    ProtectorDep,
    ScanRecorderDep,
    SettingsDep,
    StatusListDep,
    TalentId,
)
from applicant.schemas import (
    AccessLogAuditEntry,
    AccessLogEntryPublic,
    CertificationCreate,
    CertificationForReview,
    CertificationPublic,
    CertificationResubmit,
    ChangeDecisionCreate,
    ChangeRequestCreate,
    ChangeRequestForReview,
    ChangeRequestPublic,
    ChangeReviewFilter,
    CodeKeyRotated,
    CodePublic,
    DecisionCreate,
    DocumentKind,
    DocumentPublic,
    FamilyMemberCreate,
    FamilyMemberPublic,
    FamilyMembersPublic,
    IdentityCorrectionCreate,
    IdentityCorrectionPublic,
    OfficerAssign,
    ProfilePublic,
    ProfileUpdate,
    ReinstateRequest,
    ReviewFilter,
    RevokeRequest,
    TalentPublic,
    VerifyRequest,
    VerifyResult,
)

router = APIRouter(prefix="/api/v1", tags=["applicant"])
# Not in the OpenAPI document: the gateway does not route it; it reads it itself (and so may partners offline).
internal_router = APIRouter(tags=["internal"], include_in_schema=False)

# A code is a credential: neither browsers nor proxies may keep a copy.
NO_STORE = {"Cache-Control": "no-store"}


# --- profile and family -------------------------------------------------------------------------------


@router.put("/me/profile", response_model=ProfilePublic)
async def put_profile(
    body: ProfileUpdate, session: SessionDep, principal: TalentPrincipal, protector: ProtectorDep
) -> ProfilePublic:
    """Create or replace your profile (the first one registers you)."""
    profile = await service.put_profile(session, principal.sub, body, protector, verified_phone(principal))
    return await service.profile_public(session, profile)


@router.get("/me/profile", response_model=ProfilePublic)
async def get_profile(session: SessionDep, principal: TalentPrincipal) -> ProfilePublic:
    """Your profile, with the identity number masked."""
    return await service.profile_public(session, await service.get_profile(session, principal.sub))


@router.get("/me/talent", response_model=TalentPublic)
async def get_talent(session: SessionDep, principal: TalentPrincipal) -> TalentPublic:
    """Your talent status: tier, points, certification validity."""
    return validity.talent_public(await service.get_talent(session, principal.sub))


@router.get("/me/family", response_model=FamilyMembersPublic)
async def list_family(session: SessionDep, principal: TalentPrincipal) -> FamilyMembersPublic:
    """Your registered family members (spouse, children, parents), identity numbers masked."""
    members = await service.list_family(session, principal.sub)
    return FamilyMembersPublic(items=[service.family_member_public(m) for m in members])


@router.post("/me/family", response_model=FamilyMemberPublic, status_code=201)
async def add_family_member(
    body: FamilyMemberCreate,
    session: SessionDep,
    principal: TalentPrincipal,
    protector: ProtectorDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Register a spouse, child or parent, so benefits can reach them."""

    async def create() -> FamilyMemberPublic:
        member = await service.add_family_member(session, principal.sub, body, protector)
        return service.family_member_public(member)

    return await run_idempotent(
        session, principal, idempotency_key, operation="POST /api/v1/me/family", body=body, create=create
    )


@router.delete("/me/family/{member_id}", status_code=204)
async def remove_family_member(member_id: FamilyMemberId, session: SessionDep, principal: TalentPrincipal) -> Response:
    """Remove one of your family members."""
    await service.remove_family_member(session, principal.sub, member_id)
    return Response(status_code=204)


# --- certification: the talent's side ------------------------------------------------------------------


@router.post("/me/certifications", response_model=CertificationPublic, status_code=201)
async def submit_certification(
    body: CertificationCreate, session: SessionDep, principal: TalentPrincipal, idempotency_key: IdempotencyKey = None
) -> Any:
    """Apply for a tier with evidence; the county of your profile's region reviews it first."""

    async def create() -> CertificationPublic:
        submitted = await certification.submit(session, principal.sub, body)
        return await certification.get_mine(session, principal.sub, submitted.id)

    return await run_idempotent(
        session, principal, idempotency_key, operation="POST /api/v1/me/certifications", body=body, create=create
    )


@router.get("/me/certifications", response_model=Page[CertificationPublic])
async def list_certifications(
    session: SessionDep, principal: TalentPrincipal, page: PageDep
) -> Page[CertificationPublic]:
    """Your certifications, newest first, with their decisions."""
    return await certification.list_mine(session, principal.sub, page)


@router.get("/me/certifications/{certification_id}", response_model=CertificationPublic)
async def get_certification(
    certification_id: CertificationId, session: SessionDep, principal: TalentPrincipal
) -> CertificationPublic:
    """One of your certifications, with its evidence and decisions."""
    return await certification.get_mine(session, principal.sub, certification_id)


@router.post("/me/certifications/{certification_id}/resubmit", response_model=CertificationPublic)
async def resubmit_certification(
    certification_id: CertificationId, body: CertificationResubmit, session: SessionDep, principal: TalentPrincipal
) -> CertificationPublic:
    """Send a returned (补正) certification back for review, with corrected evidence."""
    resubmitted = await certification.resubmit(session, principal.sub, certification_id, body)
    return await certification.get_mine(session, principal.sub, resubmitted.id)


# --- certification: the officers' side ------------------------------------------------------------------


@router.get("/reviews/certifications", response_model=Page[CertificationForReview])
async def review_queue(
    session: SessionDep,
    principal: OfficerPrincipal,
    page: PageDep,
    status: Annotated[ReviewFilter, Query(description="pending: what you may decide now")] = "pending",
    overdue: Annotated[
        bool, Query(description="only certifications escalated because their stage's deadline passed")
    ] = False,
) -> Page[CertificationForReview]:
    """Your review queue: a county reviewer's region's first reviews, or the city's second reviews, oldest
    first; `overdue=true` keeps only the escalated ones (their stage's deadline passed)."""
    return await review.review_queue(session, principal, status, page, overdue=overdue)


@router.get("/reviews/certifications/{certification_id}", response_model=CertificationForReview)
async def get_for_review(
    certification_id: CertificationId, session: SessionDep, principal: OfficerPrincipal
) -> CertificationForReview:
    """One certification in your scope, with the applicant's summary, evidence and decisions."""
    return await review.get_for_review(session, principal, certification_id)


@router.post("/reviews/certifications/{certification_id}/decisions", response_model=CertificationForReview)
async def decide_certification(
    certification_id: CertificationId,
    body: DecisionCreate,
    session: SessionDep,
    principal: OfficerPrincipal,
    settings: SettingsDep,
) -> CertificationForReview:
    """Approve, reject or return (补正) a certification at the stage it waits for."""
    return await review.decide(session, principal, certification_id, body, settings.issuing_city)


@router.post("/reviews/certifications/{certification_id}/officer", response_model=CertificationForReview)
async def reassign_certification_officer(
    certification_id: CertificationId, body: OfficerAssign, session: SessionDep, principal: CityApproverPrincipal
) -> CertificationForReview:
    """Hand a certification to another official (首问负责制: the talent sees the new owner's name and phone)."""
    [view] = await certification.for_review(
        session, [await officers.reassign(session, principal, certification_id, body)]
    )
    return view


# --- change requests and identity corrections ----------------------------------------------------------


@router.post("/me/change-requests", response_model=ChangeRequestPublic, status_code=201)
async def submit_change_request(
    body: ChangeRequestCreate, session: SessionDep, principal: TalentPrincipal, idempotency_key: IdempotencyKey = None
) -> Any:
    """Ask your county reviewer to change locked facts (education, title, insurance, employer, region, home)."""

    async def create() -> ChangeRequestPublic:
        request = await changes.submit(session, principal.sub, body)
        return await changes.get_mine(session, principal.sub, request.id)

    return await run_idempotent(
        session, principal, idempotency_key, operation="POST /api/v1/me/change-requests", body=body, create=create
    )


@router.get("/me/change-requests", response_model=Page[ChangeRequestPublic])
async def list_change_requests(
    session: SessionDep, principal: TalentPrincipal, page: PageDep
) -> Page[ChangeRequestPublic]:
    """Your change requests, newest first, with their decisions."""
    return await changes.list_mine(session, principal.sub, page)


@router.get("/me/change-requests/{change_request_id}", response_model=ChangeRequestPublic)
async def get_change_request(
    change_request_id: ChangeRequestId, session: SessionDep, principal: TalentPrincipal
) -> ChangeRequestPublic:
    """One of your change requests."""
    return await changes.get_mine(session, principal.sub, change_request_id)


@router.get("/reviews/change-requests", response_model=Page[ChangeRequestForReview])
async def change_request_queue(
    session: SessionDep,
    principal: CountyReviewerPrincipal,
    page: PageDep,
    status: Annotated[ChangeReviewFilter, Query(description="pending: what you may decide now")] = "pending",
) -> Page[ChangeRequestForReview]:
    """Your region's change requests: pending ones oldest first, with provenance and the points after."""
    return await changes.review_queue(session, principal, status, page)


@router.get("/reviews/change-requests/{change_request_id}", response_model=ChangeRequestForReview)
async def get_change_request_for_review(
    change_request_id: ChangeRequestId, session: SessionDep, principal: CountyReviewerPrincipal
) -> ChangeRequestForReview:
    """One change request of your region."""
    return await changes.get_for_review(session, principal, change_request_id)


@router.post("/reviews/change-requests/{change_request_id}/decisions", response_model=ChangeRequestForReview)
async def decide_change_request(
    change_request_id: ChangeRequestId,
    body: ChangeDecisionCreate,
    session: SessionDep,
    principal: CountyReviewerPrincipal,
    settings: SettingsDep,
) -> ChangeRequestForReview:
    """Approve (the facts change, confirmed by you) or reject a change request, with a reason."""
    return await changes.decide(session, principal, change_request_id, body, settings.issuing_city)


@router.post(
    "/admin/talents/{talent_id}/identity-corrections", response_model=IdentityCorrectionPublic, status_code=201
)
async def correct_identity(
    talent_id: TalentId,
    body: IdentityCorrectionCreate,
    session: SessionDep,
    principal: AdminPrincipal,
    protector: ProtectorDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Correct a talent's locked identity fields, with a reason; the old values are kept sealed."""

    async def create() -> IdentityCorrectionPublic:
        correction = await corrections.correct_identity(session, principal, talent_id, body, protector)
        return corrections.correction_public(correction)

    return await run_idempotent(
        session,
        principal,
        idempotency_key,
        operation="POST /api/v1/admin/talents/{talent_id}/identity-corrections",
        body=body,
        create=create,
    )


# --- documents ------------------------------------------------------------------------------------------

# The bytes of a document, as its type; 415: not a PDF, JPEG or PNG (judged by the bytes).
DOCUMENT_BYTES: dict[int | str, dict[str, Any]] = {
    200: {"content": {t: {} for t in ("application/pdf", "image/jpeg", "image/png")}, "description": "the file"}
}
UNSUPPORTED_TYPE = problem_responses(415)


@router.post("/me/documents", response_model=DocumentPublic, status_code=201, responses=UNSUPPORTED_TYPE)
async def upload_document(
    file: Annotated[UploadFile, File(description="a PDF, JPEG or PNG file of at most 10 MiB")],
    kind: Annotated[DocumentKind, Form()],
    session: SessionDep,
    principal: TalentPrincipal,
    store: DocumentStoreDep,
    settings: SettingsDep,
    idempotency_key: IdempotencyKey = None,
) -> Any:
    """Upload a document (PDF, JPEG or PNG, at most 10 MiB) to cite as evidence; its type is read from its bytes."""
    received = await documents.receive(file, settings.document_max_bytes)
    return await documents.upload(session, principal, store, received, kind, idempotency_key)


@router.get("/me/documents", response_model=Page[DocumentPublic])
async def list_documents(session: SessionDep, principal: TalentPrincipal, page: PageDep) -> Page[DocumentPublic]:
    """Your documents, newest first."""
    return await documents.list_mine(session, principal.sub, page)


@router.get("/me/documents/{document_id}", response_class=StreamingResponse, responses=DOCUMENT_BYTES)
async def get_document(
    document_id: DocumentId, session: SessionDep, principal: TalentPrincipal, store: DocumentStoreDep
) -> StreamingResponse:
    """One of your documents: the file itself."""
    document = await documents.get_mine(session, principal.sub, document_id)
    stream = await documents.open_stream(store, document)
    return StreamingResponse(stream, media_type=document.content_type, headers=documents.download_headers(document))


@router.delete("/me/documents/{document_id}", status_code=204)
async def delete_document(
    document_id: DocumentId, session: SessionDep, principal: TalentPrincipal, store: DocumentStoreDep
) -> Response:
    """Delete one of your documents (409 while an open certification or change request cites it)."""
    document = await documents.delete_mine(session, principal.sub, document_id)
    return Response(status_code=204, background=BackgroundTask(store.delete, document.object_key))


@router.get("/reviews/documents/{document_id}", response_class=StreamingResponse, responses=DOCUMENT_BYTES)
async def get_document_for_review(
    document_id: DocumentId, session: SessionDep, principal: OfficerPrincipal, store: DocumentStoreDep
) -> StreamingResponse:
    """A document cited by a case waiting for you (your stage of a certification, a change request); logged."""
    document = await documents.get_for_official(session, principal, document_id)
    stream = await documents.open_stream(store, document)
    return StreamingResponse(stream, media_type=document.content_type, headers=documents.download_headers(document))


# --- the talent code ------------------------------------------------------------------------------------


@router.get("/me/code", response_model=CodePublic)
async def get_code(
    database: DatabaseDep,
    principal: TalentPrincipal,
    keyring: CodeKeysDep,
    settings: SettingsDep,
    status_lists: StatusListDep,
    response: Response,
) -> CodePublic:
    """A fresh signed talent code (default 5 minutes) for your QR code; only while you are certified."""
    issued = await verification.issue_code(database, keyring, principal.sub, settings.issuing_city, status_lists)
    response.headers.update(NO_STORE)
    return CodePublic(code=issued.code, expires_at=issued.expires_at, kid=issued.kid)


@router.get("/me/code.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
async def get_code_png(
    database: DatabaseDep,
    principal: TalentPrincipal,
    keyring: CodeKeysDep,
    settings: SettingsDep,
    status_lists: StatusListDep,
) -> Response:
    """The QR image (PNG) of a fresh talent code."""
    issued = await verification.issue_code(database, keyring, principal.sub, settings.issuing_city, status_lists)
    return Response(verification.qr_image(issued.code, "png"), media_type="image/png", headers=NO_STORE)


@router.get("/me/code.svg", response_class=Response, responses={200: {"content": {"image/svg+xml": {}}}})
async def get_code_svg(
    database: DatabaseDep,
    principal: TalentPrincipal,
    keyring: CodeKeysDep,
    settings: SettingsDep,
    status_lists: StatusListDep,
) -> Response:
    """The QR image (SVG) of a fresh talent code."""
    issued = await verification.issue_code(database, keyring, principal.sub, settings.issuing_city, status_lists)
    return Response(verification.qr_image(issued.code, "svg"), media_type="image/svg+xml", headers=NO_STORE)


@router.post("/codes/verify", response_model=VerifyResult, response_model_exclude_none=True)
async def verify_code(
    body: VerifyRequest,
    principal: PartnerPrincipal,
    database: DatabaseDep,
    keyring: CodeKeysDep,
    recorder: ScanRecorderDep,
    settings: SettingsDep,
    partner_keys: PartnerKeysDep,
) -> VerifyResult:
    """Check a scanned talent code, ours or a partner city's on the trust list; the answer holds only what your
    scene may see."""
    # A pure read: no unit of work (on SQLite that would take the write lock for every scan); the talent's
    # read log and the statistics event get the verification through the scan log, which writes them later
    # in a batch.
    return await verification.verify(database, keyring, principal, body, recorder, settings.issuing_city, partner_keys)


@router.get(
    "/codes/status-list",
    response_class=Response,
    responses={200: {"content": {status_list.MEDIA_TYPE: {}, "application/json": {}}}, 304: {}},
)
async def get_status_list(
    request: Request, database: DatabaseDep, keyring: CodeKeysDep, status_lists: StatusListDep
) -> Response:
    """The signed revocation status list (a Status List Token) offline gates check codes against; public."""
    served = await status_lists.current(database, keyring)
    return status_list.response(request, served, status_lists.max_age(served))


@internal_router.get("/internal/code-keys")
async def code_keys(keyring: CodeKeysDep, response: Response) -> dict[str, Any]:
    """The public talent-code keys as a JWKS (the gateway republishes it at /.well-known/talent-code/jwks.json)."""
    response.headers["Cache-Control"] = "public, max-age=60"
    return keyring.jwks()


# --- the read log ---------------------------------------------------------------------------------------


@router.get("/me/access-log", response_model=Page[AccessLogEntryPublic])
async def my_access_log(session: SessionDep, principal: TalentPrincipal, page: PageDep) -> Page[AccessLogEntryPublic]:
    """Who read your personal data or documents, and which partner verified your code, newest first."""
    return await access_log.list_mine(session, principal.sub, page)


@router.get("/audit/applicant/access-log", response_model=Page[AccessLogAuditEntry])
async def search_access_log(
    session: SessionDep,
    principal: AuditorPrincipal,
    page: PageDep,
    where: Annotated[access_log.AccessLogFilter, Query()],
) -> Page[AccessLogAuditEntry]:
    """The read log across talents (auditors, admins), newest first, filtered by talent, actor, kind,
    action and time (`since` inclusive, `until` exclusive)."""
    return await access_log.search(session, where, page)


# --- administration -------------------------------------------------------------------------------------


@router.post("/admin/talents/{talent_id}/revoke", response_model=TalentPublic)
async def revoke_talent(
    talent_id: TalentId, body: RevokeRequest, session: SessionDep, principal: AdminPrincipal
) -> TalentPublic:
    """Revoke a talent's status (失信 blacklist, left the city); their codes stop verifying."""
    talent = await validity.revoke(session, principal, talent_id, body.reason)
    return validity.talent_public(talent)


@router.post("/admin/talents/{talent_id}/reinstatement", response_model=TalentPublic)
async def reinstate_talent(
    talent_id: TalentId, body: ReinstateRequest, session: SessionDep, principal: AdminPrincipal
) -> TalentPublic:
    """Lift a talent's revocation (动态进退): certified again while the certification is still valid, else
    expired (or registered if never certified); 409 when the talent is not revoked."""
    talent = await validity.reinstate(session, principal, talent_id, body.reason)
    return validity.talent_public(talent)


@router.post("/admin/code-keys/rotate", response_model=CodeKeyRotated)
async def rotate_code_key(
    session: SessionDep, principal: AdminPrincipal, keyring: CodeKeysDep, settings: SettingsDep
) -> CodeKeyRotated:
    """Start signing talent codes with a new key; the old one stays published until it retires."""
    retire_after = timedelta(seconds=settings.code_key_retire_after_s)
    key = await rotate_code_keys(session, keyring.sealer, retire_after)
    await service.record_key_rotation(session, principal, key.kid, retire_after)
    keyring.invalidate()
    return CodeKeyRotated(kid=key.kid, previous_keys_retire_at=key.created_at + retire_after)
