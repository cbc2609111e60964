"""The route table (public path prefix → service) and the role rules (method + path → roles), as data."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Longest prefix wins; a prefix matches the path itself, anything below it, or a file-like suffix (code.png).
ROUTE_TABLE: tuple[tuple[str, str], ...] = (
    ("/api/v1/me/profile", "applicant"),
    ("/api/v1/me/certifications", "applicant"),
    ("/api/v1/me/talent", "applicant"),
    ("/api/v1/me/family", "applicant"),
    ("/api/v1/admin/code-keys", "applicant"),
    ("/api/v1/me/code", "applicant"),
    ("/api/v1/me/code.png", "applicant"),
    ("/api/v1/me/code.svg", "applicant"),
    ("/api/v1/codes", "applicant"),
    ("/api/v1/reviews/certifications", "applicant"),
    ("/api/v1/admin/talents", "applicant"),
    ("/api/v1/audit/applicant", "applicant"),
    ("/api/v1/audit/benefits", "benefits"),
    ("/api/v1/audit/housing", "housing"),
    ("/api/v1/audit/notify", "notify"),
    ("/api/v1/admin/partner-kinds", "notify"),
    ("/api/v1/policies", "benefits"),
    ("/api/v1/me/eligibility", "benefits"),
    ("/api/v1/me/claims", "benefits"),
    ("/api/v1/reviews/claims", "benefits"),
    ("/api/v1/claims", "benefits"),  # 公示 (public notice) and objections
    ("/api/v1/admin/policies", "benefits"),
    ("/api/v1/housing", "housing"),
    ("/api/v1/me/housing", "housing"),
    ("/api/v1/me/inbox", "notify"),
    ("/api/v1/me/notification-preferences", "notify"),
    ("/api/v1/partners", "notify"),
)

SERVICES = ("applicant", "benefits", "housing", "notify")
ANY = frozenset({"*"})
READ_METHODS = frozenset({"GET", "HEAD"})


def resolve_service(path: str) -> str | None:
    """The service that owns a public path, or None when no service does."""
    matches = [(len(p), s) for p, s in ROUTE_TABLE if path == p or path.startswith(p + "/")]
    return max(matches)[1] if matches else None


@dataclass(frozen=True)
class AccessRule:
    """Who may call `methods` on paths matching `pattern`; `roles=None` means public.

    Pattern segments: a literal, `{name}` (one segment) or a trailing `**` (the path itself or anything below).
    """

    methods: frozenset[str]
    pattern: str
    roles: frozenset[str] | None
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", _compile(self.pattern))

    @property
    def public(self) -> bool:
        return self.roles is None

    def matches(self, method: str, path: str) -> bool:
        method = "GET" if method == "HEAD" else method
        return (self.methods == ANY or method in self.methods) and self.regex.match(path) is not None


def _compile(pattern: str) -> re.Pattern[str]:
    parts = pattern.strip("/").split("/")
    out = ""
    for index, part in enumerate(parts):
        if part == "**":
            if index != len(parts) - 1:
                raise ValueError(f"'**' must be the last segment: {pattern}")
            out += "(?:/.*)?"
        elif part.startswith("{") and part.endswith("}"):
            out += "/[^/]+"
        else:
            out += "/" + re.escape(part)
    return re.compile(f"^{out}/?$")


def rule(methods: str, pattern: str, *roles: str) -> AccessRule:
    return AccessRule(ANY if methods == "*" else frozenset(methods.split(",")), pattern, frozenset(roles))


def public(methods: str, pattern: str) -> AccessRule:
    return AccessRule(ANY if methods == "*" else frozenset(methods.split(",")), pattern, None)


# First match wins. The services check the same roles again (and the object's owner or region).
ACCESS_RULES: tuple[AccessRule, ...] = (
    # Public reads.
    public("GET", "/api/v1/policies/**"),
    public("GET", "/api/v1/claims/publicized"),
    public("GET", "/api/v1/housing/projects/**"),
    public("GET", "/api/v1/housing/rounds"),
    public("GET", "/api/v1/housing/catalogue"),
    public("GET", "/api/v1/housing/rounds/{id}"),
    public("GET", "/api/v1/housing/rounds/{id}/results"),
    # Talents.
    rule("*", "/api/v1/me/**", "talent"),
    rule("POST", "/api/v1/housing/rounds/{id}/applications", "talent"),
    # Partners.
    rule("POST", "/api/v1/codes/verify", "partner"),
    rule("*", "/api/v1/codes/**", "partner"),
    rule("*", "/api/v1/partners/**", "partner"),
    # Reviews and approvals.
    rule("*", "/api/v1/reviews/certifications/**", "county_reviewer", "city_approver"),
    rule("POST", "/api/v1/reviews/claims/{id}/disbursement", "finance_officer"),
    rule("POST", "/api/v1/reviews/claims/{id}/decisions", "county_reviewer", "city_approver"),
    rule("GET", "/api/v1/reviews/claims/**", "county_reviewer", "city_approver", "finance_officer"),
    rule("*", "/api/v1/reviews/claims/**", "county_reviewer", "city_approver"),
    # Housing officers: everything in housing that is not a public read or a talent's application.
    rule("*", "/api/v1/housing/**", "housing_officer"),
    # Administration and audit.
    rule("*", "/api/v1/admin/**", "admin"),
    rule("GET", "/api/v1/audit/**", "auditor"),
)

# A routed path no rule names still needs a valid token (services decide the rest).
AUTHENTICATED = AccessRule(ANY, "/**", frozenset())


def access_rule(method: str, path: str) -> AccessRule:
    return next((r for r in ACCESS_RULES if r.matches(method, path)), AUTHENTICATED)


def route_group(service: str, method: str) -> str:
    """Rate limits are kept per caller and per group (service + read or write)."""
    return f"{service}:{'read' if method in READ_METHODS else 'write'}"
