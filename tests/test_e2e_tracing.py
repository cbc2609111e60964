"""One trace across the platform's processes: a caller's `traceparent` goes through the gateway to applicant,
into applicant's outbox and onto Kafka, into the benefits, housing and notify consumers, and out to a partner's
webhook receiver.

The stack runs with the standard OTLP variables pointing at a receiver this test runs on loopback; it decodes
the OTLP/HTTP protobuf exports (ExportTraceServiceRequest) and keeps every span with its `service.name`.
"""

from __future__ import annotations

import gzip
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from contracts import TalentCertified
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto
from servicekit.testing import TansuBroker, eventually

from .helpers import EVENT_PATIENCE_S
from .stack import SERVICES, Stack, running_stack
from .test_e2e_notify import FlakyReceiver, certify_through_applicant, token

SECRET = "e2e-tracing-webhook-secret"


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    kind: int
    trace_id: str
    span_id: str
    parent_id: str | None
    event_type: str | None  # the CloudEvents type a messaging span is about


class OtlpReceiver:
    """A minimal OTLP/HTTP trace receiver (POST /v1/traces, protobuf) on 127.0.0.1."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if self.path != "/v1/traces":
                    self.send_error(404)
                    return
                receiver.add(ExportTraceServiceRequest.FromString(body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def add(self, request: ExportTraceServiceRequest) -> None:
        received = []
        for resource_spans in request.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=attributes.get("service.name", ""),
                            name=span.name,
                            kind=span.kind,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex() or None,
                            event_type=next(
                                (a.value.string_value for a in span.attributes if a.key == "cloudevents.event_type"),
                                None,
                            ),
                        )
                    )
        with self._lock:
            self.spans.extend(received)

    def of_trace(self, trace_id: str) -> list[ReceivedSpan]:
        with self._lock:
            return [s for s in self.spans if s.trace_id == trace_id]

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def traced_stack(otlp: OtlpReceiver) -> Iterator[Stack]:
    """A stack of its own, on a broker of its own, whose every process exports its spans to the test's receiver.

    On the session's broker its consumers would join the shared stack's consumer groups ("benefits", …) and the
    certification's event could be taken by the shared stack's consumer, which exports no spans here.
    """
    broker = TansuBroker().start()
    tracing = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": otlp.url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # flush within a fraction of a second, not the default 5 s
        "NO_PROXY": "127.0.0.1,localhost",
    }
    try:
        with running_stack(broker, extra_env={name: tracing for name in [*SERVICES, "gateway"]}) as running:
            yield running
    finally:
        broker.stop()


def chain(spans: list[ReceivedSpan], start: ReceivedSpan) -> list[ReceivedSpan]:
    """The span and its ancestors among `spans`, nearest first."""
    by_id: dict[str | None, ReceivedSpan] = {s.span_id: s for s in spans}
    path = [start]
    while path[-1].parent_id in by_id:
        path.append(by_id[path[-1].parent_id])
    return path


class TestOneTrace:
    async def test_a_certification_is_one_trace_from_the_gateway_to_the_consumers_and_the_partner_webhook(
        self, traced_stack: Stack, otlp: OtlpReceiver
    ) -> None:
        trace_id, root_span = secrets.token_hex(16), secrets.token_hex(8)
        caller = {"traceparent": f"00-{trace_id}-{root_span}-01"}
        receiver = await FlakyReceiver(failures=0).start()
        try:
            async with httpx.AsyncClient(base_url=traced_stack.gateway_url, timeout=30.0, headers=caller) as gateway:
                partner = await token(
                    gateway, grant_type="client_credentials", client_id="partner.hospital", client_secret="dev-secret"
                )
                subscription = {"event_types": [TalentCertified.type], "url": receiver.url, "secret": SECRET}
                response = await gateway.post("/api/v1/partners/subscriptions", json=subscription, headers=partner)
                assert response.status_code == 201, response.text

                await certify_through_applicant(gateway)

            wanted = {"gateway", "applicant", "benefits", "housing", "notify"}

            missing: list[str] = []

            def every_process_reported() -> bool:
                spans = otlp.of_trace(trace_id)
                services = {s.service for s in spans}
                # Each consumer's span of the certification itself, not just any span of its service: housing's
                # other spans of the trace can arrive while its consumer span is still in its exporter's batch.
                processed = {
                    s.service
                    for s in spans
                    if s.event_type == TalentCertified.type and s.name == f"{TalentCertified.topic} process"
                }
                webhook_sent = any(s.service == "notify" and s.name == "webhook POST" for s in spans)
                missing[:] = sorted(wanted - services)
                consumers = {"benefits", "housing", "notify"}
                missing.extend(f"{name} consumer span" for name in sorted(consumers - processed))
                missing.extend(
                    what for what, done in (("webhook span", webhook_sent), ("delivery", receiver.requests)) if not done
                )
                return not missing

            try:
                await eventually(every_process_reported, timeout=EVENT_PATIENCE_S, interval=0.2, what="five services")
            except AssertionError as exc:
                raise AssertionError(f"{exc}; still missing: {missing}") from exc
        finally:
            await receiver.stop()

        spans = otlp.of_trace(trace_id)
        topic = TalentCertified.topic
        certified = [s for s in spans if s.event_type == TalentCertified.type]
        [producer] = [s for s in certified if s.name == f"{topic} publish"]
        assert producer.service == "applicant" and producer.kind == SpanProto.SPAN_KIND_PRODUCER
        consumers = {s.service: s for s in certified if s.name == f"{topic} process"}
        assert {"benefits", "housing", "notify"} <= consumers.keys()
        assert all(
            c.parent_id == producer.span_id and c.kind == SpanProto.SPAN_KIND_CONSUMER for c in consumers.values()
        )

        # From the webhook attempt back to the caller: notify's consumer, applicant's relay and request, the gateway.
        [attempt] = [s for s in spans if s.name == "webhook POST"]
        path = chain(spans, attempt)
        assert [s.service for s in path][:3] == ["notify", "notify", "applicant"]
        assert path[-1].service == "gateway" and path[-1].parent_id == root_span
        assert {"applicant"} == {s.service for s in path[2:-1]}
        assert [s.kind for s in path[-2:]] == [SpanProto.SPAN_KIND_SERVER, SpanProto.SPAN_KIND_SERVER]

        # The partner got the attempt's context as its own `traceparent`, so its spans join the same trace.
        headers, _, _ = receiver.requests[0]
        assert headers["traceparent"] == f"00-{trace_id}-{attempt.span_id}-01"
