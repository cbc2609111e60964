"""ASGI middleware: request id, body-size limit, and HTTP metrics."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.context import REQUEST_ID_HEADER, accept_request_id, request_id_var
from servicekit.messages import begin_request, end_request, render
from servicekit.problems import problem, unexpected_error

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests", ["method", "route", "status"])
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
_HEADER = REQUEST_ID_HEADER.lower().encode()
_ACCEPT_LANGUAGE = b"accept-language"


def _with_language(headers: list[tuple[bytes, bytes]], locale: str) -> list[tuple[bytes, bytes]]:
    """Say which language the response's texts are in, and that it varies with Accept-Language (caches)."""
    names = {k.lower() for k, _ in headers}
    if b"content-language" not in names:
        headers.append((b"content-language", locale.encode()))
    vary = [(i, v) for i, (k, v) in enumerate(headers) if k.lower() == b"vary"]
    if not vary:
        headers.append((b"vary", b"Accept-Language"))
    elif not any(b"accept-language" in v.lower() or v.strip() == b"*" for _, v in vary):
        i, value = vary[0]
        headers[i] = (headers[i][0], value + b", Accept-Language")
    return headers


class RequestContextMiddleware:
    """Accepts or mints X-Request-ID, exposes it to logs and events, echoes it, and records metrics; makes the
    caller's language (Accept-Language) current, and marks responses whose texts were rendered in it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == _HEADER), None)
        request_id = accept_request_id(incoming)
        token = request_id_var.set(request_id)
        language = next((v.decode("latin-1") for k, v in scope["headers"] if k == _ACCEPT_LANGUAGE), None)
        locale_state, locale_token = begin_request(language)
        started = time.perf_counter()
        status = {"code": 500}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["started"] = 1
                status["code"] = message["status"]
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER]
                headers.append((_HEADER, request_id.encode()))
                if locale_state.rendered:
                    headers = _with_language(headers, locale_state.locale)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if "started" in status:
                raise
            # Answered here rather than by Starlette's outermost error middleware, so the 500 carries the
            # request id, and the logged trace (never the response) has it too.
            response = await unexpected_error(Request(scope), exc)
            await response(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            route_path = getattr(route, "path", None) or "unmatched"
            HTTP_REQUESTS.labels(scope["method"], route_path, str(status["code"])).inc()
            HTTP_LATENCY.labels(scope["method"], route_path).observe(time.perf_counter() - started)
            request_id_var.reset(token)
            end_request(locale_token)


class BodySizeLimitMiddleware:
    """Refuses bodies over the limit with 413, whether or not the client sent Content-Length.

    `path_limits` gives paths (exact, as routed) a limit of their own, e.g. a larger one for file uploads, so
    the JSON APIs keep the small default.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, path_limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.path_limits.get(scope["path"], self.max_bytes)
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI re-raises HTTPException from body reading, so this becomes a 413 problem.
                    raise HTTPException(413, self._detail(limit))
            return message

        await self.app(scope, limited_receive, send)

    @staticmethod
    def _detail(limit: int) -> str:
        return render("problem.body_too_large", {"limit": limit})

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem(413, self._detail(limit), slug="payload-too-large")
        await response(scope, receive, send)


def client_ip(scope: Mapping[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
