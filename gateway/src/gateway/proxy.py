"""Forwarding API calls to the services over one pooled HTTP client, large bodies streamed both ways.

The upstream client is aiohttp's: on the gateway's hot path it costs a fraction of httpx's (whose
connection pool checks every idle connection with a `select()` on every request). Small bodies with a
known length (the usual JSON call) are sent and relayed whole, in one piece; bodies of unknown or large
length stream in both directions, so the gateway never holds a big upload or download in memory.
The other outbound calls (JWKS, OpenAPI, OTP delivery, readiness) keep the httpx client of the runtime.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from urllib.parse import quote

import aiohttp
import httpx
from servicekit.context import REQUEST_ID_HEADER, current_request_id
from servicekit.middleware import client_ip
from servicekit.tracing import TRACEPARENT, TRACESTATE, httpx_event_hooks, inject
from starlette.background import BackgroundTask
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope
from yarl import URL

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
    # The gateway's own span continues the caller's trace: the service gets that span as its parent.
    TRACEPARENT,
    TRACESTATE,
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
}
_REQUEST_DROP_RAW = frozenset(name.encode("latin-1") for name in _REQUEST_DROP)
# Uvicorn writes its own; the middleware writes the request id.
_RESPONSE_DROP = HOP_BY_HOP | {"date", "server", REQUEST_ID_HEADER.lower()}
_RESPONSE_DROP_RAW = frozenset(name.encode("latin-1") for name in _RESPONSE_DROP)
# Bodies up to this size with a declared length are buffered (one write each way); larger ones stream.
BUFFER_LIMIT = 64 * 1024
# What aiohttp would add on its own; the service sees the caller's headers, not the client library's.
_NO_AUTO_HEADERS = ("User-Agent", "Accept-Encoding", "Accept")
_NO_BODY_STATUSES = frozenset({204, 304})
KEEPALIVE_S = 4.0


def build_client(settings: GatewaySettings) -> httpx.AsyncClient:
    """The client of the gateway's own outbound calls (JWKS, OpenAPI, OTP delivery, readiness): off the hot path."""
    timeout = httpx.Timeout(settings.upstream_timeout_s, connect=settings.upstream_connect_timeout_s)
    limits = httpx.Limits(
        max_connections=settings.upstream_max_connections, max_keepalive_connections=settings.upstream_max_keepalive
    )
    return httpx.AsyncClient(
        timeout=timeout, limits=limits, follow_redirects=False, trust_env=False, event_hooks=httpx_event_hooks()
    )


def _connection_tokens(value: str | None) -> set[str]:
    return {t.strip().lower() for t in (value or "").split(",") if t.strip()}


def upstream_url(base: str, scope: Scope) -> URL:
    """The service's URL for this request: the path exactly as the caller sent it (still percent-encoded, so
    the service decodes it once, as the gateway did: an encoded `?`, `/` or `%` stays data), and the query."""
    raw_path = scope.get("raw_path") or quote(scope["path"]).encode("ascii")
    query = scope.get("query_string") or b""
    return URL(base + raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else ""), encoded=True)


def forward_headers(scope: Scope) -> list[tuple[str, str]]:
    """The caller's headers less those the gateway sets itself (and hop-by-hop ones), then the gateway's own."""
    return _forwarded(scope)[0]


def _forwarded(scope: Scope) -> tuple[list[tuple[str, str]], str | None, bool]:
    """forward_headers, with what the caller said of its body: the declared length, and whether it is chunked."""
    raw: list[tuple[bytes, bytes]] = scope["headers"]  # names lower case, as the ASGI server gives them
    connection = prior = host = declared = None
    chunked = False
    for name, value in raw:  # the first of each, as Starlette's Headers.get would answer
        if name == b"content-length":
            if declared is None:
                declared = value.decode("latin-1")
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"connection":
            if connection is None:
                connection = value.decode("latin-1")
        elif name == b"x-forwarded-for":
            if prior is None:
                prior = value.decode("latin-1")
        elif name == b"host" and host is None:
            host = value.decode("latin-1")
    drop = _REQUEST_DROP_RAW
    if connection:
        drop = drop | {t.encode("latin-1") for t in _connection_tokens(connection)}
    forwarded = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in raw if k not in drop]
    forwarded.append((REQUEST_ID_HEADER, current_request_id() or ""))
    trace_context: dict[str, str] = {}
    inject(trace_context)
    if trace_context:
        forwarded.extend(trace_context.items())
    ip = client_ip(scope)
    forwarded.append(("X-Forwarded-For", f"{prior}, {ip}" if prior else ip))
    forwarded.append(("X-Forwarded-Proto", scope.get("scheme", "http")))
    if host is not None:
        forwarded.append(("X-Forwarded-Host", host))
    return forwarded, declared, chunked


async def _read_body(receive: Receive) -> bytes:
    """The whole (small) body of the caller: a 413 from the body limit or a disconnect surfaces here."""
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        return bytes(message.get("body", b""))  # the usual case: one message
    chunks: list[bytes] = []
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        message = await receive()


def response_headers(raw: Iterable[tuple[bytes, bytes]], connection: str | None) -> list[tuple[bytes, bytes]]:
    """The upstream's headers less hop-by-hop ones (and those the connection header names), names lower case."""
    drop = _RESPONSE_DROP_RAW | {t.encode("latin-1") for t in _connection_tokens(connection)}
    return [(name, value) for name, value in ((k.lower(), v) for k, v in raw) if name not in drop]


class _StreamedBody:
    """The caller's body as it arrives, remembering why it stopped when it did not finish (413, disconnect),
    so that reason, not a generic upstream failure, becomes the answer."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.error: Exception | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.request.stream():
                if chunk:
                    yield chunk
        except Exception as exc:
            self.error = exc
            raise


class UpstreamProxy:
    """Sends a request on to its service and relays the answer back."""

    def __init__(self, settings: GatewaySettings, upstreams: Mapping[str, str]) -> None:
        self.upstreams = dict(upstreams)
        self._limit = settings.upstream_max_connections
        # connect: waiting for a pooled connection and opening one; sock_connect: the TCP connect alone;
        # sock_read: the longest silence while waiting for (or reading) the answer.
        self._timeout = aiohttp.ClientTimeout(
            total=None,
            connect=settings.upstream_timeout_s,
            sock_connect=settings.upstream_connect_timeout_s,
            sock_read=settings.upstream_timeout_s,
        )
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        # Built on first use: an aiohttp session belongs to the running event loop.
        if self._session is None or self._session.closed:
            # Idle connections are dropped before uvicorn's 5 s keep-alive would close them under a request.
            connector = aiohttp.TCPConnector(
                limit=self._limit, limit_per_host=0, ttl_dns_cache=60, keepalive_timeout=KEEPALIVE_S
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                auto_decompress=False,  # bytes pass through as the service encoded them
                skip_auto_headers=_NO_AUTO_HEADERS,
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),  # a proxy keeps no cookies of its own
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def forward(self, request: Request, service: str) -> Response:
        return await self.forward_asgi(request.scope, request.receive, service)

    async def forward_asgi(self, scope: Scope, receive: Receive, service: str) -> Response:
        """Send the call on to `service` and return its answer (small ones whole, others streaming)."""
        url = upstream_url(self.upstreams[service], scope)
        headers, declared, chunked = _forwarded(scope)
        streamed: _StreamedBody | None = None
        data: bytes | AsyncIterator[bytes] | None = None
        if declared is not None and declared.isdigit() and int(declared) <= BUFFER_LIMIT:
            data = await _read_body(receive)  # a 413 or a disconnect surfaces here, before anything is sent
        elif declared is not None or chunked:
            streamed = _StreamedBody(Request(scope, receive))
            data = streamed.chunks()
        method: str = scope["method"]
        try:
            upstream = await self.session.request(method, url, headers=headers, data=data, allow_redirects=False)
        except TimeoutError as exc:
            logger.warning("upstream %s timed out: %s", service, type(exc).__name__)
            raise GatewayTimeout(service) from exc
        except aiohttp.ClientConnectorError as exc:
            logger.warning("upstream %s unreachable: %s", service, type(exc).__name__)
            raise UpstreamUnavailable(service, headers={"Retry-After": "5"}) from exc
        except aiohttp.ClientError as exc:
            if streamed is not None and streamed.error is not None:
                raise streamed.error from exc  # the caller's body was refused (413) or the caller went away
            logger.warning("upstream %s failed: %s", service, type(exc).__name__)
            raise BadGateway(service) from exc
        if _small(upstream, method):
            return await _buffered(upstream, service)
        return _streaming(upstream, service)


def _small(upstream: aiohttp.ClientResponse, method: str) -> bool:
    if method == "HEAD" or upstream.status in _NO_BODY_STATUSES:
        return True
    length = upstream.content_length
    return length is not None and length <= BUFFER_LIMIT


async def _buffered(upstream: aiohttp.ClientResponse, service: str) -> Response:
    try:
        body = await upstream.read()
    except TimeoutError as exc:
        logger.warning("upstream %s timed out in its response: %s", service, type(exc).__name__)
        raise GatewayTimeout(service) from exc
    except aiohttp.ClientError as exc:
        logger.warning("upstream %s broke off its response: %s", service, type(exc).__name__)
        raise BadGateway(service) from exc
    finally:
        upstream.release()
    # The upstream's own Content-Length stays: the body is relayed byte for byte.
    return _Relayed(upstream.status, response_headers(upstream.raw_headers, upstream.headers.get("connection")), body)


class _Relayed(Response):
    """An upstream's whole answer, relayed as it came (no headers of Starlette's own, no re-encoding)."""

    def __init__(self, status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status_code = status
        self.raw_headers = raw_headers
        self.body = body
        self.background = None


def _streaming(upstream: aiohttp.ClientResponse, service: str) -> StreamingResponse:
    response = StreamingResponse(
        _relay(upstream, service), status_code=upstream.status, background=BackgroundTask(upstream.release)
    )
    response.raw_headers = response_headers(upstream.raw_headers, upstream.headers.get("connection"))
    return response


async def _relay(upstream: aiohttp.ClientResponse, service: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.content.iter_any():
            yield chunk
    except (aiohttp.ClientError, TimeoutError) as exc:
        # Headers are already sent; all that is left is to cut the response short and say so in the log.
        logger.warning("upstream %s broke off its response: %s", service, type(exc).__name__)
    finally:
        upstream.release()
