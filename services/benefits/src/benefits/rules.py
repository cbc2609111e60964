"""The interpreter of the policy rule vocabulary: eligibility, claim limits, amounts.

Working days are the city's calendar, shared with applicant: servicekit.calendar.

Pure functions of (rules, facts, history, today) so they are testable without the web or the database.
Each eligibility rule of `EligibilityRules` has one small check here; a rule left out of a policy
does not apply. Nothing in the policy data is ever evaluated as code or as SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from contracts import FactSource
from servicekit.messages import EN, render
from servicekit.rulebook import RuleBook

from benefits.models import TalentFacts
from benefits.schemas import AmountSchedule, ClaimLimits, EligibilityRules
from benefits.settlement_rules import SETTLEMENT_PRICES
from benefits.states import TalentFactsStatus


@dataclass(frozen=True)
class Reason:
    """A "no": a stable code (for apps and statistics) and a catalogue message (data/messages.json) rendered in
    the reader's language; stored with its key and params so a stored reason is read in the reader's language."""

    code: str
    key: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The sentence in the current request's language."""
        return render(self.key, self.params)

    def public(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}

    def stored(self) -> dict[str, Any]:
        # `message` (English) keeps rows readable as they were before messages had keys.
        return {
            "code": self.code,
            "message": render(self.key, self.params, EN),
            "key": self.key,
            "params": dict(self.params),
        }


def reason_text(stored: Mapping[str, Any]) -> dict[str, str]:
    """A stored reason as the reader sees it: its message rendered in the request's language."""
    message = str(stored.get("message", ""))
    if stored.get("key"):
        message = render(str(stored["key"]), stored.get("params"), fallback=message)
    return {"code": str(stored.get("code", "")), "message": message}


@dataclass(frozen=True)
class TalentSituation:
    """The facts plus what housing says now (leases are kept in their own table)."""

    facts: TalentFacts | None
    has_active_lease: bool


@dataclass(frozen=True)
class ClaimRecord:
    """The talent's earlier claims of one policy that count (open or paid; not rejected or withdrawn)."""

    counted_claims: int = 0
    period_taken: bool = False
    months_used: int = 0


def years_between(start: date, end: date) -> int:
    return end.year - start.year - ((end.month, end.day) < (start.month, start.day))


def months_between(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)


# --- eligibility ------------------------------------------------------------------------------

EligibilityCheck = Callable[[EligibilityRules, TalentFacts, date, ClaimRecord], Reason | None]


def _certified(rules: EligibilityRules, facts: TalentFacts, today: date, record: ClaimRecord) -> Reason | None:
    if facts.status != TalentFactsStatus.CERTIFIED:
        key = {TalentFactsStatus.REVOKED: "revoked", TalentFactsStatus.EXPIRED: "expired"}.get(
            facts.status, "not_certified_yet"
        )
        return Reason("not_certified", f"benefits.reason.{key}")
    if facts.certified_until is not None and facts.certified_until < today:
        return Reason("not_certified", "benefits.reason.certification_ended", {"on": facts.certified_until.isoformat()})
    return None


def _tier(rules: EligibilityRules, facts: TalentFacts, today: date, record: ClaimRecord) -> Reason | None:
    if rules.tiers is not None and facts.tier not in rules.tiers:
        tiers = ", ".join(rules.tiers)
        if not facts.tier:
            return Reason("tier", "benefits.reason.no_tier", {"tiers": tiers})
        return Reason("tier", "benefits.reason.tier", {"tier": facts.tier, "tiers": tiers})
    return None


def _degree(rules: EligibilityRules, facts: TalentFacts, today: date, record: ClaimRecord) -> Reason | None:
    if rules.degrees is not None and facts.degree not in rules.degrees:
        return Reason("degree", "benefits.reason.degree", {"degrees": ", ".join(rules.degrees)})
    return None


def _age(rules: EligibilityRules, facts: TalentFacts, today: date, record: ClaimRecord) -> Reason | None:
    if rules.max_age is None:
        return None
    if facts.birth_date is None:
        return Reason("profile_missing", "benefits.reason.birth_date_unknown")
    if years_between(facts.birth_date, today) > rules.max_age:
        return Reason("age", "benefits.reason.age", {"max_age": rules.max_age})
    return None


def _graduation(rules: EligibilityRules, facts: TalentFacts, today: date, record: ClaimRecord) -> Reason | None:
    # The window opens the policy; later years of a multi-year policy continue what the first claim started.
    if rules.max_months_since_graduation is None or record.counted_claims > 0:
        return None
    if facts.graduated_on is None:
        return Reason("profile_missing", "benefits.reason.graduation_unknown")
    if months_between(facts.graduated_on, today) > rules.max_months_since_graduation:
        params = {"months": rules.max_months_since_graduation, "graduated_on": facts.graduated_on.isoformat()}
        return Reason("graduation", "benefits.reason.graduation", params)
    return None


def _social_insurance(rules: EligibilityRules, facts: TalentFacts, today: date, record: ClaimRecord) -> Reason | None:
    if facts.social_insurance_months < rules.min_social_insurance_months:
        params = {"required": rules.min_social_insurance_months, "have": facts.social_insurance_months}
        return Reason("social_insurance", "benefits.reason.social_insurance", params)
    return None


def _works_in_city(rules: EligibilityRules, facts: TalentFacts, today: date, record: ClaimRecord) -> Reason | None:
    if rules.requires_works_in_city and not facts.works_in_city:
        return Reason("works_in_city", "benefits.reason.works_in_city")
    return None


def _shortage(rules: EligibilityRules, facts: TalentFacts, today: date, record: ClaimRecord) -> Reason | None:
    if rules.requires_shortage_catalogue and not facts.employer_in_shortage_catalogue:
        return Reason("shortage_catalogue", "benefits.reason.shortage_catalogue")
    return None


def _region(rules: EligibilityRules, facts: TalentFacts, today: date, record: ClaimRecord) -> Reason | None:
    if rules.regions is not None and facts.home_region not in rules.regions:
        return Reason("region", "benefits.reason.region", {"regions": ", ".join(rules.regions)})
    return None


def _provenance(rules: EligibilityRules, facts: TalentFacts, today: date, record: ClaimRecord) -> Reason | None:
    unconfirmed = [
        fact
        for fact, sources in rules.provenance.items()
        if facts.provenance.get(fact, FactSource.SELF_DECLARED) not in sources
    ]
    if unconfirmed:
        sources = "; ".join(f"{f}: {' / '.join(rules.provenance[f])}" for f in unconfirmed)
        return Reason("provenance", "benefits.reason.provenance", {"facts": ", ".join(unconfirmed), "sources": sources})
    return None


ELIGIBILITY_CHECKS: tuple[EligibilityCheck, ...] = (
    _certified,
    _tier,
    _degree,
    _age,
    _graduation,
    _social_insurance,
    _works_in_city,
    _shortage,
    _region,
    _provenance,
)

# Each exclusion a policy may name: the fact that triggers it (the talent is told benefits.reason.<exclusion>).
EXCLUSIONS: Mapping[str, Callable[[TalentSituation], bool]] = {
    "owns_home_in_city": lambda s: bool(s.facts and s.facts.owns_home_in_city),
    "active_lease": lambda s: s.has_active_lease,
    "housing_voucher_used": lambda s: bool(s.facts and s.facts.housing_voucher_used),
}


def eligibility_reasons(
    rules: EligibilityRules, situation: TalentSituation, today: date, record: ClaimRecord
) -> list[Reason]:
    """Every reason the talent may not claim under these rules (empty: eligible)."""
    facts = situation.facts
    if facts is None:
        return [Reason("unknown_talent", "benefits.reason.unknown_talent")]
    reasons = [r for check in ELIGIBILITY_CHECKS if (r := check(rules, facts, today, record)) is not None]
    if not facts.profile_known:
        reasons.append(Reason("profile_missing", "benefits.reason.profile_not_arrived"))
    for exclusion in rules.exclusions:
        if EXCLUSIONS[exclusion](situation):
            reasons.append(Reason(exclusion, f"benefits.reason.{exclusion}"))
    return reasons


def excludes(rules: EligibilityRules, exclusion: str) -> bool:
    return exclusion in rules.exclusions


# --- limits -----------------------------------------------------------------------------------


def period_key(limits: ClaimLimits, talent_id: str, policy_code: str, year: int) -> str:
    """The key that makes a second claim of the same period collide in the database."""
    if limits.frequency == "once":
        return f"{talent_id}:{policy_code}"
    if limits.frequency == "yearly":
        return f"{talent_id}:{policy_code}:{year}"
    return f"{talent_id}:{policy_code}:open"


def limit_reasons(limits: ClaimLimits, record: ClaimRecord) -> list[Reason]:
    """Why another claim would exceed the policy's limits (empty: within them)."""
    reasons = []
    if record.period_taken:
        reasons.append(Reason("already_claimed", f"benefits.reason.already_claimed_{limits.frequency}"))
    if limits.max_claims is not None and record.counted_claims >= limits.max_claims:
        reasons.append(Reason("max_claims", "benefits.reason.max_claims", {"max_claims": limits.max_claims}))
    if limits.max_months is not None and record.months_used >= limits.max_months:
        reasons.append(Reason("max_months", "benefits.reason.max_months", {"max_months": limits.max_months}))
    return reasons


# --- amounts ----------------------------------------------------------------------------------


class InvalidDetails(ValueError):
    """The claim's details do not fit the policy (a 422 naming the field)."""

    def __init__(self, field: str, key: str, params: Mapping[str, Any] | None = None) -> None:
        self.field = field
        self.key = key
        self.params = dict(params or {})
        self.message = render(key, self.params, EN)  # English, for logs; readers get render(key, params)
        super().__init__(f"{field}: {self.message}")


@dataclass(frozen=True)
class Amount:
    amount_fen: int | None
    months: int | None


def _base_value(schedule: AmountSchedule, facts: TalentFacts | None) -> int | None:
    if schedule.basis == "fixed":
        return schedule.values["any"]
    if schedule.basis == "none":
        return 0
    key = {"by_tier": facts.tier if facts else None, "by_degree": facts.degree if facts else None}.get(schedule.basis)
    return schedule.values.get(key) if key else None


def compute_amount(
    schedule: AmountSchedule,
    limits: ClaimLimits,
    facts: TalentFacts | None,
    details: Mapping[str, Any],
    record: ClaimRecord,
    *,
    estimate: bool = False,
) -> Amount:
    """The claim's amount in fen (None when an officer enters it); raise InvalidDetails on bad details.

    With `estimate`, amounts the talent enters are None and nothing is raised (the eligibility list).
    """
    if schedule.basis != "entered_by_talent" and "amount_fen" in details and not estimate:
        # Only a policy whose amount the claimant enters takes one; anywhere else it is a forged amount.
        raise InvalidDetails("details.amount_fen", "benefits.details.amount_set_by_rules")
    if schedule.basis == "entered_by_officer":
        return Amount(None, None)
    if schedule.basis == "entered_by_talent":
        value = details.get("amount_fen")
        if value is None:
            if estimate:
                return Amount(None, None)
            raise InvalidDetails("details.amount_fen", "benefits.details.amount_needed")
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise InvalidDetails("details.amount_fen", "benefits.details.amount_positive")
        if schedule.ceiling_fen is not None and value > schedule.ceiling_fen:
            raise InvalidDetails(
                "details.amount_fen", "benefits.details.amount_ceiling", {"ceiling": schedule.ceiling_fen}
            )
        return Amount(value, None)
    base = _base_value(schedule, facts)
    if base is None:
        if estimate:
            return Amount(None, None)
        raise InvalidDetails("policy_code", "benefits.details.no_amount_for_you")
    if schedule.per == "claim":
        return Amount(base, None)
    remaining = schedule.max_months_per_claim
    if limits.max_months is not None:
        remaining = min(remaining, max(limits.max_months - record.months_used, 0))
    months = details.get("months", remaining)
    if isinstance(months, bool) or not isinstance(months, int) or months < 1:
        raise InvalidDetails("details.months", "benefits.details.months_whole")
    if months > remaining and not estimate:
        raise InvalidDetails("details.months", "benefits.details.months_at_most", {"remaining": remaining})
    months = min(months, remaining)
    return Amount(base * months, months)


# --- the service's rule book ----------------------------------------------------------------------------
# Benefit policies keep their own versions (benefit_policy); the other rule sets of the service live here.
RULES = RuleBook("benefits", SETTLEMENT_PRICES)
