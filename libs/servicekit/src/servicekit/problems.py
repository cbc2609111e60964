"""RFC 9457 problem+json for every error: typed domain errors, validation errors, and the unexpected."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://talent.example.org/problems/"

logger = logging.getLogger("servicekit.problems")


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


class DomainError(Exception):
    """An expected failure the caller can act on; each subclass fixes its HTTP status."""

    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = headers
        self.extensions = extensions


class Unauthorized(DomainError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(DomainError):
    status, title, slug = 403, "Forbidden", "forbidden"


class NotFound(DomainError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(DomainError):
    status, title, slug = 409, "Conflict", "conflict"


class Unprocessable(DomainError):
    status, title, slug = 422, "Unprocessable content", "invalid-input"


class PayloadTooLarge(DomainError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class TooManyRequests(DomainError):
    status, title, slug = 429, "Too many requests", "rate-limited"


class ServiceUnavailable(DomainError):
    status, title, slug = 503, "Service unavailable", "unavailable"


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
}


def problem(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    slug: str | None = None,
    errors: Sequence[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
    **extensions: Any,
) -> ProblemResponse:
    """Build one problem+json response."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or str(status)),
        "title": title or _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    body.update(extensions)
    return ProblemResponse(body, status_code=status, headers=headers)


class ProblemField(BaseModel):
    """One invalid input: where (dotted path into the body, or the parameter's name) and what is wrong."""

    field: str
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem, sent as application/problem+json; extensions (e.g. `reasons`) may follow."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemField] | None = None


# What any API operation may answer besides its success: malformed JSON, no or a bad token, a role that may
# not act, an object that does not exist (or that the caller may not see), a state conflict or a reused
# idempotency key, a body over the size limit, invalid input, the gateway's rate limit, a busy database.
COMMON_PROBLEM_STATUSES = (400, 401, 403, 404, 409, 413, 422, 429, 503)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for problem+json bodies (FastAPI files the model under application/json;
    `problem_bodies_as_problem_json` moves it to the media type actually sent)."""
    return {status: {"model": Problem} for status in statuses or COMMON_PROBLEM_STATUSES}


def problem_bodies_as_problem_json(document: dict[str, Any]) -> dict[str, Any]:
    """Rewrite an OpenAPI document so every 4xx/5xx body is described as application/problem+json."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if str(status)[:1] in {"4", "5"} and "application/json" in content:
                    content.setdefault(PROBLEM_MEDIA_TYPE, content.pop("application/json"))
    return document


def install_problem_openapi(app: FastAPI) -> None:
    """Make the app's OpenAPI document describe its error bodies as they are sent (problem+json)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problem_bodies_as_problem_json(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _field_path(loc: Sequence[int | str]) -> str:
    # ("body", "education", "degree") -> "education.degree"; ("query", "limit") -> "limit"
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        message = str(err.get("msg", "invalid value"))
        field = _field_path(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            message, field = "the body is not valid JSON", "body"
        elif err.get("type") == "extra_forbidden":
            message = "unknown field"
        out.append({"field": field, "message": message})
    return out


async def _domain_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, DomainError)
    return problem(
        exc.status,
        exc.detail,
        title=exc.title,
        slug=exc.slug,
        errors=exc.errors,
        headers=exc.headers,
        instance=request.url.path,
        **exc.extensions,
    )


async def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc)
    if any(e["message"] == "the body is not valid JSON" for e in errors):
        return problem(400, "The request body is not valid JSON.", slug="malformed-json", errors=errors)
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, f"The request is invalid: {summary}", slug="invalid-input", errors=errors)


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"No resource at {request.url.path}."
    return problem(exc.status_code, detail, headers=headers)


async def _integrity_error(request: Request, exc: Exception) -> ProblemResponse:
    # Services check their rules first; this is the race they cannot see (two requests at once).
    logger.warning("integrity error on %s %s: %s", request.method, request.url.path, type(exc.__cause__).__name__)
    return problem(
        409,
        "The change conflicts with data stored at the same time (a duplicate or a concurrent update); "
        "nothing was saved.",
        slug="conflict",
    )


async def _database_error(request: Request, exc: Exception) -> ProblemResponse:
    """A database error no more specific handler took: the caller's input when it is an SQL data exception
    (SQLSTATE class 22: a NUL character in text on PostgreSQL, a number out of a column's range), else a 500."""
    assert isinstance(exc, DBAPIError)
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
    if not (isinstance(exc, DataError) or sqlstate.startswith("22")):
        return await unexpected_error(request, exc)
    # The value itself is never logged: it is the caller's input, perhaps personal data.
    logger.warning("unstorable value on %s %s: SQLSTATE %s", request.method, request.url.path, sqlstate or "?")
    return problem(
        422,
        "A value in the request cannot be stored (a NUL character in a text, or a number out of range).",
        slug="invalid-input",
    )


async def _database_unavailable(request: Request, exc: Exception) -> ProblemResponse:
    logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem(503, "The database is busy or unreachable; try again shortly.", headers={"Retry-After": "1"})


async def unexpected_error(request: Request, exc: Exception) -> ProblemResponse:
    # The trace goes to the log (redacted), never to the caller.
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, "An unexpected error occurred; it has been logged.", slug="internal")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, unexpected_error)
