"""The points formula of docs/domain.md, read from data/points.json."""

from __future__ import annotations

import pytest
from applicant import catalogue
from applicant.points import compute


class TestPointsFormula:
    def test_every_term_adds_up(self) -> None:
        # A 100 + doctor 15 + senior 10 + 24 months x 0.5 = 12 + shortage 5
        assert (
            compute(tier="A", degree="doctor", title="senior", social_insurance_months=24, in_shortage_catalogue=True)
            == 142
        )

    def test_insured_months_are_capped_at_twenty_points(self) -> None:
        assert (
            compute(tier=None, degree="bachelor", title=None, social_insurance_months=600, in_shortage_catalogue=False)
            == 25
        )

    def test_half_points_are_rounded_down(self) -> None:
        assert (
            compute(tier="E", degree="bachelor", title=None, social_insurance_months=3, in_shortage_catalogue=False)
            == 26
        )

    @pytest.mark.parametrize(("tier", "base"), [("A", 100), ("B", 80), ("C", 60), ("D", 40), ("E", 20), (None, 0)])
    def test_tier_base_comes_from_the_data_file(self, tier: str | None, base: int) -> None:
        assert compute(tier=tier, degree="", title=None, social_insurance_months=0, in_shortage_catalogue=False) == base

    def test_the_catalogue_lists_employers_and_key_industries(self) -> None:
        shortage = catalogue.shortage_catalogue()
        assert shortage.covers("91330402MA2B3C4D53", None)
        assert shortage.covers("91330402MA2B3C4D66", "集成电路")
        assert not shortage.covers("91330402MA2B3C4D66", "餐饮")

    def test_validity_and_city_approvals_are_data(self) -> None:
        assert {t.code: t.validity_years for t in catalogue.tiers().values()} == {
            "A": 5,
            "B": 5,
            "C": 5,
            "D": 3,
            "E": 3,
        }
        assert catalogue.city_approvals_needed("degree", "A") == 2
        assert catalogue.city_approvals_needed("case_by_case", "E") == 2
        assert catalogue.city_approvals_needed("title", "D") == 1
