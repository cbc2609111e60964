"""Check digits and masking of identity documents and employer codes."""

from __future__ import annotations

from datetime import date

import pytest
from applicant.identity import InvalidIdentity, mask, validate_credit_code, validate_identity

from .conftest import resident_id


class TestResidentId:
    def test_published_sample_number_is_valid(self) -> None:
        # The GB 11643 example number from the standard's annex.
        assert validate_identity("resident_id", "11010519491231002X") == "11010519491231002X"

    def test_lower_case_x_is_normalised(self) -> None:
        assert validate_identity("resident_id", "11010519491231002x").endswith("X")

    def test_wrong_check_digit_is_refused(self) -> None:
        with pytest.raises(InvalidIdentity, match="check digit"):
            validate_identity("resident_id", "110105194912310021")

    def test_birth_date_must_match_the_number(self) -> None:
        number = resident_id(birth="19950307")
        assert validate_identity("resident_id", number, date(1995, 3, 7)) == number
        with pytest.raises(InvalidIdentity, match="birth date"):
            validate_identity("resident_id", number, date(1995, 3, 8))

    def test_impossible_birth_date_is_refused(self) -> None:
        with pytest.raises(InvalidIdentity, match="real date"):
            validate_identity("resident_id", resident_id(birth="19950231"))

    @pytest.mark.parametrize("number", ["", "12345", "3304021995030712345", "33040219950307123A"])
    def test_malformed_numbers_are_refused(self, number: str) -> None:
        with pytest.raises(InvalidIdentity):
            validate_identity("resident_id", number)


class TestOtherDocuments:
    def test_new_permanent_residence_card_uses_the_check_digit(self) -> None:
        first17 = "93330000199001011"
        from applicant.identity import resident_check_char

        valid = first17 + resident_check_char(first17)
        assert validate_identity("foreign_permanent_id", valid) == valid
        wrong = first17 + ("0" if valid[-1] != "0" else "1")
        with pytest.raises(InvalidIdentity):
            validate_identity("foreign_permanent_id", wrong)

    def test_old_permanent_residence_card_has_three_letters_and_twelve_digits(self) -> None:
        assert validate_identity("foreign_permanent_id", "USA330000123456") == "USA330000123456"

    def test_passport_numbers_are_letters_and_digits(self) -> None:
        assert validate_identity("passport", "e12345678") == "E12345678"
        with pytest.raises(InvalidIdentity):
            validate_identity("passport", "E12-345")


class TestCreditCode:
    def test_valid_code_passes(self) -> None:
        assert validate_credit_code("91330402MA2B3C4D53") == "91330402MA2B3C4D53"

    def test_wrong_check_character_is_refused(self) -> None:
        with pytest.raises(InvalidIdentity, match="check character"):
            validate_credit_code("91330402MA2B3C4D54")

    def test_letters_outside_the_alphabet_are_refused(self) -> None:
        with pytest.raises(InvalidIdentity):
            validate_credit_code("91330402MA2B3C4DIO")


class TestMask:
    def test_resident_id_keeps_region_and_last_four(self) -> None:
        assert mask("330402199503071234") == "330402********1234"

    def test_passport_keeps_little(self) -> None:
        assert mask("E12345678") == "E1***5678"
