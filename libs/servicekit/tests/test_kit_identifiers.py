"""The unified social credit code (GB 32100) as the applicant and the gateway both check it."""

from __future__ import annotations

import pytest
from servicekit.identifiers import CREDIT_ALPHABET, InvalidCreditCode, credit_check_char, validate_credit_code

VALID = "91330402MA2B3C4D53"


class TestCreditCode:
    def test_a_code_with_its_check_character_is_valid(self) -> None:
        assert validate_credit_code(VALID) == VALID

    def test_spaces_and_lower_case_are_normalised(self) -> None:
        assert validate_credit_code(" 91330402ma2b 3c4d53 ") == VALID

    def test_the_check_character_is_computed_from_the_first_seventeen(self) -> None:
        assert credit_check_char(VALID[:17]) == VALID[17]

    @pytest.mark.parametrize("last", [c for c in CREDIT_ALPHABET if c != VALID[17]])
    def test_a_wrong_check_character_is_refused(self, last: str) -> None:
        with pytest.raises(InvalidCreditCode, match="check character"):
            validate_credit_code(VALID[:17] + last)

    @pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z", "-", "中"])
    def test_characters_outside_the_alphabet_are_refused(self, letter: str) -> None:
        with pytest.raises(InvalidCreditCode, match="18 characters"):
            validate_credit_code(VALID[:8] + letter + VALID[9:])

    @pytest.mark.parametrize("code", ["", VALID[:17], VALID + "0", "9" * 40])
    def test_a_code_of_another_length_is_refused(self, code: str) -> None:
        with pytest.raises(InvalidCreditCode, match="18 characters"):
            validate_credit_code(code)

    def test_it_is_a_value_error(self) -> None:
        assert issubclass(InvalidCreditCode, ValueError)
