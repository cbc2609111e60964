"""Check digits of identity documents (GB 11643) and employer codes (GB 32100), and masking."""

from __future__ import annotations

import re
from datetime import date

from servicekit.identifiers import CREDIT_ALPHABET, InvalidCreditCode
from servicekit.identifiers import validate_credit_code as _validate_credit_code

from applicant.exceptions import FieldRefusal

_RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_RESIDENT_CHECK = "10X98765432"
_RESIDENT_ID = re.compile(r"^\d{17}[\dX]$")
# The 2023 外国人永久居留身份证 has 18 characters beginning with 9 and the resident-id check digit;
# the 2017 card has 15: three letters (nationality) and twelve digits.
_FOREIGN_OLD = re.compile(r"^[A-Z]{3}\d{12}$")
_PASSPORT = re.compile(r"^[A-Z0-9]{5,20}$")

# The GB 32100 check lives in the kit (the gateway registers employers by the same code).
_CREDIT_ALPHABET = CREDIT_ALPHABET


class InvalidIdentity(FieldRefusal):
    """An identity number or code that fails its format or check character (an applicant.invalid.* key)."""


def normalise(number: str) -> str:
    return number.strip().upper().replace(" ", "")


def resident_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _RESIDENT_WEIGHTS, strict=True))
    return _RESIDENT_CHECK[total % 11]


def birth_date_of_resident_id(number: str) -> date:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError as exc:
        raise InvalidIdentity("applicant.invalid.id_birth_date_not_real") from exc


def validate_identity(id_type: str, number: str, birth_date: date | None = None) -> str:
    """Return the normalised number, or raise InvalidIdentity saying what is wrong."""
    number = normalise(number)
    if id_type == "resident_id":
        if not _RESIDENT_ID.match(number):
            raise InvalidIdentity("applicant.invalid.resident_id_form")
        if resident_check_char(number[:17]) != number[17]:
            raise InvalidIdentity("applicant.invalid.resident_id_check")
        embedded = birth_date_of_resident_id(number)
        if birth_date is not None and embedded != birth_date:
            raise InvalidIdentity("applicant.invalid.id_birth_date_mismatch")
        return number
    if id_type == "foreign_permanent_id":
        if len(number) == 18 and number.startswith("9") and _RESIDENT_ID.match(number):
            if resident_check_char(number[:17]) != number[17]:
                raise InvalidIdentity("applicant.invalid.permanent_id_check")
            return number
        if _FOREIGN_OLD.match(number):
            return number
        raise InvalidIdentity("applicant.invalid.permanent_id_form")
    if id_type == "passport":
        if not _PASSPORT.match(number):
            raise InvalidIdentity("applicant.invalid.passport_form")
        return number
    raise InvalidIdentity("applicant.invalid.unknown_id_type", {"id_type": id_type})


def validate_credit_code(code: str) -> str:
    """统一社会信用代码: 18 characters of the GB 32100 alphabet, the last a check character."""
    try:
        return _validate_credit_code(code)
    except InvalidCreditCode as exc:
        # The kit's two refusals, told apart by the only thing they differ in: which check failed.
        check = "check character" in str(exc)
        raise InvalidIdentity(f"applicant.invalid.credit_code_{'check' if check else 'form'}") from exc


def mask(number: str) -> str:
    """Keep what a person needs to recognise their own number: 330402********1234."""
    if len(number) <= 8:
        return number[:1] + "*" * (len(number) - 2) + number[-1:]
    keep_head = 6 if len(number) >= 15 else 2
    return number[:keep_head] + "*" * (len(number) - keep_head - 4) + number[-4:]


def mask_name(name: str) -> str:
    """The name as a 公示 list shows it: first and last character kept, the middle one mark however
    length (张*伟, 欧*娜), a two-character name keeps its first (张*). The full name never leaves this service."""
    name = name.strip()
    if len(name) <= 2:
        return name[:1] + "*"
    return name[0] + "*" + name[-1]
