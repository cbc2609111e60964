"""Forwarding API calls to the services over one pooled HTTP client, bodies streamed both ways."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping

import httpx
from servicekit.context import REQUEST_ID_HEADER, current_request_id
from servicekit.middleware import client_ip
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import StreamingResponse

from gateway.config import GatewaySettings
from gateway.exceptions import BadGateway, GatewayTimeout, UpstreamUnavailable

logger = logging.getLogger("gateway.proxy")

# RFC 9110 §7.6.1 connection-specific headers, never forwarded in either direction.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Set by the gateway itself, not passed through from the caller.
_REQUEST_DROP = HOP_BY_HOP | {
    "host",
    REQUEST_ID_HEADER.lower(),
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
}
# Uvicorn writes its own; the middleware writes the request id.
_RESPONSE_DROP = HOP_BY_HOP | {"date", "server", REQUEST_ID_HEADER.lower()}


def build_client(settings: GatewaySettings) -> httpx.AsyncClient:
    """One client for every upstream: pooled connections, bounded timeouts, no redirects followed."""
    timeout = httpx.Timeout(settings.upstream_timeout_s, connect=settings.upstream_connect_timeout_s)
    limits = httpx.Limits(
        max_connections=settings.upstream_max_connections, max_keepalive_connections=settings.upstream_max_keepalive
    )
    return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False, trust_env=False)


def _connection_tokens(headers: Mapping[str, str]) -> set[str]:
    return {t.strip().lower() for t in headers.get("connection", "").split(",") if t.strip()}


def forward_headers(request: Request) -> list[tuple[str, str]]:
    drop = _REQUEST_DROP | _connection_tokens(request.headers)
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in drop]
    headers.append((REQUEST_ID_HEADER, current_request_id() or ""))
    prior = request.headers.get("x-forwarded-for")
    ip = client_ip(dict(request.scope))
    headers.append(("X-Forwarded-For", f"{prior}, {ip}" if prior else ip))
    headers.append(("X-Forwarded-Proto", request.url.scheme))
    if "host" in request.headers:
        headers.append(("X-Forwarded-Host", request.headers["host"]))
    return headers


def response_headers(upstream: httpx.Response) -> list[tuple[str, str]]:
    drop = _RESPONSE_DROP | _connection_tokens(upstream.headers)
    return [(k, v) for k, v in upstream.headers.multi_items() if k.lower() not in drop]


class UpstreamProxy:
    """Sends a request on to its service and streams the answer back."""

    def __init__(self, client: httpx.AsyncClient, upstreams: Mapping[str, str]) -> None:
        self.client = client
        self.upstreams = dict(upstreams)

    async def forward(self, request: Request, service: str) -> StreamingResponse:
        base = self.upstreams[service]
        url = httpx.URL(base + request.url.path, query=request.url.query.encode("latin-1"))
        has_body = "content-length" in request.headers or "transfer-encoding" in request.headers
        outgoing = self.client.build_request(
            request.method,
            url,
            headers=forward_headers(request),
            content=_body(request) if has_body else None,
        )
        try:
            upstream = await self.client.send(outgoing, stream=True)
        except httpx.TimeoutException as exc:
            logger.warning("upstream %s timed out: %s", service, type(exc).__name__)
            raise GatewayTimeout(f"The {service} service did not answer in time; try again shortly.") from exc
        except httpx.ConnectError as exc:
            logger.warning("upstream %s unreachable: %s", service, type(exc).__name__)
            raise UpstreamUnavailable(
                f"The {service} service is unavailable right now; try again shortly.", headers={"Retry-After": "5"}
            ) from exc
        except httpx.HTTPError as exc:
            if isinstance(exc.__cause__, HTTPException | ClientDisconnect):
                raise exc.__cause__ from exc
            logger.warning("upstream %s failed: %s", service, type(exc).__name__)
            raise BadGateway(f"The {service} service gave no valid answer; try again shortly.") from exc
        return _streaming(upstream, service)


def _streaming(upstream: httpx.Response, service: str) -> StreamingResponse:
    response = StreamingResponse(
        _relay(upstream, service), status_code=upstream.status_code, background=BackgroundTask(upstream.aclose)
    )
    response.raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response_headers(upstream)]
    return response


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def _relay(upstream: httpx.Response, service: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:
        # Headers are already sent; all that is left is to cut the response short and say so in the log.
        logger.warning("upstream %s broke off its response: %s", service, type(exc).__name__)
    finally:
        await upstream.aclose()
