"""Minting access tokens (ES256 JWT) and opaque refresh tokens."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from jose import jwt

from gateway.keys import ALGORITHM, KeyRing
from gateway.models import Account, AccountKind, Employer

# The subject of the gateway's own tokens to services' internal endpoints.
SERVICE_SUBJECT = "service:gateway"


def scope_for(account: Account) -> str:
    return " ".join(sorted(account.roles))


class TokenIssuer:
    """Signs access tokens with the key ring's active key."""

    def __init__(self, keyring: KeyRing, *, issuer: str, audience: str, ttl_s: int) -> None:
        self.keyring = keyring
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s

    def access_token(
        self,
        account: Account,
        now: datetime,
        employer: Employer | None = None,
        *,
        phone: str | None = None,
        family_id: str | None = None,
    ) -> str:
        """The token of an account; an employer user's also names its employer (and its region), a talent's
        the phone proved with a one-time code (`phone`, which applicant keeps sealed for notify's SMS). A token
        issued with a refresh token names the refresh token's family as `sid`: revoking the family revokes it."""
        key = self.keyring.active
        issued = int(now.timestamp())
        claims: dict[str, Any] = {
            "sub": account.id,
            "roles": sorted(account.roles),
            "scope": scope_for(account),
            "iss": self.issuer,
            "aud": self.audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + self.ttl_s,
            "jti": uuid.uuid4().hex,
        }
        if family_id is not None:
            claims["sid"] = family_id
        if account.region:
            claims["region"] = account.region
        if account.kind == AccountKind.official:
            # Services record the named officer (首问负责制) from the token, without calling the gateway.
            if account.display_name:
                claims["name"] = account.display_name
            if account.office_phone:
                claims["office_phone"] = account.office_phone
        if account.kind == AccountKind.talent and phone:
            # The OpenID Connect names: the only phone a profile may hold is one the talent proved.
            claims["phone_number"] = phone
            claims["phone_number_verified"] = True
        if account.kind == AccountKind.partner and account.partner_kind:
            claims["partner_kind"] = account.partner_kind
        if account.kind == AccountKind.employer and employer is not None:
            # What the services read through servicekit's Principal.claims (applicant.employer.dependencies).
            claims["employer_id"] = employer.id
            claims["credit_code"] = employer.credit_code
            claims["employer_name"] = employer.name
            claims["region"] = employer.region_code
        return str(jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid}))

    def service_token(self, audience_service: str, now: datetime, ttl_s: int = 60) -> str:
        """A short token the gateway itself presents to a service's internal endpoint (notify's SMS of a
        one-time code): signed like every access token, so the service checks it the same way. Its subject,
        `service:gateway`, is no account's (those are UUIDs), and it carries no role, so no role-guarded
        route lets it in."""
        key = self.keyring.active
        issued = int(now.timestamp())
        claims: dict[str, Any] = {
            "sub": SERVICE_SUBJECT,
            "roles": [],
            "scope": "",
            "svc": audience_service,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": issued,
            "nbf": issued,
            "exp": issued + ttl_s,
            "jti": uuid.uuid4().hex,
        }
        return str(jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid}))


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def new_otp_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"
