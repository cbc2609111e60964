"""Phone numbers: E.164 only; mainland China (+86) numbers must be mobile numbers."""

from __future__ import annotations

import re

from gateway.exceptions import InvalidPhone

_SEPARATORS = re.compile(r"[\s\-().]")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_MAINLAND_MOBILE = re.compile(r"^\+861[3-9]\d{9}$")


def normalize_phone(raw: str) -> str:
    """The E.164 form of a phone number (spaces, dashes and brackets removed), or InvalidPhone."""
    phone = _SEPARATORS.sub("", raw or "")
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    if not _E164.match(phone):
        raise InvalidPhone("gateway.phone.e164")
    if phone.startswith("+86") and not _MAINLAND_MOBILE.match(phone):
        raise InvalidPhone("gateway.phone.mainland_mobile")
    return phone
