"""OpenTelemetry tracing: W3C trace context through HTTP, the outbox, Kafka and webhooks; export only when asked.

Configured by the standard variables, read once per process:

- `OTEL_TRACES_EXPORTER`: `otlp` (OTLP/HTTP protobuf), `console`, or `none` (the default here, unlike the SDK's);
  several may be given, comma-separated.
- `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (a full URL, e.g. http://collector:4318/v1/traces) or
  `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL; /v1/traces is appended), `OTEL_EXPORTER_OTLP_HEADERS`, …
- `OTEL_SERVICE_NAME` (default: the service's own name), `OTEL_RESOURCE_ATTRIBUTES`.
- `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG` (the SDK's default: parentbased_always_on).
- `OTEL_BSP_SCHEDULE_DELAY`, `OTEL_BSP_MAX_QUEUE_SIZE`, … (the batch span processor).
- `OTEL_SDK_DISABLED=true`: no SDK at all, whatever else is set.

With no exporter no SDK is installed: the API's no-op tracer then hands the caller's span context on unchanged,
so every hop still forwards `traceparent` (and logs carry its trace id) at the cost of parsing one header.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import httpx
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

logger = logging.getLogger("servicekit.tracing")

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
_TRACE_FIELDS = (TRACEPARENT, TRACESTATE)

tracer = trace.get_tracer("servicekit")

# FastAPI's own telemetry would add a second server span per request once a provider is set, with the raw path
# (which may hold a talent's id) and query as attributes, plus spans per dependency: TracingMiddleware replaces it.
NATIVE_TELEMETRY_OFF: Any = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


class _Tracing:
    """The process's SDK provider (when one is exporting) and how many apps of the process use it."""

    provider: Any = None
    users = 0


_state = _Tracing()


def _exporter_names() -> list[str]:
    raw = os.environ.get("OTEL_TRACES_EXPORTER", "none")
    return [name.strip().lower() for name in raw.split(",") if name.strip() and name.strip().lower() != "none"]


def tracing_enabled() -> bool:
    """Whether this process exports spans (the settings ask for an exporter and the SDK is not disabled)."""
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true" and bool(_exporter_names())


def configure_tracing(service_name: str) -> bool:
    """Install the SDK with the configured exporters (once per process); False when tracing stays off.

    Every call that returned True is matched by one `shutdown_tracing()` at the app's stop.
    """
    if not tracing_enabled():
        return False
    if _state.provider is not None:
        _state.users += 1
        return True
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    name = os.environ.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))  # sampler from OTEL_TRACES_SAMPLER
    for exporter_name in _exporter_names():
        exporter: SpanExporter
        if exporter_name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()  # endpoint, headers and timeout from OTEL_EXPORTER_OTLP_*
        elif exporter_name == "console":
            exporter = ConsoleSpanExporter(service_name=name)
        else:
            logger.warning("unknown OTEL_TRACES_EXPORTER %r ignored (otlp, console or none)", exporter_name)
            continue
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _state.provider = provider
    _state.users = 1
    logger.info("tracing on: exporting spans as %s (%s)", name, ", ".join(_exporter_names()))
    return True


def shutdown_tracing() -> None:
    """Flush and stop the exporters when the process's last app stops (spans still queued are sent)."""
    if _state.provider is None or _state.users == 0:
        return
    _state.users -= 1
    if _state.users == 0:
        try:
            _state.provider.force_flush()
            _state.provider.shutdown()
        except Exception as exc:  # a collector that is away must not turn a clean stop into a crash
            logger.warning("could not flush spans at shutdown: %s", exc)


# --- propagation --------------------------------------------------------------------------------


def extract(carrier: Mapping[str, str]) -> Context:
    """The context a carrier (headers, an event's attributes) names; an empty one when it names none."""
    return propagate.extract(carrier)


def inject(carrier: MutableMapping[str, str], context: Context | None = None) -> None:
    """Write the current (or the given) context into a carrier as `traceparent` / `tracestate`."""
    propagate.inject(carrier, context=context)


def current_trace_fields() -> dict[str, str]:
    """The current context as CloudEvents Distributed Tracing attributes (empty when there is no trace)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {name: carrier[name] for name in _TRACE_FIELDS if carrier.get(name)}


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits, for log lines; None outside a trace."""
    context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None


def event_context(attributes: Mapping[str, Any]) -> Context:
    """The context an event's `traceparent` / `tracestate` attributes carry."""
    return extract({name: str(attributes[name]) for name in _TRACE_FIELDS if attributes.get(name)})


def payload_context(payload: str) -> Context:
    """The context stored in an event's JSON (a cheap check first: most rows of an untraced stack carry none)."""
    if f'"{TRACEPARENT}"' not in payload:
        return Context()
    try:
        document = json.loads(payload)
    except ValueError:
        return Context()
    return event_context(document) if isinstance(document, dict) else Context()


async def _inject_into_request(request: httpx.Request) -> None:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    for name, value in carrier.items():
        request.headers[name] = value


def httpx_event_hooks() -> dict[str, list[Any]]:
    """`event_hooks` for an httpx client: every request it sends carries the caller's trace context."""
    return {"request": [_inject_into_request]}


# --- HTTP server spans ----------------------------------------------------------------------------


class TracingMiddleware:
    """A server span per HTTP request, continuing the caller's `traceparent`; named after the route template.

    Attributes are the method, the route template and the status: never the path itself, which may hold ids.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier = {
            name: value.decode("latin-1")
            for key, value in scope["headers"]
            if (name := key.decode("latin-1").lower()) in _TRACE_FIELDS
        }
        method = scope["method"]
        status: dict[str, int] = {}

        async def send_with_status(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        with tracer.start_as_current_span(
            method, context=extract(carrier), kind=SpanKind.SERVER, record_exception=False
        ) as span:
            try:
                await self.app(scope, receive, send_with_status)
            finally:
                if span.is_recording():
                    route = getattr(scope.get("route"), "path", None)
                    span.update_name(f"{method} {route}" if route else method)
                    span.set_attribute("http.request.method", method)
                    if route:
                        span.set_attribute("http.route", route)
                    code = status.get("code", 500)
                    span.set_attribute("http.response.status_code", code)
                    if code >= 500:
                        span.set_status(Status(StatusCode.ERROR))


# --- Kafka: producer spans in the relay, consumer spans around handlers ---------------------------

# event id -> the headers of its producer span, while the relay publishes a batch.
_publishing: ContextVar[Mapping[str, dict[str, str]] | None] = ContextVar("publishing", default=None)


def _messaging_attributes(topic: str, event_id: str, event_type: str, operation: str) -> dict[str, Any]:
    return {
        "messaging.system": "kafka",
        "messaging.operation.type": operation,
        "messaging.destination.name": topic,
        "messaging.message.id": event_id,
        "cloudevents.event_id": event_id,
        "cloudevents.event_type": event_type,
    }


@contextmanager
def publish_spans(rows: Sequence[Any]) -> Iterator[None]:
    """A "<topic> publish" producer span per outbox row, child of the context stored with the event, open while
    the block publishes; `message_trace_headers` gives each record its span's `traceparent`."""
    spans: list[Span] = []
    headers: dict[str, dict[str, str]] = {}
    for row in rows:
        parent = payload_context(row.payload)
        span = tracer.start_span(
            f"{row.topic} publish",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes=_messaging_attributes(row.topic, row.event_id, row.event_type, "send"),
        )
        carrier: dict[str, str] = {}
        inject(carrier, trace.set_span_in_context(span, parent))
        if carrier:
            headers[row.event_id] = carrier
        spans.append(span)
    token = _publishing.set(headers)
    try:
        yield
    except BaseException as exc:
        for span in spans:
            if span.is_recording():
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        raise
    finally:
        _publishing.reset(token)
        for span in spans:
            span.end()


def message_trace_headers(row: Any) -> list[tuple[str, bytes]]:
    """Kafka headers `traceparent` / `tracestate` of an outbox row: its producer span's, else the stored ones."""
    carrier = (_publishing.get() or {}).get(row.event_id)
    if carrier is None:
        carrier = {}
        inject(carrier, payload_context(row.payload))
    return [(name, carrier[name].encode()) for name in _TRACE_FIELDS if carrier.get(name)]


def _header_carrier(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    return {key: bytes(value).decode("latin-1") for key, value in headers or () if key in _TRACE_FIELDS and value}


@contextmanager
def consumer_span(
    *, topic: str, group: str, event: Any, headers: Sequence[tuple[str, bytes]] | None, partition: int | None = None
) -> Iterator[Span]:
    """A "<topic> process" consumer span around one event's handler, continuing the producer's context
    (the Kafka `traceparent` header, else the event's own attribute). No personal data: ids and types only."""
    carrier = _header_carrier(headers)
    parent = extract(carrier) if carrier else event_context(event.model_extra or {})
    attributes = _messaging_attributes(topic, event.id, event.type, "process")
    attributes["messaging.consumer.group.name"] = group
    if partition is not None:
        attributes["messaging.destination.partition.id"] = str(partition)
    with tracer.start_as_current_span(
        f"{topic} process", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span


@contextmanager
def client_span(name: str, parent: Context, attributes: Mapping[str, Any] | None = None) -> Iterator[dict[str, str]]:
    """An outgoing call's client span, child of `parent`; yields the headers that continue it downstream."""
    with tracer.start_as_current_span(name, context=parent, kind=SpanKind.CLIENT, attributes=attributes) as span:
        carrier: dict[str, str] = {}
        inject(carrier)
        try:
            yield carrier
        except BaseException as exc:
            if span.is_recording():
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise


def record_http_status(code: int) -> None:
    """Note an HTTP answer's status on the current span (an error status from 400 on, for a client span)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("http.response.status_code", code)
        if code >= 400:
            span.set_status(Status(StatusCode.ERROR, f"HTTP {code}"))


__all__ = [
    "NATIVE_TELEMETRY_OFF",
    "TRACEPARENT",
    "TRACESTATE",
    "TracingMiddleware",
    "client_span",
    "configure_tracing",
    "consumer_span",
    "current_trace_fields",
    "current_trace_id",
    "event_context",
    "extract",
    "httpx_event_hooks",
    "inject",
    "message_trace_headers",
    "payload_context",
    "publish_spans",
    "record_http_status",
    "shutdown_tracing",
    "tracing_enabled",
]
