"""The draw as pure functions: the order rule, quotas, the lottery formula, and detection of any tampering."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import asdict

from housing import draw
from hypothesis import given, settings
from hypothesis import strategies as st

SEED = bytes(range(32))


def _entries(*specs: tuple[str, str, int]) -> list[draw.Entry]:
    return [draw.Entry(pseudonym, tier, points) for pseudonym, tier, points in specs]


def _rows(ranked: list[draw.Ranked]) -> list[dict[str, object]]:
    return [{**asdict(r), "application_pseudonym": r.pseudonym} for r in ranked]


class TestOrder:
    def test_tier_first_then_points_then_lottery(self) -> None:
        ranked = draw.rank(
            _entries(("e-high", "E", 99), ("a-low", "A", 1), ("c-60", "C", 60), ("c-70", "C", 70)),
            SEED,
            unit_count=2,
        )
        assert [r.pseudonym for r in ranked] == ["a-low", "c-70", "c-60", "e-high"]
        assert [r.selected for r in ranked] == [True, True, False, False]
        assert [r.rank for r in ranked] == [1, 2, 3, 4]

    def test_ties_are_broken_by_the_hmac_of_the_pseudonym_under_the_seed(self) -> None:
        entries = _entries(*[(f"ha_{i}", "D", 40) for i in range(50)])
        ranked = draw.rank(entries, SEED, unit_count=10)
        expected = sorted(
            (e.pseudonym for e in entries),
            key=lambda p: int.from_bytes(hmac.new(SEED, p.encode(), hashlib.sha256).digest(), "big"),
        )
        assert [r.pseudonym for r in ranked] == expected
        assert ranked[0].lottery_number == hmac.new(SEED, expected[0].encode(), hashlib.sha256).hexdigest()

    def test_another_seed_gives_another_lottery_order(self) -> None:
        entries = _entries(*[(f"ha_{i}", "D", 40) for i in range(20)])
        first = [r.pseudonym for r in draw.rank(entries, SEED, unit_count=5)]
        second = [r.pseudonym for r in draw.rank(entries, b"\x01" * 32, unit_count=5)]
        assert first != second and sorted(first) == sorted(second)

    def test_commitment_is_the_sha256_of_the_seed_bytes(self) -> None:
        assert draw.seed_commitment(SEED) == hashlib.sha256(SEED).hexdigest()


class TestQuotas:
    def test_a_tier_quota_reserves_units_ahead_of_better_tiers(self) -> None:
        entries = _entries(("a1", "A", 100), ("b1", "B", 80), ("b2", "B", 80), ("e1", "E", 20), ("e2", "E", 25))
        ranked = draw.rank(entries, SEED, unit_count=3, tier_quotas={"E": 1})
        selected = [r.pseudonym for r in ranked if r.selected]
        assert "e2" in selected and "e1" not in selected
        assert len(selected) == 3 and ranked[-1].pseudonym == "e1"
        # Selected first (in base order), then the waitlist (in base order).
        assert next((r.pseudonym, r.tier) for r in ranked) == ("a1", "A")
        assert (ranked[1].tier, ranked[2].pseudonym, ranked[3].tier) == ("B", "e2", "B")
        assert [r.selected for r in ranked] == [True, True, True, False, False]

    def test_quota_seats_no_one_needs_go_back_to_the_general_pool(self) -> None:
        entries = _entries(("a1", "A", 100), ("b1", "B", 80), ("c1", "C", 60))
        ranked = draw.rank(entries, SEED, unit_count=2, tier_quotas={"E": 2})
        assert [r.pseudonym for r in ranked if r.selected] == ["a1", "b1"]


class TestVerify:
    def test_an_honest_draw_verifies(self) -> None:
        ranked = draw.rank(_entries(("x", "C", 1), ("y", "C", 1), ("z", "B", 0)), SEED, unit_count=1)
        outcome = draw.verify(_rows(ranked), SEED.hex(), unit_count=1, seed_commitment_hex=draw.seed_commitment(SEED))
        assert outcome.matches and outcome.checked == 3

    def test_swapped_ranks_a_forged_lottery_number_or_another_seed_are_caught(self) -> None:
        ranked = draw.rank(_entries(*[(f"p{i}", "C", 10) for i in range(6)]), SEED, unit_count=2)
        rows = _rows(ranked)
        swapped = [dict(r) for r in rows]
        swapped[0]["rank"], swapped[1]["rank"] = 2, 1
        assert not draw.verify(swapped, SEED.hex(), unit_count=2).matches
        forged = [dict(r) for r in rows]
        forged[3]["lottery_number"] = "0" * 64
        assert not draw.verify(forged, SEED.hex(), unit_count=2).matches
        assert not draw.verify(rows, (b"\x02" * 32).hex(), unit_count=2).matches
        wrong_commitment = draw.verify(rows, SEED.hex(), unit_count=2, seed_commitment_hex="ab" * 32)
        assert wrong_commitment.problems == ["sha256(seed) does not equal the published seed_commitment"]
        assert not draw.verify(rows, "not hex", unit_count=2).matches

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(st.tuples(st.sampled_from("ABCDE"), st.integers(0, 150)), max_size=60),
        st.integers(0, 70),
        st.dictionaries(st.sampled_from("ABCDE"), st.integers(0, 10), max_size=3),
        st.binary(min_size=32, max_size=32),
    )
    def test_any_ranking_is_a_permutation_that_verifies(
        self, specs: list[tuple[str, int]], units: int, quotas: dict[str, int], seed: bytes
    ) -> None:
        entries = [draw.Entry(f"ha_{i}", tier, points) for i, (tier, points) in enumerate(specs)]
        ranked = draw.rank(entries, seed, unit_count=units, tier_quotas=quotas)
        assert sorted(r.pseudonym for r in ranked) == sorted(e.pseudonym for e in entries)
        assert sum(r.selected for r in ranked) == min(units, len(entries))
        selected_flags = [r.selected for r in ranked]
        assert selected_flags == sorted(selected_flags, reverse=True)
        for tier, quota in quotas.items():
            of_tier = sum(1 for e in entries if e.tier == tier)
            if sum(quotas.values()) <= units:
                assert sum(1 for r in ranked if r.selected and r.tier == tier) >= min(quota, of_tier)
        assert draw.verify(_rows(ranked), seed.hex(), unit_count=units, tier_quotas=quotas).matches
