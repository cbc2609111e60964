"""Property-based tests of the identity-number and credit-code validators (hypothesis)."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from applicant.identity import (
    _CREDIT_ALPHABET,
    InvalidIdentity,
    mask,
    resident_check_char,
    validate_credit_code,
    validate_identity,
)
from hypothesis import given
from hypothesis import strategies as st

regions = st.sampled_from(["330402", "330411", "330421", "110105", "440305"])
births = st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31))
sequences = st.integers(min_value=0, max_value=999).map(lambda n: f"{n:03d}")


@st.composite
def resident_ids(draw: st.DrawFn) -> tuple[str, date]:
    birth = draw(births)
    first17 = f"{draw(regions)}{birth:%Y%m%d}{draw(sequences)}"
    return first17 + resident_check_char(first17), birth


@st.composite
def credit_codes(draw: st.DrawFn) -> str:
    body = "".join(draw(st.lists(st.sampled_from(_CREDIT_ALPHABET), min_size=17, max_size=17)))
    total = sum(
        _CREDIT_ALPHABET.index(c) * w
        for c, w in zip(body, (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28), strict=True)
    )
    return body + _CREDIT_ALPHABET[(31 - total % 31) % 31]


class TestResidentIdProperties:
    @given(resident_ids())
    def test_every_well_formed_number_with_its_birth_date_passes(self, case: tuple[str, date]) -> None:
        number, birth = case
        assert validate_identity("resident_id", number, birth) == number

    @given(resident_ids(), st.integers(min_value=0, max_value=16), st.integers(min_value=1, max_value=9))
    def test_changing_any_one_digit_is_caught(self, case: tuple[str, date], position: int, delta: int) -> None:
        number, _ = case
        changed = number[:position] + str((int(number[position]) + delta) % 10) + number[position + 1 :]
        # A single-digit change always breaks the GB 11643 check (weights are coprime to 11),
        # unless it also makes the embedded date impossible, which is refused too.
        with pytest.raises(InvalidIdentity):
            validate_identity("resident_id", changed)

    @given(resident_ids())
    def test_masking_never_shows_the_middle(self, case: tuple[str, date]) -> None:
        number, _ = case
        masked = mask(number)
        assert len(masked) == len(number) and masked[6:14] == "*" * 8 and masked[-4:] == number[-4:]

    @given(st.text(max_size=25))
    def test_arbitrary_text_never_crashes(self, text: str) -> None:
        with contextlib.suppress(InvalidIdentity):  # any other exception fails the test
            validate_identity("resident_id", text)


class TestCreditCodeProperties:
    @given(credit_codes())
    def test_every_code_with_its_check_character_passes(self, code: str) -> None:
        assert validate_credit_code(code) == code

    @given(credit_codes(), st.integers(min_value=0, max_value=17), st.integers(min_value=1, max_value=30))
    def test_changing_any_one_character_is_caught(self, code: str, position: int, shift: int) -> None:
        replacement = _CREDIT_ALPHABET[(_CREDIT_ALPHABET.index(code[position]) + shift) % 31]
        with pytest.raises(InvalidIdentity):
            validate_credit_code(code[:position] + replacement + code[position + 1 :])

    @given(st.text(max_size=25))
    def test_arbitrary_text_never_crashes(self, text: str) -> None:
        with contextlib.suppress(InvalidIdentity):
            validate_credit_code(text)
