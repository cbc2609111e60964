"""Identifiers with a check character that more than one deployable validates.

统一社会信用代码 (unified social credit code, GB 32100-2015): the applicant checks the employer a talent
names, the gateway the employer an administrator registers; both must agree on what a valid code is.
"""

from __future__ import annotations

import re

# GB 32100: digits and capitals without I, O, S, V, Z; each character's value is its index here.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_CODE = re.compile(rf"^[{CREDIT_ALPHABET}]{{18}}$")


class InvalidCreditCode(ValueError):
    """A unified social credit code of the wrong length or alphabet, or with the wrong check character."""


def credit_check_char(first17: str) -> str:
    """The check character (the 18th) of a code's first 17 characters."""
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(code: str) -> str:
    """The code in its canonical form (upper case, no spaces), or InvalidCreditCode saying what is wrong."""
    code = code.strip().upper().replace(" ", "")
    if not _CREDIT_CODE.match(code):
        raise InvalidCreditCode(
            "a unified social credit code has 18 characters (digits and capitals except I, O, S, V, Z)"
        )
    if code[17] != credit_check_char(code[:17]):
        raise InvalidCreditCode("the check character of the unified social credit code is wrong")
    return code
