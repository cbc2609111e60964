"""Benefits tables: versioned policies, the talents' read model, claims with their history, budgets."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from contracts import AttestationOutcome, ClaimStatus
from servicekit.db import UTCDateTime, utcnow
from servicekit.sql import StrEnumText
from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from benefits.states import ObjectionStatus, PaymentBatchStatus, PaymentResult, TalentFactsStatus


class BenefitPolicy(SQLModel, table=True):
    """One version of a policy; its rules are never changed, a change is a new version."""

    __tablename__ = "benefit_policy"
    __table_args__ = (Index("ix_benefit_policy_current", "code", "current"),)

    code: str = Field(primary_key=True, max_length=40)
    version: int = Field(primary_key=True)
    current: bool = True
    name: str = Field(max_length=100)
    name_en: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=2000)
    auto_grant: bool = False
    active: bool = True
    # The rule vocabulary of benefits.schemas (eligibility, limits, amount, review, budget), as JSON.
    rules: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(default="seed", max_length=64)
    change_reason: str = Field(default="", max_length=2000)
    # When this version was announced to the city's statistics (talent.benefits.policy.published.v1); null
    # until then, e.g. a seeded version, which the worker announces at start-up (policies.announce_unannounced).
    announced_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TalentFacts(SQLModel, table=True):
    """The read model of a talent, built only from events; any event may come first, so every fact is optional."""

    __tablename__ = "benefit_talent"

    talent_id: str = Field(primary_key=True, max_length=64)
    pseudonym: str | None = Field(default=None, max_length=40)
    # registered (profile seen), certified, revoked, expired; "unknown" until a status event arrives.
    status: TalentFactsStatus = Field(default=TalentFactsStatus.UNKNOWN, sa_type=StrEnumText(TalentFactsStatus, 12))
    status_as_of: datetime | None = Field(default=None, sa_type=UTCDateTime)
    tier: str | None = Field(default=None, max_length=1)
    points: int = 0
    certified_until: date | None = None
    certified_region_code: str | None = Field(default=None, max_length=12)
    profile_as_of: datetime | None = Field(default=None, sa_type=UTCDateTime)
    region_code: str | None = Field(default=None, max_length=12)
    degree: str | None = Field(default=None, max_length=20)
    graduated_on: date | None = None
    birth_date: date | None = None
    title: str | None = Field(default=None, max_length=20)
    employer_region_code: str | None = Field(default=None, max_length=12)
    employer_in_shortage_catalogue: bool = False
    social_insurance_months: int = 0
    owns_home_in_city: bool = False
    works_in_city: bool = False
    # Where each decision fact came from (fact → self_declared | officer_confirmed | employer_attested).
    provenance: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    housing_voucher_used: bool = False
    # For the public 公示 list (benefits.publicity): the name as the applicant service masked it (张*伟), and
    # the employer's name. The full name never reaches benefits.
    name_masked: str | None = Field(default=None, max_length=40)
    employer_name: str | None = Field(default=None, max_length=200)
    # The employer's standing attestation (用人单位核验), if any: a dispute or a mismatch keeps the talent's
    # claims out of straight-through approval (benefits.signals).
    attestation_id: str | None = Field(default=None, max_length=36)
    attestation_outcome: AttestationOutcome | None = Field(default=None, sa_type=StrEnumText(AttestationOutcome, 12))
    attestation_blocking: bool = False
    attestation_mismatched_facts: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    attested_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The time of the newest attestation event taken (attested or withdrawn): an older one changes nothing.
    attestation_as_of: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The talent's change requests of locked facts (id → "pending" | "decided"): a pending one keeps claims
    # out of straight-through approval. A decision that arrives before its submission still marks it decided.
    change_requests: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    @property
    def profile_known(self) -> bool:
        return self.profile_as_of is not None

    @property
    def home_region(self) -> str | None:
        return self.region_code or self.certified_region_code


class TalentLease(SQLModel, table=True):
    """A talent-apartment lease seen from housing's events; started and ended may arrive in either order."""

    __tablename__ = "benefit_talent_lease"

    lease_id: str = Field(primary_key=True, max_length=64)
    talent_id: str = Field(index=True, max_length=64)
    started: bool = False
    ended: bool = False


class Claim(SQLModel, table=True):
    """A claim of one policy version by one talent."""

    __tablename__ = "benefit_claim"
    __table_args__ = (
        Index("ix_benefit_claim_queue", "status", "region_code", "submitted_at"),
        # A city-wide queue of one status in order, a page at a time (bench/gaps/city.md).
        Index("ix_benefit_claim_status_submitted", "status", "submitted_at", "id"),
        Index("ix_benefit_claim_talent", "talent_id", "policy_code"),
    )

    id: str = Field(primary_key=True, max_length=36)
    talent_id: str = Field(max_length=64)
    policy_code: str = Field(max_length=40)
    policy_version: int
    status: ClaimStatus = Field(sa_type=StrEnumText(ClaimStatus, 20))
    auto: bool = False
    # Exactly one automatic (免申即享) claim per talent and policy, however often the event comes.
    auto_grant_key: str | None = Field(default=None, unique=True, max_length=120)
    # One claim per person (once), per person and year (yearly) or open at a time (any); cleared when the
    # claim is rejected or withdrawn, so a race between two submissions ends in one 409, never two claims.
    period_key: str | None = Field(default=None, unique=True, max_length=120)
    # Money in fen can pass 2^31 (start-up funding reaches 10^10 fen): BIGINT.
    amount_fen: int | None = Field(default=None, sa_type=BigInteger)
    months: int | None = None
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    year: int
    region_code: str | None = Field(default=None, max_length=12)
    talent_pseudonym: str | None = Field(default=None, max_length=40)
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    stage_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    city_approvals: int = 0
    publicized_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    publicity_ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    budget_committed: bool = False
    payment_reference: str | None = Field(default=None, unique=True, max_length=64)
    disbursed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The named officer (首问负责制, benefits.officers): the first official who opened or decided the claim,
    # as their token named them; a city approver may reassign. The talent sees the name and office phone.
    officer_id: str | None = Field(default=None, max_length=64, index=True)
    officer_name: str | None = Field(default=None, max_length=100)
    officer_phone: str | None = Field(default=None, max_length=32)
    # Why the automatic checks said no (a list of {code, message, key, params}: rendered for each reader).
    reasons: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Approved without a reviewer (benefits.straight_through); or drawn for sampled review; or kept for
    # review for these reason codes (sampled, employment_disputed, fact_not_confirmed:<fact>, ...).
    straight_through: bool = False
    sampled: bool = False
    manual_review_reasons: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )


class ClaimHistory(SQLModel, table=True):
    """Every step of a claim: who moved it from which status to which, and why."""

    __tablename__ = "benefit_claim_history"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: str = Field(foreign_key="benefit_claim.id", index=True, max_length=36)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    action: str = Field(max_length=30)
    stage: str | None = Field(default=None, max_length=20)
    from_status: ClaimStatus | None = Field(default=None, sa_type=StrEnumText(ClaimStatus, 20))
    to_status: ClaimStatus = Field(sa_type=StrEnumText(ClaimStatus, 20))
    actor: str = Field(max_length=64)
    reason: str = Field(default="", max_length=2000)
    # A system text as {key, params} (servicekit.messages), rendered in each reader's language; `reason` keeps
    # its English for audit and search. Null for an official's own words.
    reason_message: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    reasons: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class ClaimObjection(SQLModel, table=True):
    """An objection raised against a claim during its 公示 period."""

    __tablename__ = "benefit_claim_objection"

    id: str = Field(primary_key=True, max_length=36)
    claim_id: str = Field(foreign_key="benefit_claim.id", index=True, max_length=36)
    raised_by: str = Field(max_length=64)
    reason: str = Field(max_length=2000)
    status: ObjectionStatus = Field(default=ObjectionStatus.OPEN, sa_type=StrEnumText(ObjectionStatus, 10))
    raised_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PolicyBudget(SQLModel, table=True):
    """What a policy has committed in a year; approvals add to it with one conditional UPDATE."""

    __tablename__ = "benefit_budget"
    __table_args__ = (UniqueConstraint("policy_code", "year"),)

    id: int | None = Field(default=None, primary_key=True)
    policy_code: str = Field(max_length=40)
    year: int
    committed_fen: int = Field(default=0, sa_type=BigInteger)
    committed_count: int = 0


class PaymentBatch(SQLModel, table=True):
    """A payment batch (benefits.payments): the claims finance sends the bank in one file, and what came back."""

    __tablename__ = "benefit_payment_batch"

    id: str = Field(primary_key=True, max_length=36)
    status: PaymentBatchStatus = Field(default=PaymentBatchStatus.OPEN, sa_type=StrEnumText(PaymentBatchStatus, 10))
    policy_code: str | None = Field(default=None, max_length=40)
    lines: int = 0
    total_fen: int = Field(default=0, sa_type=BigInteger)
    # The SHA-256 of the bank file as exported: the file is rebuilt from the lines, byte for byte the same.
    file_sha256: str = Field(max_length=64)
    paid: int = 0
    failed: int = 0
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    settled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PaymentLine(SQLModel, table=True):
    """One claim in a payment batch; `result` stays empty until the bank's result file names the line."""

    __tablename__ = "benefit_payment_line"
    __table_args__ = (UniqueConstraint("batch_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    batch_id: str = Field(foreign_key="benefit_payment_batch.id", max_length=36)
    seq: int
    # The reference the bank echoes back in its result file.
    line_ref: str = Field(unique=True, max_length=24)
    claim_id: str = Field(foreign_key="benefit_claim.id", index=True, max_length=36)
    # Set while the line waits for the bank, so one claim is never in two open batches (unique; NULLs are not).
    pending_claim_id: str | None = Field(default=None, unique=True, max_length=36)
    talent_id: str = Field(max_length=64)
    policy_code: str = Field(max_length=40)
    year: int
    amount_fen: int = Field(sa_type=BigInteger)
    result: PaymentResult | None = Field(default=None, sa_type=StrEnumText(PaymentResult, 10))
    bank_reference: str | None = Field(default=None, max_length=64)
    result_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SamplingSeed(SQLModel, table=True):
    """The secret seed of one policy's sampled-review draw on one day, and its SHA-256 commitment.

    The commitment is public from the day before (or the first draw of the day, whichever is first); the seed
    is public once the day is over, so anyone can recompute which claims were drawn (docs/domain.md).
    """

    __tablename__ = "benefit_sampling_seed"

    policy_code: str = Field(primary_key=True, max_length=40)
    day: date = Field(primary_key=True)
    seed: str = Field(max_length=64)  # hex of 32 random bytes
    commitment: str = Field(max_length=64)  # hex SHA-256 of the seed's bytes
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SettlementUsage(SQLModel, table=True):
    """One verification of a talent code that granted privileges (benefits.settlements): pseudonymous, it
    names the partner, scene, issuing city and tier, never the talent."""

    __tablename__ = "settlement_usage"
    __table_args__ = (Index("ix_settlement_usage_unsettled", "settled_month", "month"),)

    event_id: str = Field(primary_key=True, max_length=100)
    partner: str = Field(max_length=64)
    partner_kind: str = Field(max_length=40)
    scene: str = Field(max_length=40)
    issuing_city: str = Field(max_length=12)
    tier: str | None = Field(default=None, max_length=2)
    # Sorted, comma-joined privilege names: statements count them with one GROUP BY.
    privileges: str = Field(max_length=1000)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    month: str = Field(max_length=7)  # of occurred_at, in city time (YYYY-MM)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The month whose statement settled this use; empty until then (a late use lands in a later statement).
    settled_month: str | None = Field(default=None, max_length=7)


class SettlementMonth(SQLModel, table=True):
    """A month whose statements are issued: issued once, never changed."""

    __tablename__ = "settlement_month"

    month: str = Field(primary_key=True, max_length=7)
    prices_version: int
    statements: int
    verifications: int
    total_fen: int = Field(sa_type=BigInteger)
    issued_by: str = Field(max_length=64)
    issued_at: datetime = Field(sa_type=UTCDateTime)


class SettlementStatement(SQLModel, table=True):
    """One issued statement (a partner and an issuing city in a month): its canonical document and SHA-256."""

    __tablename__ = "settlement_statement"
    __table_args__ = (UniqueConstraint("month", "partner", "issuing_city"),)

    id: str = Field(primary_key=True, max_length=36)
    month: str = Field(max_length=7, foreign_key="settlement_month.month")
    partner: str = Field(max_length=64, index=True)
    issuing_city: str = Field(max_length=12)
    total_fen: int = Field(sa_type=BigInteger)
    document: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    sha256: str = Field(max_length=64)
