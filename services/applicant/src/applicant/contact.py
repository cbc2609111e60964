"""Contact details: phone numbers (E.164) and IANA time zones, checked before they are stored."""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache

from servicekit.auth import Principal

from applicant.exceptions import FieldRefusal

# Mainland mobile numbers: +86 1[3-9] and nine more digits; elsewhere any E.164 number (8 to 15 digits).
_MAINLAND_MOBILE = re.compile(r"^\+861[3-9]\d{9}$")
_E164 = re.compile(r"^\+[1-9]\d{7,14}$")


class InvalidContact(FieldRefusal):
    """A phone number or time zone that cannot be used."""


def normalise_phone(phone: str) -> str:
    """Return the E.164 form (spaces and dashes dropped), or raise InvalidContact saying what is wrong."""
    compact = re.sub(r"[\s\-()]", "", phone)
    if not _E164.match(compact):
        raise InvalidContact("applicant.invalid.phone_e164")
    if compact.startswith("+86") and not _MAINLAND_MOBILE.match(compact):
        raise InvalidContact("applicant.invalid.phone_mainland")
    return compact


@lru_cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(name: str) -> str:
    if name not in _time_zones():
        raise InvalidContact("applicant.invalid.time_zone", {"name": name})
    return name


def verified_phone(principal: Principal) -> str | None:
    """The phone the talent proved with a one-time code at sign-in, as the gateway's token vouches for it
    (the OpenID Connect claims `phone_number` and `phone_number_verified`)."""
    phone = principal.claims.get("phone_number")
    return phone if isinstance(phone, str) and principal.claims.get("phone_number_verified") is True else None
