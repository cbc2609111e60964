"""The gateway's typed errors; each becomes an RFC 9457 problem with its own status."""

from __future__ import annotations

from typing import Any

from servicekit.problems import Conflict, DomainError, NotFound, ServiceUnavailable, TooManyRequests, Unprocessable


class OAuthError(DomainError):
    """An RFC 6749 token-endpoint error; the problem carries the OAuth ``error`` code as well."""

    oauth_error = "invalid_request"
    # Failed sign-ins change state (attempt counters, lockouts, revoked families) that must outlive the
    # error response; the token endpoint's unit of work commits for errors that say so.
    keeps_changes = False

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extensions: Any) -> None:
        merged = {"Cache-Control": "no-store", **(headers or {})}
        super().__init__(detail, headers=merged, error=self.oauth_error, **extensions)


class InvalidRequest(OAuthError):
    status, title, slug = 400, "Invalid token request", "invalid-request"
    oauth_error = "invalid_request"


class UnsupportedGrantType(OAuthError):
    status, title, slug = 400, "Unsupported grant type", "unsupported-grant-type"
    oauth_error = "unsupported_grant_type"


class InvalidGrant(OAuthError):
    status, title, slug = 400, "Invalid grant", "invalid-grant"
    oauth_error = "invalid_grant"
    keeps_changes = True


class InvalidClient(OAuthError):
    status, title, slug = 401, "Invalid client", "invalid-client"
    oauth_error = "invalid_client"
    keeps_changes = True

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Basic realm="talent-gateway"'})


class InvalidPhone(Unprocessable):
    slug = "invalid-phone"

    def __init__(self, message: str) -> None:
        super().__init__(f"phone: {message}", errors=[{"field": "phone", "message": message}])


class OtpRateLimited(TooManyRequests):
    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after_s))}, retry_after=max(1, retry_after_s))


class RateLimited(TooManyRequests):
    def __init__(self, retry_after_s: int) -> None:
        seconds = max(1, retry_after_s)
        super().__init__(
            f"Too many requests; try again in {seconds} s.", headers={"Retry-After": str(seconds)}, retry_after=seconds
        )


class OtpDeliveryFailed(ServiceUnavailable):
    slug = "otp-delivery-failed"


class InvalidField(Unprocessable):
    """Input that fails a rule the schema cannot state (a check character, a password naming its user)."""

    slug = "invalid-input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])


class EmployerNotFound(NotFound):
    def __init__(self, employer_id: str) -> None:
        super().__init__(f"No employer {employer_id}.")


class CreditCodeTaken(Conflict):
    slug = "credit-code-taken"

    def __init__(self) -> None:
        super().__init__("An employer with this unified social credit code is already registered.")


class UsernameTaken(Conflict):
    slug = "username-taken"

    def __init__(self) -> None:
        super().__init__("This username is taken; choose another.")


class EmployerDisabled(Conflict):
    slug = "employer-disabled"

    def __init__(self) -> None:
        super().__init__("This employer is disabled; its users cannot sign in and no user can be added.")


class RouteNotFound(NotFound):
    def __init__(self, path: str) -> None:
        super().__init__(f"No API resource at {path}.")


class BadGateway(DomainError):
    status, title, slug = 502, "Bad gateway", "bad-gateway"


class UpstreamUnavailable(DomainError):
    status, title, slug = 503, "Service unavailable", "upstream-unavailable"


class GatewayTimeout(DomainError):
    status, title, slug = 504, "Gateway timeout", "upstream-timeout"


class DevAccountsPresentError(RuntimeError):
    """Start-up refused: dev accounts exist while TALENT_ENV is not dev."""


class NoSigningKeyError(RuntimeError):
    """No signing key is available to issue tokens."""
