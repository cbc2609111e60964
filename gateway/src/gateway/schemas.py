"""Request and response bodies of the gateway's own endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class OtpRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(max_length=32, examples=["+8613800000001"], description="E.164 phone number")


class OtpIssued(BaseModel):
    expires_in: int = Field(description="Seconds until the code expires")
    dev_code: str | None = Field(default=None, description="The code itself; only with TALENT_ENV=dev")


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    refresh_token: str | None = None
    scope: str


class Jwks(BaseModel):
    keys: list[dict[str, Any]]


class TokenForm(BaseModel):
    """The form fields of POST /api/v1/auth/token (RFC 6749); which ones apply depends on grant_type."""

    grant_type: str | None = Field(default=None, description="otp, password, client_credentials or refresh_token")
    phone: str | None = Field(default=None, description="grant_type=otp")
    code: str | None = Field(default=None, description="grant_type=otp")
    username: str | None = Field(default=None, description="grant_type=password")
    password: str | None = Field(default=None, description="grant_type=password")
    client_id: str | None = Field(default=None, description="grant_type=client_credentials")
    client_secret: str | None = Field(default=None, description="grant_type=client_credentials")
    refresh_token: str | None = Field(default=None, description="grant_type=refresh_token")
    scope: str | None = Field(default=None, description="ignored: the scope follows the account's roles")


class ProblemField(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem (application/problem+json); token-endpoint errors also carry the OAuth `error`."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemField] | None = None
    error: str | None = Field(default=None, description="RFC 6749 error code (token endpoint only)")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries documenting problem+json bodies for these statuses."""
    return {
        status: {"model": Problem, "content": {"application/problem+json": {}}, "description": "A problem"}
        for status in statuses
    }


# --- employers (用人单位) and their users, registered by administrators ------------------------------

# Usernames as officials have them (reviewer.nanhu): lower-case letters, digits, `.`, `_`, `-`.
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,63}$"
# A GB/T 2260 county-level code: the gateway keeps no region list (the applicant service has the catalogue),
# so it checks the shape only.
REGION_PATTERN = r"^[1-9]\d{5}$"


class EmployerCreate(BaseModel):
    """An employer and its first user, created together."""

    model_config = ConfigDict(extra="forbid")

    credit_code: str = Field(max_length=40, examples=["91330402MA2B3C4D53"], description="统一社会信用代码 (GB 32100)")
    name: str = Field(min_length=1, max_length=200, examples=["嘉兴某科技有限公司"])
    region_code: str = Field(pattern=REGION_PATTERN, examples=["330402"], description="GB/T 2260, six digits")
    username: str = Field(pattern=USERNAME_PATTERN, examples=["hr.jiaxing-tech"])
    password: str = Field(max_length=200, description="At least 12 characters, not containing the username")


class EmployerUserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN)
    password: str = Field(max_length=200, description="At least 12 characters, not containing the username")


class EmployerDisable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class EmployerUserPublic(BaseModel):
    id: str
    username: str
    created_at: datetime
    last_sign_in_at: datetime | None


class EmployerPublic(BaseModel):
    id: str
    credit_code: str
    name: str
    region_code: str
    created_at: datetime
    disabled_at: datetime | None
    users: list[EmployerUserPublic]


class SignInUnlocked(BaseModel):
    """What an admin's unlock lifted from a password account's sign-ins."""

    account_id: str
    was_held: bool = Field(description="the account-wide hold (distributed guessing) was in force")
    sources_released: int = Field(description="source addresses that were waiting out a back-off")


class TokenRevocation(BaseModel):
    """RFC 7009: the token to revoke, a refresh token or an access token (form fields)."""

    model_config = ConfigDict(extra="ignore")

    token: str = Field(min_length=1, max_length=4096)
    token_type_hint: str | None = Field(default=None, max_length=32)
