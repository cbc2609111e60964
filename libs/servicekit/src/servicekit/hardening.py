"""ASGI middleware that closes small leaks the same way on every deployable (issue 15, finding 6):

- `UrlLengthLimitMiddleware`: an over-long URL is a 414 problem, before routing or authentication;
- `NulCharacterMiddleware`: a NUL character in any text (query, JSON or form body) is a 422 problem naming the
  field, on SQLite as on PostgreSQL (which cannot store one);
- `NoStoreMiddleware`: an answer to an authenticated request is never kept by a cache unless its route said
  otherwise (personal data: the profile, claims, documents).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.messages import render
from servicekit.problems import problem

DEFAULT_MAX_URL_BYTES = 8192
_AUTHORIZATION = b"authorization"
_CACHE_CONTROL = b"cache-control"
_NUL = "\x00"
# How a NUL reaches the server: escaped in JSON, percent-encoded in a query or form body.
_JSON_NUL = b"\\u0000"
_FORM_NUL = b"%00"


def _plain(scope: Scope) -> bool:
    return bool(scope["type"] != "http")


class UrlLengthLimitMiddleware:
    """Refuses a request whose path and query together exceed `max_bytes` with a 414 problem.

    Longer request lines than the HTTP server reads at all never reach the application: the server answers
    those itself (docs/operations.md#request-limits).
    """

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_URL_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _plain(scope):
            await self.app(scope, receive, send)
            return
        length = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
        if length <= self.max_bytes:
            await self.app(scope, receive, send)
            return
        detail = render("problem.url_too_long", {"limit": self.max_bytes})
        await problem(414, detail, slug="uri-too-long")(scope, receive, send)


def _nul_fields(value: Any, path: tuple[str, ...] = ()) -> Iterator[str]:
    """The dotted paths (as validation errors name fields) of every text in a JSON value holding a NUL."""
    if isinstance(value, str):
        if _NUL in value:
            yield ".".join(path) or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            if _NUL in key:
                yield ".".join(path) or "body"
            yield from _nul_fields(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_fields(item, (*path, str(index)))


def _form_nul_fields(encoded: bytes) -> list[str]:
    pairs = parse_qsl(encoded.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")
    return [name.replace(_NUL, "") or "body" for name, value in pairs if _NUL in name or _NUL in value]


def _content_type(scope: Scope) -> str:
    raw = next((v for k, v in scope["headers"] if k == b"content-type"), b"")
    return raw.decode("latin-1").split(";", 1)[0].strip().lower()


class NulCharacterMiddleware:
    """Refuses a NUL character (U+0000) in the query string or in a JSON or form body with a 422 problem whose
    `errors` name the fields, as a validation error would.

    PostgreSQL cannot store a NUL in a text; SQLite can, and did. A NUL is never meaningful in a name, an
    address or a reason, so it is refused before any route sees it. Only bodies that can hold one cheaply are
    read here (JSON, form); they were already bounded by BodySizeLimitMiddleware, which must run outside this
    one. File uploads pass untouched (their bytes are the file's).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _plain(scope):
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        fields = _form_nul_fields(query) if _FORM_NUL in query else []
        kind = _content_type(scope)
        # FastAPI reads a body without a Content-Type as JSON too, so such a body is checked as JSON.
        is_json = kind in {"", "application/json"} or kind.endswith("+json")
        is_form = kind == "application/x-www-form-urlencoded"
        if not fields and not (is_json or is_form):
            await self.app(scope, receive, send)
            return
        body = b""
        if is_json or is_form:
            try:
                body, receive = await _buffered(receive)
            except HTTPException as exc:  # the body-size limit, met while reading here rather than in a route
                await problem(exc.status_code, str(exc.detail), slug="payload-too-large")(scope, receive, send)
                return
            if is_json and _JSON_NUL in body:
                fields += _json_nul_fields(body)
            elif is_form and (_FORM_NUL in body or _NUL.encode() in body):
                fields += _form_nul_fields(body)
        if not fields:
            await self.app(scope, receive, send)
            return
        message = render("validation.nul_character")
        errors = [{"field": field, "message": message} for field in dict.fromkeys(fields)]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        response = problem(
            422, render("problem.invalid_input", {"summary": summary}), slug="invalid-input", errors=errors
        )
        await response(scope, receive, send)


def _json_nul_fields(body: bytes) -> list[str]:
    try:
        return list(_nul_fields(json.loads(body)))
    except ValueError:
        return []  # not JSON after all: the route's own parsing answers it (400 malformed JSON)


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole request body, and a `receive` that hands it to the application again."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client went away; the application sees an empty body, then the disconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


class NoStoreMiddleware:
    """Adds `Cache-Control: no-store` to every answer to a request that carried credentials (Authorization),
    unless the route set its own Cache-Control (a public key set, a status list)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _plain(scope) or not any(k == _AUTHORIZATION for k, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == _CACHE_CONTROL for k, _ in headers):
                    headers.append((_CACHE_CONTROL, b"no-store"))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_no_store)
