"""The gateway's typed errors; each becomes an RFC 9457 problem with its own status."""

from __future__ import annotations

from typing import Any

from servicekit import messages
from servicekit.messages import EN, render
from servicekit.problems import Conflict, DomainError, NotFound, ServiceUnavailable, TooManyRequests, Unprocessable

# Every text below is in data/messages.json (zh-CN and en), rendered in the caller's language.
messages.register_package("gateway")


class OAuthError(DomainError):
    """An RFC 6749 token-endpoint error; the problem carries the OAuth ``error`` code as well."""

    oauth_error = "invalid_request"
    key = "gateway.oauth.invalid_request"
    # Failed sign-ins change state (attempt counters, lockouts, revoked families) that must outlive the
    # error response; the token endpoint's unit of work commits for errors that say so.
    keeps_changes = False

    def __init__(
        self,
        detail: str | None = None,
        *,
        key: str | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        merged = {"Cache-Control": "no-store", **(headers or {})}
        super().__init__(detail, key=key, params=params, headers=merged, error=self.oauth_error, **extensions)


class InvalidRequest(OAuthError):
    status, title, slug = 400, "Invalid token request", "invalid-request"
    oauth_error = "invalid_request"
    key = "gateway.oauth.invalid_request"


class UnsupportedGrantType(OAuthError):
    status, title, slug = 400, "Unsupported grant type", "unsupported-grant-type"
    oauth_error = "unsupported_grant_type"
    key = "gateway.oauth.unsupported_grant_type"


class InvalidGrant(OAuthError):
    status, title, slug = 400, "Invalid grant", "invalid-grant"
    oauth_error = "invalid_grant"
    keeps_changes = True
    key = "gateway.oauth.invalid_grant"


class InvalidClient(OAuthError):
    status, title, slug = 401, "Invalid client", "invalid-client"
    oauth_error = "invalid_client"
    keeps_changes = True
    key = "gateway.oauth.invalid_client"

    def __init__(self, key: str) -> None:
        super().__init__(key=key, headers={"WWW-Authenticate": 'Basic realm="talent-gateway"'})


class SignInThrottled(OAuthError):
    """Too many failed password sign-ins for this username from this source (or from all of them). The body is
    the same for every username, known or not; only Retry-After says how long to wait."""

    status, title, slug = 429, "Too many requests", "sign-in-throttled"
    oauth_error = "slow_down"
    key = "gateway.oauth.sign_in_throttled"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(headers={"Retry-After": str(max(1, retry_after_s))})


class InvalidPhone(Unprocessable):
    slug = "invalid-phone"
    key = "gateway.phone.invalid"

    def __init__(self, message_key: str) -> None:
        super().__init__(params={"message": message_key}, errors=[{"field": "phone", "key": message_key}])


class OtpRateLimited(TooManyRequests):
    key = "gateway.otp.hourly_limit"

    def __init__(self, key: str, retry_after_s: int) -> None:
        seconds = max(1, retry_after_s)
        super().__init__(
            key=key, params={"seconds": seconds}, headers={"Retry-After": str(seconds)}, retry_after=seconds
        )


class RateLimited(TooManyRequests):
    key = "gateway.rate_limited"

    def __init__(self, retry_after_s: int) -> None:
        seconds = max(1, retry_after_s)
        super().__init__(params={"seconds": seconds}, headers={"Retry-After": str(seconds)}, retry_after=seconds)


class OtpDeliveryFailed(ServiceUnavailable):
    slug = "otp-delivery-failed"
    key = "gateway.otp.delivery_failed"


class InvalidField(Unprocessable):
    """Input that fails a rule the schema cannot state (a check character, a password naming its user)."""

    slug = "invalid-input"
    key = "gateway.field.invalid"

    def __init__(self, field: str, message_key: str, params: dict[str, Any] | None = None) -> None:
        message = render(message_key, params)  # raised while serving the request: the caller's language
        super().__init__(
            f"{field}: {render(message_key, params, EN)}",
            params={"field": field, "message": message},
            errors=[{"field": field, "key": message_key, "params": dict(params or {})}],
        )


class EmployerNotFound(NotFound):
    key = "gateway.employer.not_found"

    def __init__(self, employer_id: str) -> None:
        super().__init__(params={"employer_id": employer_id})


class CreditCodeTaken(Conflict):
    slug = "credit-code-taken"
    key = "gateway.employer.credit_code_taken"


class UsernameTaken(Conflict):
    slug = "username-taken"
    key = "gateway.employer.username_taken"


class EmployerDisabled(Conflict):
    slug = "employer-disabled"
    key = "gateway.employer.disabled"


class AccountNotFound(NotFound):
    """No account signs in with a password under this username."""

    key = "gateway.account.not_found"


class RouteNotFound(NotFound):
    key = "gateway.route_not_found"

    def __init__(self, path: str) -> None:
        super().__init__(params={"path": path})


class _UpstreamError(DomainError):
    key = "gateway.upstream.unavailable"

    def __init__(self, service: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(params={"service": service}, headers=headers)


class BadGateway(_UpstreamError):
    status, title, slug = 502, "Bad gateway", "bad-gateway"
    key = "gateway.upstream.bad_answer"


class UpstreamUnavailable(_UpstreamError):
    status, title, slug = 503, "Service unavailable", "upstream-unavailable"
    key = "gateway.upstream.unavailable"


class GatewayTimeout(_UpstreamError):
    status, title, slug = 504, "Gateway timeout", "upstream-timeout"
    key = "gateway.upstream.timeout"


class DevAccountsPresentError(RuntimeError):
    """Start-up refused: dev accounts exist while TALENT_ENV is not dev."""


class NoSigningKeyError(RuntimeError):
    """No signing key is available to issue tokens."""
