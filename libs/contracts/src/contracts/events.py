"""The `data` of every event type, one model per versioned type.

Events only grow: a new field gets a default, so old events still parse, and unknown fields are
ignored, so old consumers still read new events. Anything breaking is a new type with a new `.vN`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.states import AttestationOutcome, CertificationStatus, ClaimStatus, FactSource, TalentStatus

TOPIC_APPLICANT = "talent.applicant"
TOPIC_BENEFITS = "talent.benefits"
TOPIC_HOUSING = "talent.housing"
TOPIC_NOTIFY = "talent.notify"
TOPICS: tuple[str, ...] = (TOPIC_APPLICANT, TOPIC_BENEFITS, TOPIC_HOUSING, TOPIC_NOTIFY)
# The one service that publishes on each topic, by the `source` it stamps on its events (its Outbox's name).
# Consumers believe an event only if it arrived on its type's topic from that topic's owner.
TOPIC_OWNERS: Mapping[str, str] = MappingProxyType(
    {TOPIC_APPLICANT: "applicant", TOPIC_BENEFITS: "benefits", TOPIC_HOUSING: "housing", TOPIC_NOTIFY: "notify"}
)

_TYPE_NAME = re.compile(r"^talent(\.[a-z][a-z0-9_]*)+\.v[0-9]+$")

Tier = Literal["A", "B", "C", "D", "E"]
Locale = Literal["zh-CN", "en"]
Degree = Literal["bachelor", "master", "doctor"]
Title = Literal["senior", "deputy_senior", "intermediate"]
Decision = Literal["approve", "reject", "return"]
CertificationRoute = Literal[
    "programme", "degree", "title", "employer_recommendation", "expert_recommendation", "case_by_case"
]
CertificationStage = Literal["county", "city"]
ClaimStage = Literal["acceptance", "county", "city", "appeal"]
Fen = Annotated[int, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]


class EventData(BaseModel):
    """Base of every event's data; a concrete subclass sets the `type` it is published as."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: ClassVar[str]
    topic: ClassVar[str]

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # Catch a misnamed type when the class is defined rather than when a consumer drops it.
        if "type" not in cls.__dict__:
            return
        if not _TYPE_NAME.match(cls.type):
            raise TypeError(f"{cls.__name__}.type {cls.type!r} must look like talent.<...>.v<N>")
        if cls.topic not in TOPICS or not cls.type.startswith(cls.topic + "."):
            raise TypeError(f"{cls.__name__}.type {cls.type!r} is not on topic {cls.topic!r}")


class ApplicantEvent(EventData):
    """An event published by the applicant service."""

    topic = TOPIC_APPLICANT


class BenefitsEvent(EventData):
    """An event published by the benefits service."""

    topic = TOPIC_BENEFITS


class HousingEvent(EventData):
    """An event published by the housing service."""

    topic = TOPIC_HOUSING


class NotifyEvent(EventData):
    """An event published by the notify service."""

    topic = TOPIC_NOTIFY


# --- applicant ---------------------------------------------------------------------------------


class _ProfileFacts(ApplicantEvent):
    """Profile facts other services keep in their read models (eligibility, housing priority)."""

    degree: Degree | None = None
    graduated_on: date | None = None
    birth_date: date | None = None
    title: Title | None = None
    employer_region_code: str | None = None
    employer_in_shortage_catalogue: bool = False
    social_insurance_months: Count = 0
    owns_home_in_city: bool = False
    works_in_city: bool = True
    # Where each decision fact came from (education, title, social_insurance_months, employer, region_code,
    # owns_home_in_city → self_declared | officer_confirmed | employer_attested); a missing fact is self-declared.
    provenance: dict[str, FactSource] = Field(default_factory=dict)
    # For the public 公示 list only: the name masked by the applicant service (张*伟; never the full name) and the
    # employer's name. Partners never receive profile events (notify's partners.json).
    name_masked: str | None = None
    employer_name: str | None = None


class TalentRegistered(_ProfileFacts):
    """A talent completed a profile for the first time."""

    type = "talent.applicant.talent.registered.v1"

    talent_id: str
    pseudonym: str
    region_code: str
    locale: Locale
    registered_at: AwareDatetime
    # The talent points at registration; later changes come as TalentPointsChanged.
    points: Count = 0


class TalentProfileUpdated(_ProfileFacts):
    """A talent changed a profile; carries the full current facts, not a diff."""

    type = "talent.applicant.talent.profile_updated.v1"

    talent_id: str
    region_code: str | None = None
    locale: Locale | None = None


class CertificationSubmitted(ApplicantEvent):
    """A talent applied for certification."""

    type = "talent.applicant.certification.submitted.v1"

    certification_id: str
    talent_id: str
    route: CertificationRoute
    claimed_tier: Tier
    region_code: str


class CertificationDecided(ApplicantEvent):
    """A county reviewer or city approver decided on a certification."""

    type = "talent.applicant.certification.decided.v1"

    certification_id: str
    talent_id: str
    stage: CertificationStage
    decision: Decision
    status: CertificationStatus
    tier: Tier | None = None
    reason: str = ""
    decided_by: str


class ChangeRequestSubmitted(ApplicantEvent):
    """A talent asked to change locked decision facts; until it is decided, their claims are not approved
    straight through (the facts may be about to change)."""

    type = "talent.applicant.change_request.submitted.v1"

    change_request_id: str
    talent_id: str
    # The decision facts the request asks to change (names only: the values stay in the applicant service).
    facts: list[str]
    submitted_at: AwareDatetime


class ChangeRequestDecided(ApplicantEvent):
    """A county reviewer approved or rejected a talent's request to change locked facts."""

    type = "talent.applicant.change_request.decided.v1"

    change_request_id: str
    talent_id: str
    decision: Literal["approve", "reject"]
    # The decision facts the request asked to change (names only: the values stay in the applicant service).
    facts: list[str]
    reason: str = ""
    decided_by: str


class CertificationEscalated(ApplicantEvent):
    """A certification's review at `stage` missed its working-day deadline (it still waits there)."""

    type = "talent.applicant.certification.escalated.v1"

    certification_id: str
    talent_id: str
    stage: CertificationStage
    status: CertificationStatus
    region_code: str
    due_at: AwareDatetime
    breached_at: AwareDatetime
    # The official who owns the case (首问负责制), whose inbox notify tells; none before anyone opened it.
    officer_id: str | None = None


class CertificationOfficerAssigned(ApplicantEvent):
    """A certification has a named officer (首问负责制): the first reviewer who opened or decided it, or the one a
    city approver handed it to. Notify keeps each official's queue from these (their inbox); internal only."""

    type = "talent.applicant.certification.officer_assigned.v1"

    certification_id: str
    officer_id: str
    status: CertificationStatus
    # The deadline of the review stage it waits in, if any: notify warns the officer before it passes.
    stage_due_at: AwareDatetime | None = None
    assigned_at: AwareDatetime


class TalentCertified(ApplicantEvent):
    """A talent holds a tier until `certified_until`; partners may receive this."""

    type = "talent.applicant.talent.certified.v1"

    talent_id: str
    pseudonym: str
    tier: Tier
    points: Count
    certified_until: date
    region_code: str
    issuing_city: str = "330400"


class TalentRevoked(ApplicantEvent):
    """A talent's certification was withdrawn; partners may receive this."""

    type = "talent.applicant.talent.revoked.v1"

    talent_id: str
    pseudonym: str
    reason: str
    revoked_at: AwareDatetime


class EmploymentAttested(ApplicantEvent):
    """An employer (用人单位) confirmed or disputed a talent's employment and social-insurance months.

    A talent has at most one standing attestation: a newer one from the same employer replaces the older,
    so consumers keep the latest per talent. `blocking` is true for a dispute or for a confirmation whose
    facts differ from the profile (`mismatched_facts`): such a talent's claims are not approved straight
    through.
    """

    type = "talent.applicant.employment.attested.v1"

    attestation_id: str
    talent_id: str
    employer_credit_code: str
    outcome: AttestationOutcome
    # The decision facts that now stand employer-attested (names only, never values).
    attested_facts: list[str] = Field(default_factory=list)
    # The facts the employer gave other values for than the talent's profile holds.
    mismatched_facts: list[str] = Field(default_factory=list)
    blocking: bool
    attested_at: AwareDatetime


class EmploymentAttestationWithdrawn(ApplicantEvent):
    """A standing attestation no longer stands: the employer revoked it, or the talent changed employer."""

    type = "talent.applicant.employment.attestation_withdrawn.v1"

    attestation_id: str
    talent_id: str
    employer_credit_code: str
    reason: Literal["revoked", "employer_changed"]
    withdrawn_at: AwareDatetime


class RecommendationFiled(ApplicantEvent):
    """An employer filed a 举荐 (recommendation) for a talent on its staff; no personal data."""

    type = "talent.applicant.recommendation.filed.v1"

    recommendation_id: str
    talent_id: str
    employer_credit_code: str
    claimed_tier: Tier
    filed_at: AwareDatetime


class RecommendationWithdrawn(ApplicantEvent):
    """The employer withdrew its 举荐 before a certification cited it; no personal data, never for partners."""

    type = "talent.applicant.recommendation.withdrawn.v1"

    recommendation_id: str
    talent_id: str
    employer_credit_code: str
    withdrawn_at: AwareDatetime


class DemandDeclared(ApplicantEvent):
    """An employer declared open posts (人才需求申报); the subject is the demand's id."""

    type = "talent.applicant.demand.declared.v1"

    demand_id: str
    employer_credit_code: str
    region_code: str
    title: str
    count: Annotated[int, Field(ge=1)]
    shortage_category: str
    degree: Degree | None = None
    salary_band: str | None = None
    declared_at: AwareDatetime


class DemandClosed(ApplicantEvent):
    """An employer closed a demand declaration (filled or withdrawn); the subject is the demand's id."""

    type = "talent.applicant.demand.closed.v1"

    demand_id: str
    employer_credit_code: str
    region_code: str
    shortage_category: str
    count: Annotated[int, Field(ge=1)]
    closed_at: AwareDatetime


class CodeVerified(ApplicantEvent):
    """A partner verified a talent code (for the city's statistics): the scene, the kind of partner, the outcome.

    Nothing in it names the talent: no talent id, pseudonym, name or number; the subject is a fresh
    verification id, so two verifications of one talent cannot be linked."""

    type = "talent.applicant.code.verified.v1"

    scene: str
    partner_kind: str
    partner: str  # the partner's client id
    valid: bool
    reason: str | None = None
    tier: Tier | None = None
    privileges: list[str] = Field(default_factory=list)
    issuing_city: str = ""


class TalentReinstated(ApplicantEvent):
    """An admin lifted a talent's revocation; partners may receive this.

    `status` is where the talent stands again: certified (at `tier` until `certified_until`, still in the
    future), expired (the certification's validity ran out meanwhile) or registered (never certified).
    """

    type = "talent.applicant.talent.reinstated.v1"

    talent_id: str
    pseudonym: str
    status: TalentStatus
    tier: Tier | None = None
    certified_until: date | None = None
    reinstated_at: AwareDatetime


class TalentPointsChanged(ApplicantEvent):
    """A talent's points were recomputed."""

    type = "talent.applicant.talent.points_changed.v1"

    talent_id: str
    points: Count
    previous_points: Count | None = None


class TalentExpired(ApplicantEvent):
    """A talent's certification ran past `certified_until`."""

    type = "talent.applicant.talent.expired.v1"

    talent_id: str
    pseudonym: str
    expired_on: date


class ContactUpdated(ApplicantEvent):
    """A talent's contact details changed; for notify only, never for partners.

    The values are sealed with the platform's contact keyring (servicekit.crypto.FieldCipher,
    associated data b"contact"), so the broker never holds an e-mail address or phone number in clear.
    """

    type = "talent.applicant.contact.updated.v1"

    talent_id: str
    email_sealed: str | None = None
    phone_sealed: str | None = None
    locale: Locale = "zh-CN"
    time_zone: str = "Asia/Shanghai"


# --- benefits ----------------------------------------------------------------------------------


class ClaimSubmitted(BenefitsEvent):
    """A claim was filed, by the talent or automatically on certification (`auto`), or filed again after it was
    returned for amendment (补正, `resubmitted`: a second event for the same claim, with its new amount)."""

    type = "talent.benefits.claim.submitted.v1"

    claim_id: str
    talent_id: str
    policy_code: str
    policy_version: int
    amount_fen: Fen | None = None
    auto: bool = False
    status: ClaimStatus
    resubmitted: bool = False


class ClaimDecided(BenefitsEvent):
    """A claim passed a stage; at `acceptance` the automatic checks decide and `decided_by` is None."""

    type = "talent.benefits.claim.decided.v1"

    claim_id: str
    talent_id: str
    policy_code: str
    stage: ClaimStage
    decision: Decision
    status: ClaimStatus
    reason: str = ""
    decided_by: str | None = None
    amount_fen: Fen | None = None


class ClaimPublicized(BenefitsEvent):
    """An approved claim is on public notice (公示) until `publicized_until`."""

    type = "talent.benefits.claim.publicized.v1"

    claim_id: str
    talent_id: str
    policy_code: str
    amount_fen: Fen
    publicized_until: AwareDatetime


class ClaimDisbursed(BenefitsEvent):
    """A claim was paid out."""

    type = "talent.benefits.claim.disbursed.v1"

    claim_id: str
    talent_id: str
    policy_code: str
    amount_fen: Fen
    payment_reference: str
    disbursed_at: AwareDatetime


class ClaimPaymentFailed(BenefitsEvent):
    """The bank refused a publicized claim's line of a payment batch (a closed account, a wrong payee): the
    claim is `payment_failed` and a later batch pays it. Internal: no bank or payee details travel."""

    type = "talent.benefits.claim.payment_failed.v1"

    claim_id: str
    talent_id: str
    policy_code: str
    amount_fen: Fen
    status: ClaimStatus


class ClaimRenewalRefused(BenefitsEvent):
    """A multi-year policy's yearly renewal (`year`, after claim `claim_id`) was not filed: the talent no longer
    qualifies. `reasons` are eligibility reason codes only (e.g. `not_certified`, `works_in_city`,
    `max_claims`), which notify turns into words; no facts about the person travel."""

    type = "talent.benefits.renewal.refused.v1"

    claim_id: str
    talent_id: str
    policy_code: str
    year: int
    reasons: list[str]


class HousingVoucherUsed(BenefitsEvent):
    """A talent used the housing voucher granted by claim `claim_id`."""

    type = "talent.benefits.housing_voucher.used.v1"

    talent_id: str
    claim_id: str


class ClaimEscalated(BenefitsEvent):
    """A claim's review at `stage` missed its deadline."""

    type = "talent.benefits.claim.escalated.v1"

    claim_id: str
    talent_id: str
    stage: ClaimStage
    due_at: AwareDatetime
    breached_at: AwareDatetime
    # "stage": the review stage's own deadline (working days); "end_to_end": the 90-day limit of the whole claim.
    deadline: Literal["stage", "end_to_end"] = "stage"
    # The official who owns the case (首问负责制), whose inbox notify tells; none before anyone opened it.
    officer_id: str | None = None


class ClaimOfficerAssigned(BenefitsEvent):
    """A claim has a named officer (首问负责制): the first reviewer who opened or decided it, or the one a city
    approver handed it to. Notify keeps each official's queue from these (their inbox); internal only."""

    type = "talent.benefits.claim.officer_assigned.v1"

    claim_id: str
    officer_id: str
    status: ClaimStatus
    # The deadline of the review stage it waits in, if any: notify warns the officer before it passes.
    stage_due_at: AwareDatetime | None = None
    assigned_at: AwareDatetime


class PolicyPublished(BenefitsEvent):
    """A benefit policy's version came into force: what the city's statistics need of it (its yearly budget)."""

    type = "talent.benefits.policy.published.v1"

    policy_code: str
    version: int
    yearly_budget_fen: Fen | None = None
    published_at: AwareDatetime


# --- housing -----------------------------------------------------------------------------------


class RoundOpened(HousingEvent):
    """A housing allocation round is taking applications."""

    type = "talent.housing.round.opened.v1"

    round_id: str
    name: str
    closes_at: AwareDatetime
    unit_count: Count


class RoundClosed(HousingEvent):
    """A round stopped taking applications; `seed_commitment` (hex SHA-256 of the secret seed) is now public."""

    type = "talent.housing.round.closed.v1"

    round_id: str
    seed_commitment: str
    application_count: Count


class RoundDrawn(HousingEvent):
    """A round's lottery was drawn; `seed_commitment` is the hex SHA-256 of the seed's bytes."""

    type = "talent.housing.round.drawn.v1"

    round_id: str
    seed: str
    seed_commitment: str
    application_count: Count


class RoundCompleted(HousingEvent):
    """A drawn round has no open offer left (the last was answered or lapsed): its unallocated units went back
    to the market."""

    type = "talent.housing.round.completed.v1"

    round_id: str


class _OfferFacts(HousingEvent):
    """What every offer event names."""

    offer_id: str
    round_id: str
    unit_id: str
    talent_id: str
    # The unit's number in its project ("3-1201"), so messages name the flat, not its id; optional since
    # events written before it was added lack it.
    unit_number: str | None = None


class OfferMade(_OfferFacts):
    """A unit was offered to a talent until `expires_at`."""

    type = "talent.housing.offer.made.v1"

    expires_at: AwareDatetime


class OfferAccepted(_OfferFacts):
    """A talent accepted an offer; a lease follows."""

    type = "talent.housing.offer.accepted.v1"


class OfferDeclined(_OfferFacts):
    """A talent declined an offer; `decline_count` is how many they have declined so far."""

    type = "talent.housing.offer.declined.v1"

    decline_count: Count


class OfferLapsed(_OfferFacts):
    """An offer expired unanswered."""

    type = "talent.housing.offer.lapsed.v1"


class LeaseStarted(HousingEvent):
    """A talent's lease began; benefits stops any rent subsidy on this."""

    type = "talent.housing.lease.started.v1"

    lease_id: str
    talent_id: str
    unit_id: str
    unit_number: str | None = None  # as in the offer events
    starts_on: date
    ends_on: date
    monthly_rent_fen: Fen


class LeaseRenewed(HousingEvent):
    """A talent's lease was renewed (once, for the tiers the catalogue allows) until `ends_on`."""

    type = "talent.housing.lease.renewed.v1"

    lease_id: str
    talent_id: str
    unit_id: str
    unit_number: str | None = None  # as in the offer events
    ends_on: date
    monthly_rent_fen: Fen


class LeaseEnded(HousingEvent):
    """A talent's lease ended."""

    type = "talent.housing.lease.ended.v1"

    lease_id: str
    talent_id: str
    unit_id: str
    unit_number: str | None = None  # as in the offer events
    ended_on: date
    reason: str


# --- notify ------------------------------------------------------------------------------------


class NotificationCreated(NotifyEvent):
    """A notification was put in a recipient's inbox."""

    type = "talent.notify.notification.created.v1"

    notification_id: str
    recipient_id: str
    category: str
    source_event_id: str | None = None
