"""The rule interpreter without the web or a database: eligibility, limits, amounts, working days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from benefits.models import TalentFacts
from benefits.rules import (
    ClaimRecord,
    InvalidDetails,
    TalentSituation,
    compute_amount,
    eligibility_reasons,
    limit_reasons,
    period_key,
)
from benefits.schemas import AmountSchedule, ClaimLimits, EligibilityRules
from servicekit.calendar import add_working_days

TODAY = date(2026, 11, 25)
CST = timedelta(hours=8)


def _facts(**values: object) -> TalentFacts:
    base: dict[str, object] = {
        "talent_id": "t1",
        "status": "certified",
        "tier": "E",
        "certified_until": date(2028, 1, 1),
        "profile_as_of": datetime(2026, 1, 1, tzinfo=UTC),
        "degree": "bachelor",
        "graduated_on": date(2025, 6, 30),
        "birth_date": date(1990, 1, 1),
        "social_insurance_months": 3,
        "works_in_city": True,
        "region_code": "330402",
    }
    base.update(values)
    return TalentFacts(**base)


def _codes(
    rules: EligibilityRules, facts: TalentFacts, lease: bool = False, record: ClaimRecord | None = None
) -> list[str]:
    situation = TalentSituation(facts=facts, has_active_lease=lease)
    return [r.code for r in eligibility_reasons(rules, situation, TODAY, record or ClaimRecord())]


class TestEligibilityRules:
    def test_no_rules_means_any_certified_talent(self) -> None:
        assert _codes(EligibilityRules(), _facts()) == []

    def test_every_failing_rule_is_named(self) -> None:
        rules = EligibilityRules(
            tiers=["A"],
            degrees=["doctor"],
            max_age=30,
            min_social_insurance_months=12,
            requires_shortage_catalogue=True,
            regions=["330411"],
            exclusions=["active_lease"],
        )
        assert _codes(rules, _facts(), lease=True) == [
            "tier",
            "degree",
            "age",
            "social_insurance",
            "shortage_catalogue",
            "region",
            "active_lease",
        ]

    def test_a_policy_may_require_facts_confirmed_at_the_source(self) -> None:
        rules = EligibilityRules(provenance={"social_insurance_months": ["employer_attested", "officer_confirmed"]})
        assert _codes(rules, _facts()) == ["provenance"]
        assert _codes(rules, _facts(provenance={"social_insurance_months": "self_declared"})) == ["provenance"]
        assert _codes(rules, _facts(provenance={"social_insurance_months": "employer_attested"})) == []
        assert _codes(rules, _facts(provenance={"social_insurance_months": "officer_confirmed"})) == []

    def test_a_provenance_rule_names_only_known_facts_and_sources(self) -> None:
        with pytest.raises(ValueError):
            EligibilityRules.model_validate({"provenance": {"points": ["officer_confirmed"]}})
        with pytest.raises(ValueError):
            EligibilityRules.model_validate({"provenance": {"title": ["the_talents_mother"]}})

    def test_graduation_window_applies_to_the_first_claim_only(self) -> None:
        rules = EligibilityRules(max_months_since_graduation=24)
        late = _facts(graduated_on=date(2023, 6, 30))
        assert _codes(rules, late) == ["graduation"]
        assert _codes(rules, late, record=ClaimRecord(counted_claims=1)) == []

    @pytest.mark.parametrize(
        ("status", "until"), [("revoked", None), ("expired", None), ("certified", date(2026, 11, 24))]
    )
    def test_a_talent_without_a_current_certification_is_refused(self, status: str, until: date | None) -> None:
        assert _codes(EligibilityRules(), _facts(status=status, certified_until=until)) == ["not_certified"]

    def test_unknown_talent_gets_one_reason(self) -> None:
        reasons = eligibility_reasons(EligibilityRules(), TalentSituation(None, False), TODAY, ClaimRecord())
        assert [r.code for r in reasons] == ["unknown_talent"]


class TestLimits:
    def test_period_keys_follow_the_frequency(self) -> None:
        assert period_key(ClaimLimits(frequency="once"), "t", "P", 2026) == "t:P"
        assert period_key(ClaimLimits(frequency="yearly"), "t", "P", 2026) == "t:P:2026"
        assert period_key(ClaimLimits(frequency="any"), "t", "P", 2026) == "t:P:open"

    def test_max_claims_and_months(self) -> None:
        limits = ClaimLimits(frequency="yearly", max_claims=3, max_months=36)
        assert [r.code for r in limit_reasons(limits, ClaimRecord(counted_claims=3, months_used=36))] == [
            "max_claims",
            "max_months",
        ]


class TestAmounts:
    def test_by_degree_and_by_tier_monthly(self) -> None:
        degree = AmountSchedule(basis="by_degree", values={"bachelor": 100, "master": 200})
        assert compute_amount(degree, ClaimLimits(), _facts(), {}, ClaimRecord()).amount_fen == 100
        monthly = AmountSchedule(basis="by_tier", per="month", values={"E": 1000})
        limits = ClaimLimits(max_months=36)
        amount = compute_amount(monthly, limits, _facts(), {}, ClaimRecord(months_used=30))
        assert (amount.amount_fen, amount.months) == (6000, 6)  # only 6 months are left

    def test_entered_amount_is_checked_against_the_ceiling(self) -> None:
        schedule = AmountSchedule(basis="entered_by_talent", ceiling_fen=1000)
        assert compute_amount(schedule, ClaimLimits(), _facts(), {"amount_fen": 999}, ClaimRecord()).amount_fen == 999
        for bad in ({"amount_fen": 1001}, {"amount_fen": 0}, {"amount_fen": True}, {}):
            with pytest.raises(InvalidDetails):
                compute_amount(schedule, ClaimLimits(), _facts(), bad, ClaimRecord())

    @pytest.mark.parametrize(
        "schedule",
        [
            AmountSchedule(basis="fixed", values={"any": 100}),
            AmountSchedule(basis="by_tier", per="month", values={"E": 1000}),
            AmountSchedule(basis="entered_by_officer"),
        ],
        ids=["fixed", "by_tier", "entered_by_officer"],
    )
    def test_a_claimant_cannot_enter_the_amount_of_a_policy_that_computes_it(self, schedule: AmountSchedule) -> None:
        # Found by the security suite (mass assignment): the amount was ignored and the claim accepted.
        with pytest.raises(InvalidDetails) as raised:
            compute_amount(schedule, ClaimLimits(), _facts(), {"amount_fen": 99_999_999}, ClaimRecord())
        assert raised.value.field == "details.amount_fen"

    def test_missing_tier_amount_is_an_error_not_zero(self) -> None:
        schedule = AmountSchedule(basis="by_tier", values={"A": 1})
        with pytest.raises(InvalidDetails):
            compute_amount(schedule, ClaimLimits(), _facts(), {}, ClaimRecord())
        assert compute_amount(schedule, ClaimLimits(), _facts(), {}, ClaimRecord(), estimate=True).amount_fen is None


class TestWorkingDays:
    def test_five_working_days_skip_the_weekend(self) -> None:
        friday_10am = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in 嘉兴
        assert add_working_days(friday_10am, 5, CST) == datetime(2026, 12, 4, 2, 0, tzinfo=UTC)

    def test_weekday_is_that_of_the_city_not_utc(self) -> None:
        # Saturday 01:00 in 嘉兴 is still Friday in UTC: counting starts from the local Saturday.
        saturday_local = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)
        assert add_working_days(saturday_local, 1, CST) == datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
