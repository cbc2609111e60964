"""Request and response bodies of the applicant API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from contracts import AttestationOutcome
from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from applicant.states import (
    AttestationStatus,
    CertificationStatus,
    ChangeRequestStatus,
    Decision,
    FactSource,
    RecommendationStatus,
    TalentStatus,
)

IdType = Literal["resident_id", "foreign_permanent_id", "passport"]
Degree = Literal["bachelor", "master", "doctor"]
Title = Literal["senior", "deputy_senior", "intermediate"]
Locale = Literal["zh-CN", "en"]
Tier = Literal["A", "B", "C", "D", "E"]
Relation = Literal["spouse", "child", "parent"]
Route = Literal["programme", "degree", "title", "employer_recommendation", "expert_recommendation", "case_by_case"]
Stage = Literal["county", "city"]
Scene = Literal["hospital", "transit", "school", "bank", "scenic", "partner_city"]


class _Strict(BaseModel):
    # Unknown fields are refused so a talent cannot slip in tier, status or points.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Education(_Strict):
    degree: Degree
    school: str = Field(min_length=1, max_length=200)
    graduated_on: date


class Employer(_Strict):
    name: str = Field(min_length=1, max_length=200)
    credit_code: str = Field(min_length=18, max_length=18, description="统一社会信用代码 (GB 32100)")
    region_code: str = Field(min_length=6, max_length=12)
    industry: str | None = Field(
        default=None, max_length=40, description="the employer's key industry, e.g. 集成电路 (紧缺人才目录)"
    )


class ProfileUpdate(_Strict):
    """Everything PUT /api/v1/me/profile takes; the whole profile is replaced."""

    name: str = Field(min_length=1, max_length=100)
    id_type: IdType
    id_number: str = Field(min_length=5, max_length=30)
    birth_date: date
    email: EmailStr | None = None
    phone: str | None = Field(
        default=None,
        max_length=24,
        description="optional: the phone you signed in with (E.164); the profile always holds that verified phone",
    )
    locale: Locale = "zh-CN"
    time_zone: str = Field(default="Asia/Shanghai", max_length=64, description="IANA time zone")
    region_code: str = Field(min_length=6, max_length=12, description="where the talent lives or works")
    education: Education
    title: Title | None = None
    employer: Employer
    social_insurance_months: int = Field(ge=0, le=600)
    owns_home_in_city: bool = False


class ProvenancePublic(BaseModel):
    """Where a decision fact came from: the talent's word, a reviewer's decision, or the employer."""

    source: FactSource
    by: str | None = Field(default=None, description="the officer or employer user who confirmed it")
    at: datetime | None = None


class ProfilePublic(BaseModel):
    """The profile as the talent sees it: the identity number masked."""

    talent_id: str
    name: str
    id_type: IdType
    id_number_masked: str
    birth_date: date
    email: str | None
    phone: str | None = Field(description="your verified sign-in phone, masked (+86138****0001)")
    locale: Locale
    time_zone: str
    region_code: str
    education: Education
    title: Title | None
    employer: Employer
    social_insurance_months: int
    owns_home_in_city: bool
    locked_fields: list[str] = Field(
        default_factory=list, description="fields a PUT may no longer change (409): use a change request"
    )
    provenance: dict[str, ProvenancePublic] = Field(default_factory=dict)


class TalentPublic(BaseModel):
    talent_id: str
    tier: Tier | None
    points: int
    status: TalentStatus
    certified_until: date | None


# --- family ---------------------------------------------------------------------------------------


class FamilyMemberCreate(_Strict):
    relation: Relation
    name: str = Field(min_length=1, max_length=100)
    id_type: IdType
    id_number: str = Field(min_length=5, max_length=30)
    birth_date: date


class FamilyMemberPublic(BaseModel):
    id: str
    relation: Relation
    name: str
    id_type: IdType
    id_number_masked: str
    birth_date: date
    created_at: datetime


class FamilyMembersPublic(BaseModel):
    items: list[FamilyMemberPublic]
    next_cursor: str | None = None


# --- certification ----------------------------------------------------------------------------------


class EvidenceItem(_Strict):
    """One piece of evidence: a document uploaded with POST /api/v1/me/documents (`document_id`), or a file kept
    elsewhere (`reference` and the `sha256` of its bytes)."""

    kind: str = Field(min_length=1, max_length=40, description="e.g. diploma, title_certificate, programme_certificate")
    document_id: str | None = Field(
        default=None, min_length=1, max_length=36, description="one of your documents; reference and sha256 are its"
    )
    reference: str | None = Field(
        default=None,
        min_length=1,
        max_length=500,
        validate_default=True,
        description="where the document is kept (file id or URL); not with document_id",
    )
    sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{64}$",
        validate_default=True,
        description="hex SHA-256 of the document's bytes; not with document_id",
    )

    @field_validator("reference", "sha256")
    @classmethod
    def _one_form(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Fields are checked in order: document_id (when valid) is known here, so the error names this field.
        cites_document = info.data.get("document_id") is not None
        if cites_document and value is not None:
            raise ValueError("give either document_id, or reference and sha256, not both")
        if not cites_document and value is None and "document_id" in info.data:
            raise ValueError("required unless the item cites an uploaded document (document_id)")
        return value


Evidence = list[EvidenceItem]

_DOCUMENT_FIELDS = frozenset({"document_id", "content_type", "size"})


class EvidencePublic(BaseModel):
    """A piece of evidence; one that cites an uploaded document also has its id, type and size (officials open
    it with GET /api/v1/reviews/documents/{document_id})."""

    kind: str
    reference: str
    sha256: str
    document_id: str | None = None
    content_type: str | None = None
    size: int | None = None

    @model_serializer(mode="wrap")
    def _without_absent_document(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if v is not None or k not in _DOCUMENT_FIELDS}


class CertificationCreate(_Strict):
    route: Route
    claimed_tier: Tier
    programme_code: str | None = Field(default=None, min_length=1, max_length=64)
    evidence: Evidence = Field(min_length=1, max_length=20)
    recommendation_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=36,
        description="the employer's 举荐 the employer_recommendation route needs (GET /api/v1/me/recommendations)",
    )


class CertificationResubmit(_Strict):
    """A returned (补正) certification sent back: new evidence replaces the old when given."""

    evidence: Evidence | None = Field(default=None, min_length=1, max_length=20)
    programme_code: str | None = Field(default=None, min_length=1, max_length=64)
    note: str = Field(default="", max_length=2000, description="what was corrected")


class DecisionPublic(BaseModel):
    round: int
    stage: Stage
    decision: Decision
    tier: Tier | None
    reason: str
    decided_by: str
    decided_at: datetime


class OfficerPublic(BaseModel):
    """The official who owns a case (首问负责制), as the talent may reach them: a name and an office number."""

    display_name: str | None
    office_phone: str | None


class OfficerAssign(BaseModel):
    """A city approver hands a case to another official; there is no directory of officials in the services,
    so the body names them as their token would (id, display name, office phone)."""

    model_config = ConfigDict(extra="forbid")

    officer_id: str = Field(min_length=1, max_length=64, description="the official's account id (token sub)")
    display_name: str = Field(min_length=1, max_length=100)
    office_phone: str = Field(default="", max_length=32, pattern=r"^[0-9+\- ]*$")


class CertificationPublic(BaseModel):
    id: str
    talent_id: str
    route: Route
    claimed_tier: Tier
    tier: Tier
    programme_code: str | None
    region_code: str
    status: CertificationStatus
    round: int
    evidence: list[EvidencePublic]
    decisions: list[DecisionPublic]
    city_approvals_needed: int
    submitted_at: datetime
    updated_at: datetime
    certified_until: date | None
    officer: OfficerPublic | None = Field(
        default=None, description="the named officer (首问负责制) who owns the case; null until one opens it"
    )


class ApplicantSummary(BaseModel):
    """What a reviewer sees of the applicant: enough to check the evidence, the identity number masked."""

    name: str
    id_type: IdType
    id_number_masked: str
    birth_date: date
    degree: Degree
    title: Title | None
    employer_name: str
    provenance: dict[str, ProvenancePublic] = Field(default_factory=dict)


class AttestationPublic(BaseModel):
    """An employer's attestation of a talent's employment and social-insurance months (applicant.employer):
    shown to the employer that made it, the talent, and the reviewers of the talent's cases."""

    id: str
    talent_id: str
    employer_credit_code: str
    employer_name: str
    employed_since: date
    position: str | None
    social_insurance_months: int
    outcome: AttestationOutcome
    note: str | None
    status: AttestationStatus
    attested_facts: list[str] = Field(description="the decision facts it made employer_attested")
    mismatched_facts: list[str] = Field(description="the facts the employer gave other values for than the profile")
    blocking: bool = Field(description="disputed, or a fact mismatched: claims are not approved straight through")
    attested_by: str
    attested_at: datetime
    withdrawn_at: datetime | None


class RecommendationPublic(BaseModel):
    """An employer's 举荐 of a talent on its staff (applicant.employer.recommendations): shown to the employer
    that filed it, the talent, and the reviewers of the certification that cites it."""

    id: str
    talent_id: str
    employer_credit_code: str
    employer_name: str
    claimed_tier: Tier
    reason: str
    status: RecommendationStatus
    certification_id: str | None = Field(description="the certification that cites it (status cited)")
    filed_at: datetime


class CertificationForReview(CertificationPublic):
    applicant: ApplicantSummary | None
    # The deadline of the review stage it waits in (working days, rule set "review"); None out of review.
    stage_due_at: datetime | None = None
    # The deadline passed with the certification still waiting at that stage.
    escalated: bool = False
    # The talent's standing employer attestation: in the case view only (a queue page leaves it null).
    attestation: AttestationPublic | None = None
    # The employer's 举荐 a certification on the employer_recommendation route cites.
    recommendation: RecommendationPublic | None = None


class DecisionCreate(_Strict):
    decision: Decision
    tier: Tier | None = Field(
        default=None, description="the tier the officer grants (or proposes); default: as claimed"
    )
    reason: str = Field(default="", max_length=2000, description="required to reject or return")


# `pending`: what the caller may decide now; a status: the certifications in it the caller may see.
ReviewFilter = Literal["pending"] | CertificationStatus


# --- change requests and identity corrections ---------------------------------------------------------


class FactChanges(_Strict):
    """New values of decision facts; only the fields given change (`"title": null` removes the title)."""

    education: Education | None = None
    title: Title | None = None
    social_insurance_months: int | None = Field(default=None, ge=0, le=600)
    employer: Employer | None = None
    region_code: str | None = Field(default=None, min_length=6, max_length=12)
    owns_home_in_city: bool | None = None

    def given(self) -> dict[str, Any]:
        """The changed facts in the API's (JSON) shape; a field set to null only counts for the title."""
        values = self.model_dump(mode="json", exclude_unset=True)
        return {name: value for name, value in values.items() if value is not None or name == "title"}


class DocumentRef(_Strict):
    document_id: str = Field(min_length=1, max_length=64)


class ChangeRequestCreate(_Strict):
    changes: FactChanges
    reason: str = Field(min_length=1, max_length=2000, description="why the facts changed (e.g. a new degree)")
    evidence: list[DocumentRef] = Field(default_factory=list, max_length=20)


class ChangeEvidencePublic(BaseModel):
    document_id: str
    kind: str | None = None
    content_type: str | None = None
    size: int | None = None


class ChangeRequestPublic(BaseModel):
    id: str
    status: ChangeRequestStatus
    changes: dict[str, Any]
    before: dict[str, Any]
    reason: str
    evidence: list[ChangeEvidencePublic]
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None


class ReviewedApplicant(BaseModel):
    """What a reviewer of a change request sees of the talent."""

    name: str
    id_number_masked: str
    tier: Tier | None
    status: TalentStatus
    points: int


class ChangeRequestForReview(ChangeRequestPublic):
    talent_id: str
    region_code: str
    applicant: ReviewedApplicant | None
    provenance: dict[str, ProvenancePublic]
    points_after: int | None = Field(default=None, description="the talent's points if the request is approved")
    # The talent's standing employer attestation: in the case view only (a queue page leaves it null).
    attestation: AttestationPublic | None = None


class ChangeDecisionCreate(_Strict):
    decision: Literal["approve", "reject"]
    reason: str = Field(min_length=1, max_length=2000)


ChangeReviewFilter = Literal["pending"] | ChangeRequestStatus


class IdentityChanges(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    id_type: IdType | None = None
    id_number: str | None = Field(default=None, min_length=5, max_length=30)
    birth_date: date | None = None


class IdentityCorrectionCreate(_Strict):
    changes: IdentityChanges
    reason: str = Field(min_length=1, max_length=2000)


class IdentityCorrectionPublic(BaseModel):
    id: str
    talent_id: str
    fields: list[str]
    reason: str
    corrected_by: str
    corrected_at: datetime


# --- documents ----------------------------------------------------------------------------------------

DocumentKind = Literal[
    "diploma",
    "degree_certificate",
    "title_certificate",
    "programme_certificate",
    "employment_contract",
    "social_insurance_record",
    "property_record",
    "identity_document",
    "award",
    "other",
]


class DocumentPublic(BaseModel):
    """An uploaded document; its type is what its bytes are (PDF, JPEG or PNG), whatever its name said."""

    id: str
    kind: DocumentKind
    file_name: str
    content_type: Literal["application/pdf", "image/jpeg", "image/png"]
    size: int = Field(description="bytes")
    sha256: str = Field(description="hex SHA-256 of the bytes")
    created_at: datetime


# --- talent code --------------------------------------------------------------------------------------


class CodePublic(BaseModel):
    code: str = Field(description="TC1: + compact JWS (ES256); put it in the QR code")
    expires_at: datetime
    kid: str


class VerifyRequest(_Strict):
    code: str = Field(min_length=1, max_length=2000)
    scene: Scene


class VerifyResult(BaseModel):
    """Only what the scene may see: validity, and per scene the tier, privileges and validity dates."""

    model_config = ConfigDict(
        json_schema_extra={"example": {"valid": True, "tier": "B", "privileges": ["green_channel"]}}
    )

    valid: bool
    reason: str | None = Field(
        default=None,
        description="when not valid: malformed, bad_signature, unknown_key, expired, not_yet_valid, unknown_talent, "
        "revoked, certification_expired, not_certified, tier_changed; for another city's code also "
        "untrusted_issuer (not on the trust list) and tier_not_recognised (not in its tier map)",
    )
    issuing_city: str | None = Field(default=None, description="the region code of the city that issued the code")
    mapped_tier: Tier | None = Field(
        default=None, description="the code's tier in this city's terms (a partner city's tier through its tier map)"
    )
    tier: Tier | None = None
    privileges: list[str] = Field(default_factory=list)
    expires_at: datetime | None = None
    certified_until: date | None = None


# --- administration -------------------------------------------------------------------------------------


class RevokeRequest(_Strict):
    reason: str = Field(min_length=1, max_length=2000, description="e.g. 失信 (credit blacklist), left the city")


class ReinstateRequest(_Strict):
    reason: str = Field(min_length=1, max_length=2000, description="e.g. removed from the 失信 list, back in the city")


class CodeKeyRotated(BaseModel):
    kid: str
    previous_keys_retire_at: datetime


# --- the read log ---------------------------------------------------------------------------------------

AccessActorKind = Literal["official", "partner", "employer"]


class AccessLogEntryPublic(BaseModel):
    """One read of the talent's personal data or documents, or one verification of their code."""

    at: datetime
    actor_kind: AccessActorKind
    actor: str = Field(description="who read, as a role: '<role> <region> (<account>)' or '<partner kind> (<client>)'")
    action: str = Field(description="certification.read, certification.list, document.read, code.verify, …")
    scene: str | None = Field(default=None, description="where a partner verified the code")
    result: str | None = Field(default=None, description="a verification's outcome: valid, or why not")


class AccessLogAuditEntry(AccessLogEntryPublic):
    """An entry as auditors see it: whose log it is in, and the actor's parts."""

    id: int
    talent_id: str
    actor_id: str = Field(description="the account (officials, employers' users) or client id (partners)")
    actor_role: str = Field(description="the official's role, the partner's kind, or the employer")
    actor_region: str | None = None
