"""RFC 9457 problem+json for every error: typed domain errors, validation errors, and the unexpected."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicekit.messages import EN, current_locale, has_key, language_headers, render

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "https://talent.example.org/problems/"

logger = logging.getLogger("servicekit.problems")


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


class DomainError(Exception):
    """An expected failure the caller can act on; each subclass fixes its HTTP status.

    `key` names the detail's message in the catalogues (servicekit.messages) and `params` fill it; the
    problem is rendered in the caller's language. A subclass fixes its key; `detail` (English) is what logs
    and `str(exc)` show, and the text sent when an error has no key yet. An `errors` entry may carry its own
    `key` and `params` instead of (or besides) a `message`.
    """

    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"
    key: str | None = None

    def __init__(
        self,
        detail: str | None = None,
        *,
        key: str | None = None,
        params: dict[str, Any] | None = None,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        self.key = key or type(self).key
        self.params = dict(params or {})
        if detail is None:
            detail = render(self.key, self.params, EN) if self.key else self.title
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


def localized_title(status: int, slug: str | None = None, title: str | None = None) -> str:
    """A problem's title in the request's language: the slug's own title, else the status's, else `title`."""
    if slug and has_key(f"title.{slug}"):
        return render(f"title.{slug}")
    if (title is None or title == _TITLES.get(status)) and has_key(f"title.{status}"):
        return render(f"title.{status}")
    return title or render("title.error")


def localized_errors(errors: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """`errors` entries with their keyed messages rendered in the request's language."""
    out = []
    for entry in errors:
        item = {k: v for k, v in entry.items() if k not in {"key", "params"}}
        if entry.get("key"):
            item["message"] = render(str(entry["key"]), entry.get("params"), fallback=entry.get("message"))
        out.append(item)
    return out


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
    """Build one problem+json response; its title is in the request's language (as the detail should be)."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or str(status)),
        "title": localized_title(status, slug, title),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = list(errors)
    body.update(extensions)
    return ProblemResponse(body, status_code=status, headers={**language_headers(), **(headers or {})})


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


def _validation_message(err: Mapping[str, Any]) -> str:
    # English is pydantic's own message (exact, e.g. a validator's text); other languages come from the
    # catalogue by error type, with the error's context as parameters.
    kind = str(err.get("type", ""))
    msg = str(err.get("msg", "")) or render("validation.invalid", locale=EN)
    if kind in {"json_invalid", "extra_forbidden"}:
        return render(f"validation.{kind}")
    key = f"validation.{kind}"
    if current_locale() == EN or not has_key(key):
        return msg
    ctx = dict(err.get("ctx") or {})
    if "error" in ctx:
        ctx["message"] = str(ctx.pop("error"))
    return render(key, ctx, fallback=msg)


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for err in exc.errors():
        field = _field_path(err.get("loc", ()))
        if err.get("type") == "json_invalid":
            field = "body"
        out.append({"field": field, "message": _validation_message(err)})
    return out


def localized_detail(exc: DomainError) -> str:
    """The error's detail in the request's language (its English `detail` when it has no key yet)."""
    return render(exc.key, exc.params, fallback=exc.detail) if exc.key and has_key(exc.key) else exc.detail


def problem_body(exc: DomainError) -> dict[str, Any]:
    """The problem+json body of `exc` as its handler would send it (e.g. one item of a batch's answer)."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + exc.slug,
        "title": localized_title(exc.status, exc.slug, exc.title),
        "status": exc.status,
        "detail": localized_detail(exc),
    }
    if exc.errors:
        body["errors"] = localized_errors(exc.errors)
    return body | exc.extensions


async def _domain_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, DomainError)
    detail = localized_detail(exc)
    return problem(
        exc.status,
        detail,
        title=exc.title,
        slug=exc.slug,
        errors=localized_errors(exc.errors) if exc.errors else None,
        headers=exc.headers,
        instance=request.url.path,
        **exc.extensions,
    )


async def _validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc)
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return problem(400, render("problem.malformed_json"), slug="malformed-json", errors=errors)
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, render("problem.invalid_input", {"summary": summary}), slug="invalid-input", errors=errors)


def _phrase(status: int) -> str | None:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return None


async def _http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers) if exc.headers else None
    detail = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
    if exc.status_code == 404 and detail == "Not Found":
        detail = render("problem.no_resource", {"path": request.url.path})
    elif current_locale() != EN and detail in {_TITLES.get(exc.status_code), _phrase(exc.status_code)}:
        detail = localized_title(exc.status_code)  # Starlette's stock text ("Method Not Allowed"), translated
    return problem(exc.status_code, detail, headers=headers)


async def _integrity_error(request: Request, exc: Exception) -> ProblemResponse:
    # Services check their rules first; this is the race they cannot see (two requests at once).
    logger.warning("integrity error on %s %s: %s", request.method, request.url.path, type(exc.__cause__).__name__)
    return problem(409, render("problem.concurrent_change"), slug="conflict")


# SQLSTATE classes of a database that cannot serve now: 08 connection exception, 53 insufficient resources
# (53300 too many connections), 57P operator intervention (admin shutdown, cannot connect now).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P")


async def _database_error(request: Request, exc: Exception) -> ProblemResponse:
    """A database error no more specific handler took: the caller's input when it is an SQL data exception
    (SQLSTATE class 22: a NUL character in text on PostgreSQL, a number out of a column's range), else a 500."""
    assert isinstance(exc, DBAPIError)
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
    if sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
        # The server refused or dropped the connection (too many clients, shutting down, starting up): nothing
        # was done, and a retry in a moment may succeed, so a 503 with Retry-After, not a 500.
        return await _database_unavailable(request, exc)
    if not (isinstance(exc, DataError) or sqlstate.startswith("22")):
        return await unexpected_error(request, exc)
    # The value itself is never logged: it is the caller's input, perhaps personal data.
    logger.warning("unstorable value on %s %s: SQLSTATE %s", request.method, request.url.path, sqlstate or "?")
    return problem(422, render("problem.unstorable_value"), slug="invalid-input")


async def _database_unavailable(request: Request, exc: Exception) -> ProblemResponse:
    logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem(503, render("problem.database_unavailable"), headers={"Retry-After": "1"})


async def unexpected_error(request: Request, exc: Exception) -> ProblemResponse:
    # The trace goes to the log (redacted), never to the caller.
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, render("problem.internal"), slug="internal")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, unexpected_error)
