"""The trust list's rules: register, update and remove partner cities (audited), and list them."""

from __future__ import annotations

import json
from typing import Any

from servicekit import audit
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.problems import Conflict, NotFound
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from applicant.exceptions import InvalidProfile
from applicant.trust.jwks import JwksRefused, check_url, fetch_jwks, validate_jwks
from applicant.trust.models import PartnerCity
from applicant.trust.schemas import TrustCityPublic, TrustCityUpdate


class OwnCityRefused(Conflict):
    key = "applicant.error.own_city"

    def __init__(self, city_code: str) -> None:
        super().__init__(params={"city_code": city_code})


class PartnerCityNotFound(NotFound):
    key = "applicant.error.partner_city_not_found"

    def __init__(self, city_code: str) -> None:
        super().__init__(params={"city_code": city_code})


class InvalidKeySet(InvalidProfile):
    """A key set or key-set URL refused (JwksRefused), named by its field."""


def _summary(city: PartnerCity) -> dict[str, Any]:
    """What the audit log keeps of a city: the list's facts and the kids, never key material."""
    return {
        "name": city.name,
        "jwks_url": city.jwks_url,
        "tier_map": json.loads(city.tier_map),
        "kids": [key["kid"] for key in json.loads(city.jwks)["keys"]],
    }


def public(city: PartnerCity) -> TrustCityPublic:
    return TrustCityPublic(
        city_code=city.city_code,
        name=city.name,
        jwks_url=city.jwks_url,
        jwks=json.loads(city.jwks),
        tier_map=json.loads(city.tier_map),
        fetched_at=city.fetched_at,
        updated_by=city.updated_by,
        updated_at=city.updated_at,
    )


def list_item(city: PartnerCity) -> dict[str, Any]:
    return {
        "city_code": city.city_code,
        "name": city.name,
        "jwks_url": city.jwks_url,
        "tier_map": json.loads(city.tier_map),
    }


async def all_cities(session: AsyncSession) -> list[PartnerCity]:
    return list((await session.exec(select(PartnerCity).order_by(col(PartnerCity.city_code)))).all())


async def put_city(
    session: AsyncSession,
    principal: Principal,
    city_code: str,
    body: TrustCityUpdate,
    *,
    own_city: str,
    allow_private: bool,
    fetch_timeout_s: float,
) -> PartnerCity:
    """Register or replace a partner city (idempotent: the same body twice leaves one row and one change)."""
    if city_code == own_city:
        raise OwnCityRefused(city_code)
    try:
        check_url(body.jwks_url, allow_private=allow_private)
    except JwksRefused as exc:
        raise InvalidKeySet("jwks_url", exc) from None
    now = utcnow()
    fetched_at = None
    try:
        if body.jwks is not None:
            key_set = validate_jwks(body.jwks)
        else:
            key_set = await fetch_jwks(body.jwks_url, allow_private=allow_private, timeout_s=fetch_timeout_s)
            fetched_at = now
    except JwksRefused as exc:
        raise InvalidKeySet("jwks", exc) from None
    city = await session.get(PartnerCity, city_code)
    before = _summary(city) if city is not None else None
    values = {
        "name": body.name,
        "jwks_url": body.jwks_url,
        "jwks": json.dumps(key_set, sort_keys=True),
        "tier_map": json.dumps(dict(sorted(body.tier_map.items()))),
    }
    if city is not None and all(getattr(city, name) == value for name, value in values.items()):
        return city  # nothing changed: no new audit entry
    if city is None:
        city = PartnerCity(
            city_code=city_code,
            updated_by=principal.sub,
            name=values["name"],
            jwks_url=values["jwks_url"],
            jwks=values["jwks"],
            tier_map=values["tier_map"],
        )
    else:
        for name, value in values.items():
            setattr(city, name, value)
    city.fetched_at = fetched_at or city.fetched_at
    city.updated_by, city.updated_at = principal.sub, now
    session.add(city)
    await session.flush()
    await audit.record(
        session, principal, "trust_city.put", subject_type="trust_city", subject_id=city_code,
        before=before, after=_summary(city),
    )  # fmt: skip
    return city


async def delete_city(session: AsyncSession, principal: Principal, city_code: str) -> None:
    """Take a city off the trust list: its codes are untrusted from now on."""
    city = await session.get(PartnerCity, city_code)
    if city is None:
        raise PartnerCityNotFound(city_code)
    before = _summary(city)
    await session.delete(city)
    await session.flush()
    await audit.record(
        session, principal, "trust_city.delete", subject_type="trust_city", subject_id=city_code, before=before
    )
