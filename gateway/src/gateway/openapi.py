"""One OpenAPI document for the whole platform: the gateway's own, plus every service's public paths."""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from gateway.routes import resolve_service

logger = logging.getLogger("gateway.openapi")

COMPONENT_SECTIONS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
)
BEARER_SCHEME = "BearerToken"
# How long a service may take to describe itself: generous, since a busy service answers late but answers.
FETCH_TIMEOUT_S = 10.0
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class OpenApiMerger:
    """Fetches each upstream's /openapi.json lazily (cached briefly) and merges it into the gateway's."""

    def __init__(self, client: httpx.AsyncClient, upstreams: Mapping[str, str], cache_s: float) -> None:
        self._client = client
        self._upstreams = dict(upstreams)
        self._cache_s = cache_s
        self._cache: dict[str, tuple[float, dict[str, Any] | None]] = {}
        self._lock = asyncio.Lock()

    async def _fetch(self, service: str) -> dict[str, Any] | None:
        cached = self._cache.get(service)
        if cached and time.monotonic() - cached[0] < self._cache_s:
            return cached[1]
        document: dict[str, Any] | None = None
        try:
            response = await self._client.get(self._upstreams[service] + "/openapi.json", timeout=FETCH_TIMEOUT_S)
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            logger.info("no OpenAPI document from %s: %s", service, type(exc).__name__)
            # A missing upstream is retried sooner than a present one is refreshed; meanwhile the last
            # document it gave stands (a busy service's operations do not vanish from the description).
            last = cached[1] if cached else None
            self._cache[service] = (time.monotonic() - self._cache_s + min(5.0, self._cache_s), last)
            return last
        self._cache[service] = (time.monotonic(), document)
        return document

    async def document(self, own: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        async with self._lock:
            fetched = await asyncio.gather(*(self._fetch(s) for s in self._upstreams))
        merged = copy.deepcopy(own())
        for service, doc in zip(self._upstreams, fetched, strict=True):
            if doc:
                merge_service(merged, service, doc)
        return merged


def merge_service(target: dict[str, Any], service: str, document: Mapping[str, Any]) -> None:
    """Add the service's paths that the gateway routes to it, its components prefixed with its name."""
    components = document.get("components", {}) or {}
    renames: dict[str, dict[str, str]] = {}
    for section in COMPONENT_SECTIONS:
        renames[section] = {name: f"{service}.{name}" for name in components.get(section, {}) or {}}
    bearer_schemes = {
        name
        for name, scheme in (components.get("securitySchemes", {}) or {}).items()
        if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer"
    }

    def rewrite(node: Any) -> Any:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for key, value in node.items():
                if key == "$ref" and isinstance(value, str):
                    out[key] = _rename_ref(value, renames)
                elif key == "security" and isinstance(value, list):
                    out[key] = [_rename_security(req, renames["securitySchemes"], bearer_schemes) for req in value]
                else:
                    out[key] = rewrite(value)
            return out
        if isinstance(node, list):
            return [rewrite(item) for item in node]
        return node

    paths = target.setdefault("paths", {})
    tags_used: set[str] = set()
    for path, item in (document.get("paths", {}) or {}).items():
        if resolve_service(path) != service or path in paths:
            continue
        paths[path] = rewrite(item)
        for method in HTTP_METHODS:
            operation = paths[path].get(method)
            if isinstance(operation, dict):
                if "operationId" in operation:
                    operation["operationId"] = f"{service}_{operation['operationId']}"
                tags_used.update(operation.get("tags", []))

    target_components = target.setdefault("components", {})
    for section in COMPONENT_SECTIONS:
        for name, value in (components.get(section, {}) or {}).items():
            if section == "securitySchemes" and name in bearer_schemes:
                continue
            target_components.setdefault(section, {})[renames[section][name]] = rewrite(value)
    if bearer_schemes:
        target_components.setdefault("securitySchemes", {}).setdefault(BEARER_SCHEME, bearer_security_scheme())

    known = {t["name"] for t in target.get("tags", [])}
    for tag in document.get("tags", []) or []:
        if tag.get("name") in tags_used and tag.get("name") not in known:
            target.setdefault("tags", []).append(tag)
            known.add(tag["name"])


def bearer_security_scheme() -> dict[str, Any]:
    return {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from POST /api/v1/auth/token",
    }


def _rename_ref(ref: str, renames: Mapping[str, Mapping[str, str]]) -> str:
    parts = ref.split("/")
    if len(parts) == 4 and parts[0] == "#" and parts[1] == "components" and parts[2] in renames:
        return "/".join([*parts[:3], renames[parts[2]].get(parts[3], parts[3])])
    return ref


def _rename_security(requirement: Any, names: Mapping[str, str], bearer: set[str]) -> Any:
    if not isinstance(requirement, dict):
        return requirement
    return {(BEARER_SCHEME if k in bearer else names.get(k, k)): v for k, v in requirement.items()}
