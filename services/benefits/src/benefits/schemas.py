"""Request and response bodies of the benefits API, and the policy rule vocabulary (rules as data)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from contracts import AttestationOutcome, FactSource
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from benefits.states import ClaimStatus, ObjectionStatus, PaymentBatchStatus, TalentFactsStatus

Tier = Literal["A", "B", "C", "D", "E"]
Degree = Literal["bachelor", "master", "doctor"]
# Facts about a talent that shut a policy out, each named in the policy data.
Exclusion = Literal["owns_home_in_city", "active_lease", "housing_voucher_used"]
# The applicant's decision facts, whose provenance a policy may require.
DecisionFact = Literal["education", "title", "social_insurance_months", "employer", "region_code", "owns_home_in_city"]
# Facts a disbursed claim establishes: a used housing voucher ends rent subsidies and apartment rounds.
Effect = Literal["housing_voucher_used"]
Fen = Annotated[int, Field(ge=0, le=10**13)]
RegionCode = Annotated[str, Field(pattern=r"^[0-9]{6}$")]
PolicyCode = Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]{1,39}$", description="e.g. RENT_SUBSIDY")]
Reason = Annotated[str, Field(max_length=2000)]

TIERS: tuple[str, ...] = ("A", "B", "C", "D", "E")
DEGREES: tuple[str, ...] = ("bachelor", "master", "doctor")


class _Strict(BaseModel):
    # Unknown fields are refused: a misspelt rule must be an error, never a rule silently ignored.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- the rule vocabulary of a policy ------------------------------------------------------------


class EligibilityRules(_Strict):
    """Who may claim; every rule left out does not apply. Evaluated by benefits.rules, never eval'd."""

    tiers: list[Tier] | None = Field(default=None, min_length=1, description="tiers that qualify; null: any tier")
    degrees: list[Degree] | None = Field(default=None, min_length=1)
    max_age: int | None = Field(default=None, ge=16, le=120, description="age in years on the day of the claim")
    max_months_since_graduation: int | None = Field(
        default=None, ge=0, le=600, description="checked at the talent's first claim of the policy"
    )
    min_social_insurance_months: int = Field(default=0, ge=0, le=600, description="months of local social insurance")
    requires_works_in_city: bool = False
    requires_shortage_catalogue: bool = Field(default=False, description="post in the key-industry shortage catalogue")
    regions: list[RegionCode] | None = Field(default=None, min_length=1, description="region codes; null: anywhere")
    exclusions: list[Exclusion] = Field(default_factory=list)
    provenance: dict[DecisionFact, list[FactSource]] = Field(
        default_factory=dict,
        description="facts that must come from one of these sources, e.g. "
        '{"social_insurance_months": ["employer_attested"]}; a fact left out may be self-declared',
    )


class ClaimLimits(_Strict):
    """How often a person may claim: `once` per person, `yearly` (one per calendar year), or `any`."""

    frequency: Literal["once", "yearly", "any"] = "any"
    max_claims: int | None = Field(default=None, ge=1, le=100, description="claims per person over all years")
    max_months: int | None = Field(default=None, ge=1, le=600, description="months per person (monthly amounts)")


class AmountSchedule(_Strict):
    """How much a claim is worth, in fen: by tier, by degree, fixed, entered, or nothing (privileges)."""

    basis: Literal["fixed", "by_tier", "by_degree", "entered_by_talent", "entered_by_officer", "none"]
    values: dict[str, Fen] = Field(default_factory=dict, description="tier or degree (or 'any' for fixed) -> fen")
    per: Literal["claim", "month"] = "claim"
    max_months_per_claim: int = Field(default=12, ge=1, le=60)
    ceiling_fen: Fen | None = None

    @model_validator(mode="after")
    def _values_fit_the_basis(self) -> Self:
        allowed = {"by_tier": TIERS, "by_degree": DEGREES, "fixed": ("any",)}.get(self.basis, ())
        unknown = sorted(set(self.values) - set(allowed))
        if unknown:
            raise ValueError(f"values keys {unknown} do not fit basis {self.basis!r} (allowed: {list(allowed)})")
        if self.basis == "fixed" and "any" not in self.values:
            raise ValueError("a fixed amount needs values.any")
        if self.basis in {"by_tier", "by_degree"} and not self.values:
            raise ValueError(f"basis {self.basis!r} needs values")
        if self.per == "month" and self.basis not in {"fixed", "by_tier", "by_degree"}:
            raise ValueError("only fixed, by_tier or by_degree amounts can be monthly")
        return self


class ReviewRules(_Strict):
    two_city_approvers_above_fen: Fen | None = Field(
        default=None, description="above this amount two different city approvers must approve"
    )


class BudgetRules(_Strict):
    """Per policy and calendar year; an approval that would exceed either is refused."""

    yearly_budget_fen: Fen | None = None
    yearly_quota: int | None = Field(default=None, ge=0)


class StraightThroughRules(_Strict):
    """When a claim is approved without a reviewer (benefits.straight_through): its decision facts confirmed
    by someone other than the talent, its amount within a limit, and not drawn for sampled review."""

    requires: dict[DecisionFact, list[FactSource]] = Field(
        default_factory=dict,
        description="facts that must come from one of these sources, e.g. "
        '{"employer": ["employer_attested", "officer_confirmed"]}',
    )
    max_amount_fen: Fen = Field(description="above this amount a reviewer decides")
    sample_share: float = Field(
        default=0.05, ge=0, le=1, description="the share of clean claims drawn for the normal two-stage review"
    )

    @field_validator("requires")
    @classmethod
    def _confirmed_sources_only(cls, value: dict[str, list[FactSource]]) -> dict[str, list[FactSource]]:
        for fact, sources in value.items():
            if not sources:
                raise ValueError(f"{fact}: name at least one source (employer_attested, officer_confirmed)")
            if FactSource.SELF_DECLARED in sources:
                raise ValueError(f"{fact}: a self-declared fact is confirmed by nobody; name other sources")
        return value


class PolicyRules(_Strict):
    """Everything a policy version says."""

    name: str = Field(min_length=1, max_length=100)
    name_en: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=2000)
    auto_grant: bool = Field(default=False, description="免申即享: claimed automatically on certification")
    active: bool = True
    eligibility: EligibilityRules = Field(default_factory=EligibilityRules)
    limits: ClaimLimits = Field(default_factory=ClaimLimits)
    amount: AmountSchedule
    review: ReviewRules = Field(default_factory=ReviewRules)
    budget: BudgetRules = Field(default_factory=BudgetRules)
    # What a disbursed claim changes for the talent elsewhere (an event other services act on).
    effects: list[Effect] = Field(default_factory=list)
    straight_through: StraightThroughRules | None = Field(
        default=None, description="approval without a reviewer (免申即享 straight through); null: always reviewed"
    )


class PolicyCreate(PolicyRules):
    """POST /api/v1/admin/policies: a new policy, version 1."""

    code: PolicyCode
    change_reason: Reason = ""


class PolicyUpdate(PolicyRules):
    """PUT /api/v1/admin/policies/{code}: the whole policy, stored as a new version."""

    change_reason: Reason = Field(min_length=1)


class PolicyPublic(PolicyRules):
    model_config = ConfigDict(extra="ignore")

    code: str
    version: int
    created_at: datetime
    created_by: str
    change_reason: str


class PoliciesPublic(BaseModel):
    items: list[PolicyPublic]


# --- eligibility ------------------------------------------------------------------------------


class ReasonPublic(BaseModel):
    """Why not: a stable code for the app to translate, and a sentence for people."""

    code: str
    message: str


class EligibilityItem(BaseModel):
    policy_code: str
    policy_name: str
    eligible: bool
    reasons: list[ReasonPublic]
    amount_fen: int | None = None
    claimed: bool
    auto_grant: bool


class EligibilityPublic(BaseModel):
    items: list[EligibilityItem]


# --- claims -----------------------------------------------------------------------------------


def _check_details(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > 20:
        raise ValueError("at most 20 detail fields")
    for key, item in value.items():
        if len(key) > 40:
            raise ValueError(f"detail name {key[:40]}… is longer than 40 characters")
        if not isinstance(item, str | int | bool) or isinstance(item, float):
            raise ValueError(f"{key}: detail values are strings, integers or booleans")
        if isinstance(item, str) and len(item) > 500:
            raise ValueError(f"{key}: at most 500 characters")
    return value


class ClaimCreate(_Strict):
    """One tap: the policy, and the details some policies need (amount_fen, months)."""

    policy_code: PolicyCode
    details: dict[str, Any] = Field(default_factory=dict)

    _details = field_validator("details")(_check_details)


class ClaimResubmit(_Strict):
    """After `returned` (补正): the amended details (replacing the old ones when given)."""

    details: dict[str, Any] | None = None
    note: Reason = ""

    _details = field_validator("details")(lambda v: v if v is None else _check_details(v))


class DecisionCreate(_Strict):
    decision: Literal["approve", "reject", "return"]
    reason: Reason = ""
    amount_fen: Fen | None = Field(default=None, description="for policies whose amount the officer enters")

    @model_validator(mode="after")
    def _reason_for_no(self) -> Self:
        if self.decision != "approve" and not self.reason:
            raise ValueError("a reason is required to reject or return a claim")
        return self


class DisbursementCreate(_Strict):
    payment_reference: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-./:]*$")


class ObjectionCreate(_Strict):
    reason: Reason = Field(min_length=1)


class AppealCreate(_Strict):
    """复议 of a rejection: why the talent disagrees."""

    reason: Reason = Field(min_length=1)


class BatchDecisionCreate(_Strict):
    """One decision and one reason for many claims; each claim is decided as if alone."""

    claim_ids: list[Annotated[str, Field(min_length=1, max_length=36)]] = Field(min_length=1, max_length=500)
    decision: Literal["approve", "reject", "return"]
    reason: Reason = ""

    @model_validator(mode="after")
    def _unique_and_reason(self) -> Self:
        if len(set(self.claim_ids)) != len(self.claim_ids):
            raise ValueError("claim_ids must not repeat a claim")
        if self.decision != "approve" and not self.reason:
            raise ValueError("a reason is required to reject or return claims")
        return self


class BatchDecisionItem(BaseModel):
    claim_id: str
    outcome: Literal["decided", "refused"]
    status: ClaimStatus | None = Field(default=None, description="the claim's status after the decision")
    problem: dict[str, Any] | None = Field(
        default=None, description="why it was refused: the problem+json a single decision would have given"
    )


class BatchDecisionsPublic(BaseModel):
    items: list[BatchDecisionItem]


class OfficerPublic(BaseModel):
    """The official who owns a case (首问负责制), as the talent may reach them: a name and an office number."""

    display_name: str | None
    office_phone: str | None


class OfficerAssign(_Strict):
    """A city approver hands a case to another official; there is no directory of officials in the services,
    so the body names them as their token would (id, display name, office phone)."""

    officer_id: str = Field(min_length=1, max_length=64, description="the official's account id (token sub)")
    display_name: str = Field(min_length=1, max_length=100)
    office_phone: str = Field(default="", max_length=32, pattern=r"^[0-9+\- ]*$")


class HistoryEntry(BaseModel):
    at: datetime
    action: str
    stage: str | None
    from_status: ClaimStatus | None
    to_status: ClaimStatus
    actor: str
    reason: str
    reasons: list[ReasonPublic] = Field(default_factory=list)


class ClaimPublic(BaseModel):
    id: str
    talent_id: str
    policy_code: str
    policy_version: int
    status: ClaimStatus
    auto: bool
    amount_fen: int | None
    details: dict[str, Any]
    year: int
    region_code: str | None
    submitted_at: datetime
    updated_at: datetime
    stage_due_at: datetime | None
    publicized_until: datetime | None
    publicity_ended: bool
    payment_reference: str | None
    disbursed_at: datetime | None
    reasons: list[ReasonPublic] = Field(default_factory=list, description="why the automatic checks said no")
    straight_through: bool = Field(default=False, description="approved without a reviewer (免申即享 straight through)")
    sampled: bool = Field(default=False, description="drawn for the normal review by the day's sampling draw")
    manual_review_reasons: list[str] = Field(
        default_factory=list,
        description="why a reviewer decides this claim: sampled, revoked, employment_disputed, employment_mismatch, "
        "change_request_pending, objection, resubmitted, fact_not_confirmed:<fact>, amount_above_limit, "
        "budget_exhausted; empty for a claim approved straight through or of a policy without straight-through rules",
    )
    history: list[HistoryEntry] = Field(default_factory=list)
    officer: OfficerPublic | None = Field(
        default=None, description="the named officer (首问负责制) who owns the claim; null until one opens it"
    )


class ClaimCase(ClaimPublic):
    """A claim as officials see it: the employer's word on the talent's employment, and what stands in the way
    of approving it straight through."""

    employment_attestation: AttestationOutcome | None = Field(
        default=None, description="the employer's standing attestation: confirmed, disputed, or none"
    )
    straight_through_blockers: list[str] = Field(
        default_factory=list,
        description="the talent's signals that rule out straight-through approval now (revoked, employment_disputed, "
        "employment_mismatch, change_request_pending); empty when nothing stands in the way",
    )


class PublicityEntry(BaseModel):
    """A line of the public 公示 list: what real 公示 lists show, never an identity number or a phone."""

    claim_id: str
    name_masked: str | None = Field(description="the talent's name with the middle masked (张*伟, 张*)")
    employer: str | None = Field(description="the employer's name")
    policy_code: str
    amount_fen: int | None
    objections_until: datetime | None = Field(description="objections are taken until then")


class PublicNotice(BaseModel):
    """A claim on public notice (公示): the pseudonym, never a name."""

    claim_id: str
    talent_pseudonym: str | None
    policy_code: str
    amount_fen: int | None
    publicized_until: datetime | None


class SamplingCommitment(BaseModel):
    """One policy's sampled-review draw of one day: the seed's SHA-256 from before the day, the seed after it."""

    policy_code: str
    day: date
    commitment: str = Field(description="hex SHA-256 of the seed's 32 bytes")
    seed: str | None = Field(description="hex of the seed once the day is over; null until then")


class ObjectionPublic(BaseModel):
    id: str
    claim_id: str
    status: ObjectionStatus
    reason: str
    raised_at: datetime


# --- payment batches and budgets (finance; benefits.payments) --------------------------------------


class PaymentBatchCreate(_Strict):
    policy_code: PolicyCode | None = Field(default=None, description="only this policy's claims; null: every policy")


class PaymentBatchPublic(BaseModel):
    """A payment batch: `lines` claims totalling `total_fen`, the bank file's SHA-256, and the bank's results."""

    id: str
    status: PaymentBatchStatus
    policy_code: str | None
    lines: int
    total_fen: int
    file_sha256: str
    paid: int
    failed: int
    created_by: str
    created_at: datetime
    settled_at: datetime | None


class PaymentProblem(BaseModel):
    """A line of a result file that was not applied, and why."""

    line: int = Field(description="the line number in the result file (the header is line 1)")
    line_ref: str | None
    problem: str


class PaymentResultsPublic(BaseModel):
    """What a result file changed: lines paid and failed now, lines already applied (ignored), and problems."""

    paid: int
    failed: int
    ignored: int
    problems: list[PaymentProblem] = Field(default_factory=list)


class BudgetReconciliation(BaseModel):
    """One policy's year: committed at city approval vs paid (disbursed), against the policy's budget."""

    policy_code: str
    year: int
    budget_fen: int | None = Field(description="the policy's yearly budget now; null: no budget limit")
    committed_fen: int
    committed_count: int
    paid_fen: int
    paid_count: int
    unpaid_fen: int = Field(description="committed and not yet paid (awaiting a batch, at the bank, or failed)")
    claims_committed_fen: int = Field(description="the committed amounts of the claims themselves")
    consistent: bool = Field(description="the budget's committed total equals the claims' committed amounts")


class BudgetsPublic(BaseModel):
    items: list[BudgetReconciliation]


class TalentFactsPublic(BaseModel):
    """What benefits knows of a talent (for officers and debugging the read model)."""

    talent_id: str
    status: TalentFactsStatus
    tier: str | None
    certified_until: date | None
    region_code: str | None


# --- cross-city cost settlement (benefits.settlements) ---------------------------------------------------

MONTH_PATTERN = r"^20[0-9]{2}-(0[1-9]|1[0-2])$"  # years 2000-2099


class SettlementIssue(BaseModel):
    """Issue the statements of a month that has ended (city time)."""

    model_config = ConfigDict(extra="forbid")

    month: str = Field(pattern=MONTH_PATTERN, description="YYYY-MM", examples=["2026-11"])


class SettlementLinePublic(BaseModel):
    """One line of a statement: how often a scene's privilege was granted, at what unit price."""

    scene: str
    privilege: str
    correction_of: str | None = Field(
        description="null: use of the statement's month; YYYY-MM: a late use of that (already issued) month"
    )
    count: int = Field(description="verifications in the scene that granted the privilege")
    unit_price_fen: int | None = Field(description="from the price table; null (provisional only): no price yet")
    amount_fen: int | None = Field(description="count × unit price")
    prices_version: int


class SettlementStatementPublic(BaseModel):
    """A statement of one partner for the codes of one issuing city in one month.

    Issued: `sha256` is the SHA-256 of the canonical JSON of every field but `id`, `sha256` and `provisional`
    (keys sorted, no spaces, UTF-8), also recorded in the audit log."""

    id: str | None = Field(description="null while provisional")
    provisional: bool
    month: str
    partner: str = Field(description="the partner's client id")
    partner_kind: str
    issuing_city: str = Field(description="region code of the city that issued the codes")
    currency: str
    prices_version: int
    verifications: int = Field(description="qualifying verifications settled here (corrections included)")
    total_fen: int | None = Field(description="null (provisional only) while a privilege has no price")
    lines: list[SettlementLinePublic]
    issued_at: str | None = Field(description="ISO 8601 UTC text, exactly as hashed; null while provisional")
    sha256: str | None


class SettlementsPublic(BaseModel):
    """A month's statements: issued, or (before issue) provisional figures of what issuing now would give."""

    month: str
    provisional: bool
    issued_at: datetime | None
    issued_by: str | None = Field(default=None, description="shown to finance and admins only")
    items: list[SettlementStatementPublic]
