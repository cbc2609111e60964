"""Request and response bodies of the gateway's own endpoints."""

from __future__ import annotations

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
