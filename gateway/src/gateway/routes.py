"""The route table (public path prefix → service) and the role rules (method + path → roles), as data.

Both are derived, once at import, from routes.generated.json: every public operation of every service with
who may call it, as the services themselves declare it (see gateway.routetable for how; `make routes`
regenerates the file, a test fails when it is out of date). The gateway imports no service.
"""

from __future__ import annotations

import json
from importlib.resources import files

from gateway.routetable import (
    ANY,
    AUTHENTICATED,
    GATEWAY,
    AccessRule,
    Operation,
    derive,
    load_operations,
    matchers,
    resolve,
)

GENERATED_FILE = "routes.generated.json"
READ_METHODS = frozenset({"GET", "HEAD"})

_table = json.loads(files("gateway").joinpath(GENERATED_FILE).read_text(encoding="utf-8"))
OPERATIONS: tuple[Operation, ...] = load_operations(_table)
# The upstream services; the table also names the gateway's own operations (GATEWAY), served in-process.
SERVICES: tuple[str, ...] = tuple(s for s in _table["services"] if s != GATEWAY)
_derived = derive(OPERATIONS)

# Longest prefix wins; a prefix matches the path itself or anything below it (/api/v1/me/code.png is one of its own).
ROUTE_TABLE: tuple[tuple[str, str], ...] = _derived.route_table
# Per service, first match wins; the services check the same roles again (and the object's owner or region).
SERVICE_RULES = _derived.rules
ACCESS_RULES: tuple[AccessRule, ...] = tuple(
    rule for service in _table["services"] for rule in SERVICE_RULES.get(service, ())
)

_owners = dict(ROUTE_TABLE)
_matchers = {service: matchers(rules) for service, rules in SERVICE_RULES.items()}


def resolve_service(path: str) -> str | None:
    """The service that owns a public path, or None when no service does."""
    return resolve(_owners, path)


def access_rule(method: str, path: str, service: str | None = None) -> AccessRule:
    """The rule the gateway applies to a request: the first of its service's rules that matches."""
    by_method = _matchers.get(service or resolve_service(path) or "")
    if by_method is None:
        return AUTHENTICATED
    method = "GET" if method == "HEAD" else method
    return by_method.get(method, by_method["*"]).find(path)


def route_group(service: str, method: str) -> str:
    """Rate limits are kept per caller and per group (service + read or write)."""
    return f"{service}:{'read' if method in READ_METHODS else 'write'}"


__all__ = [
    "ACCESS_RULES",
    "ANY",
    "AUTHENTICATED",
    "GATEWAY",
    "GENERATED_FILE",
    "OPERATIONS",
    "READ_METHODS",
    "ROUTE_TABLE",
    "SERVICES",
    "SERVICE_RULES",
    "AccessRule",
    "access_rule",
    "resolve_service",
    "route_group",
]
