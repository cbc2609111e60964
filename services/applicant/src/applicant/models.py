"""Applicant tables: talents and profiles, family members, certifications, and the talent-code keys; the rule
versions (applicant.rules) are in the kit's table `rule_version`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from servicekit.db import UTCDateTime, utcnow
from servicekit.models import BigIntId

# The kit's table of the applicant's rule versions: imported so that it is part of the applicant's tables
# (its metadata, which the migrations build and the drift check compares).
from servicekit.rulebook import RuleVersion as RuleVersion
from servicekit.sql import StrEnumText
from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from applicant.states import CertificationStatus, ChangeRequestStatus, FactSource, TalentStatus


class Talent(SQLModel, table=True):
    """A person known to the platform; the id is the gateway's subject, the pseudonym what partners see."""

    __tablename__ = "talent"

    id: str = Field(primary_key=True, max_length=36)
    pseudonym: str = Field(unique=True, max_length=40)
    status: TalentStatus = Field(default=TalentStatus.REGISTERED, sa_type=StrEnumText(TalentStatus, 20))
    tier: str | None = Field(default=None, max_length=1)
    points: int = 0
    certified_until: date | None = None
    certified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TalentProfile(SQLModel, table=True):
    """What the talent told us; the identity number only encrypted, with a keyed hash for duplicates."""

    __tablename__ = "talent_profile"
    # An employer's staff: the talents whose profile names its credit code (applicant.employer.staff), in the
    # order they registered.
    __table_args__ = (Index("ix_talent_profile_employer", "employer_credit_code", "created_at", "talent_id"),)

    talent_id: str = Field(primary_key=True, foreign_key="talent.id", max_length=36)
    name: str = Field(max_length=100)
    id_type: str = Field(max_length=30)
    id_number_ciphertext: str = Field(max_length=200)
    id_number_hash: str = Field(unique=True, max_length=64)
    id_number_masked: str = Field(max_length=40)
    birth_date: date
    email: str | None = Field(default=None, max_length=254)
    # The verified sign-in phone (the gateway's `phone_number` claim), sealed like the identity number.
    phone_ciphertext: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    phone_masked: str | None = Field(default=None, max_length=24)
    locale: str = Field(default="zh-CN", max_length=10)
    time_zone: str = Field(default="Asia/Shanghai", max_length=64)
    region_code: str = Field(max_length=12)
    degree: str = Field(max_length=20)
    school: str = Field(max_length=200)
    graduated_on: date
    title: str | None = Field(default=None, max_length=20)
    employer_name: str = Field(max_length=200)
    employer_credit_code: str = Field(max_length=18)
    employer_region_code: str = Field(max_length=12)
    employer_industry: str | None = Field(default=None, max_length=40)
    social_insurance_months: int = 0
    owns_home_in_city: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FamilyMember(SQLModel, table=True):
    """A spouse, child or parent benefits may reach; identity protected like the talent's own."""

    __tablename__ = "talent_family_member"
    __table_args__ = (UniqueConstraint("talent_id", "id_number_hash"),)

    id: str = Field(primary_key=True, max_length=36)
    talent_id: str = Field(foreign_key="talent.id", index=True, max_length=36)
    relation: str = Field(max_length=10)
    name: str = Field(max_length=100)
    id_type: str = Field(max_length=30)
    id_number_ciphertext: str = Field(max_length=200)
    id_number_hash: str = Field(max_length=64)
    id_number_masked: str = Field(max_length=40)
    birth_date: date
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Certification(SQLModel, table=True):
    """An application for a tier, reviewed by the county of `region_code`, then by the city."""

    __tablename__ = "talent_certification"
    __table_args__ = (
        Index("ix_talent_certification_queue", "status", "region_code", "submitted_at"),
        # The city's queue (one status, every region) in order, a page at a time (bench/gaps/city.md).
        Index("ix_talent_certification_status_submitted", "status", "submitted_at", "id"),
    )

    id: str = Field(primary_key=True, max_length=36)
    talent_id: str = Field(foreign_key="talent.id", index=True, max_length=36)
    route: str = Field(max_length=30)
    claimed_tier: str = Field(max_length=1)
    # The tier the reviewers propose (starts as the claimed one); the tier granted on certification.
    tier: str = Field(max_length=1)
    programme_code: str | None = Field(default=None, max_length=64)
    region_code: str = Field(max_length=12)
    status: CertificationStatus = Field(
        default=CertificationStatus.SUBMITTED, sa_type=StrEnumText(CertificationStatus, 20)
    )
    # Rises with each resubmission after a return, so earlier rounds' approvals no longer count.
    round: int = 1
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    certified_until: date | None = None
    # The deadline of the review stage it waits in (working days, rules "review"); None out of review.
    stage_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When that deadline passed with the certification still waiting there (escalated); None otherwise.
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The employer's 举荐 (applicant.employer.recommendations) a certification on the employer_recommendation
    # route cites; kept through a return and resubmission.
    recommendation_id: str | None = Field(default=None, max_length=36)
    # The named officer (首问负责制, applicant.officers): the first reviewer who opened or decided it, as their
    # token named them; a city approver may reassign. The talent sees the name and the office phone.
    officer_id: str | None = Field(default=None, max_length=64, index=True)
    officer_name: str | None = Field(default=None, max_length=100)
    officer_phone: str | None = Field(default=None, max_length=32)


class CertificationEvidence(SQLModel, table=True):
    """One document the talent relies on, identified by the SHA-256 of its bytes."""

    __tablename__ = "talent_certification_evidence"

    id: int | None = Field(default=None, primary_key=True)
    certification_id: str = Field(foreign_key="talent_certification.id", index=True, max_length=36)
    round: int = 1
    kind: str = Field(max_length=40)
    reference: str = Field(max_length=500)
    sha256: str = Field(max_length=64)
    # An uploaded document (applicant.documents) the item cites; reference and sha256 are then the document's.
    document_id: str | None = Field(default=None, index=True, max_length=36)


class CertificationDecision(SQLModel, table=True):
    """One officer's decision at one stage; never changed (the audit log holds the same, hash-chained)."""

    __tablename__ = "talent_certification_decision"

    id: int | None = Field(default=None, primary_key=True)
    certification_id: str = Field(foreign_key="talent_certification.id", index=True, max_length=36)
    round: int
    stage: str = Field(max_length=10)
    decision: str = Field(max_length=10)
    tier: str | None = Field(default=None, max_length=1)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    decided_by: str = Field(max_length=64)
    decided_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TalentCodeKey(SQLModel, table=True):
    """An ES256 key used only to sign talent codes; the private half sealed, published until it retires."""

    __tablename__ = "talent_code_key"

    kid: str = Field(primary_key=True, max_length=40)
    private_key_sealed: str = Field(sa_column=Column(Text, nullable=False))
    public_jwk: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # None while it signs; set on rotation: the key verifies (and is published) until then.
    retires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# --- trusted facts: provenance, change requests, identity corrections -------------------------------------


class FactProvenance(SQLModel, table=True):
    """Where one decision-relevant fact of a profile came from (see applicant.facts); no row: self-declared."""

    __tablename__ = "talent_fact_provenance"

    talent_id: str = Field(primary_key=True, foreign_key="talent.id", max_length=36)
    fact: str = Field(primary_key=True, max_length=40)
    source: FactSource = Field(sa_type=StrEnumText(FactSource, 20))
    # The officer or employer user who confirmed it, and the decision that did (a certification or change request).
    confirmed_by: str | None = Field(default=None, max_length=64)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    basis: str | None = Field(default=None, max_length=80)


class ChangeRequest(SQLModel, table=True):
    """A talent's request to change locked facts, decided by the county reviewer of `region_code`."""

    __tablename__ = "talent_change_request"
    __table_args__ = (Index("ix_talent_change_request_queue", "status", "region_code", "created_at"),)

    id: str = Field(primary_key=True, max_length=36)
    talent_id: str = Field(foreign_key="talent.id", index=True, max_length=36)
    # The talent's region when it was submitted: the county that reviews it.
    region_code: str = Field(max_length=12)
    status: ChangeRequestStatus = Field(
        default=ChangeRequestStatus.SUBMITTED, sa_type=StrEnumText(ChangeRequestStatus, 20)
    )
    # The new values, in the profile's shape (applicant.schemas.FactChanges), and what they were when submitted.
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    before: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: str | None = Field(default=None, max_length=64)
    decision_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ChangeRequestEvidence(SQLModel, table=True):
    """A document (applicant.documents) a change request relies on."""

    __tablename__ = "talent_change_request_evidence"

    change_request_id: str = Field(primary_key=True, foreign_key="talent_change_request.id", max_length=36)
    document_id: str = Field(primary_key=True, index=True, max_length=36)


class IdentityCorrection(SQLModel, table=True):
    """An admin's correction of locked identity fields; the old values kept only sealed (encrypted)."""

    __tablename__ = "talent_identity_correction"

    id: str = Field(primary_key=True, max_length=36)
    talent_id: str = Field(foreign_key="talent.id", index=True, max_length=36)
    fields: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    before_sealed: str = Field(sa_column=Column(Text, nullable=False))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    corrected_by: str = Field(max_length=64)
    corrected_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- documents (applicant.documents) ----------------------------------------------------------------------


class Document(SQLModel, table=True):
    """A file a talent uploaded as evidence; its bytes are in the object store, encrypted (servicekit.objectstore)."""

    __tablename__ = "talent_document"
    __table_args__ = (Index("ix_talent_document_owner", "talent_id", "created_at", "id"),)

    id: str = Field(primary_key=True, max_length=36)
    talent_id: str = Field(foreign_key="talent.id", max_length=36)
    kind: str = Field(max_length=40)
    file_name: str = Field(max_length=255)
    # Decided from the bytes (magic numbers), never from the name or the declared type.
    content_type: str = Field(max_length=40)
    size: int
    sha256: str = Field(max_length=64)
    # Where the sealed bytes are kept in the object store, and the id of the key that sealed them.
    object_key: str = Field(max_length=200)
    key_id: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- read log (applicant.access_log) ----------------------------------------------------------------------


class AccessLogEntry(SQLModel, table=True):
    """Someone outside the talent read their personal data or documents, or a partner verified their code.

    Append-only. The actor is an account id (`actor`), the role it acted in (a review role, a partner kind, an
    employer) and an official's region: who it was to the talent, never a person's name."""

    __tablename__ = "talent_access_log"
    __table_args__ = (
        Index("ix_talent_access_log_talent", "talent_id", "at", "id"),
        Index("ix_talent_access_log_at", "at", "id"),
        Index("ix_talent_access_log_actor", "actor", "at", "id"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigIntId, primary_key=True, autoincrement=True))
    talent_id: str = Field(max_length=36)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    actor_kind: str = Field(max_length=10)
    actor: str = Field(max_length=64)
    actor_role: str = Field(max_length=40)
    actor_region: str | None = Field(default=None, max_length=12)
    action: str = Field(max_length=40)
    scene: str | None = Field(default=None, max_length=40)
    # A verification's outcome: "valid" or the reason it was not (revoked, certification_expired, ...).
    result: str | None = Field(default=None, max_length=40)


# --- revocation status list (applicant.status_list) -------------------------------------------------------


class TalentStatusIndex(SQLModel, table=True):
    """A talent's entry in the revocation status list: allocated at random on its first code, never changed."""

    __tablename__ = "talent_status_index"

    talent_id: str = Field(primary_key=True, foreign_key="talent.id", max_length=36)
    idx: int = Field(unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
