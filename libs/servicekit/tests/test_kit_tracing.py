"""Tracing: a request continues its caller's W3C trace, its events carry it, and the relay and consumers carry on.

The spans are read from the SDK's in-memory exporter. The test provider samples only traces whose caller asked
for it (a sampled `traceparent`), so the rest of the suite, which sends none, records nothing.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from contracts import CloudEvent, make_event
from fastapi import APIRouter
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import SpanKind
from servicekit.app import ServiceDefinition, create_app
from servicekit.db import Database, SessionDep
from servicekit.kafka import KafkaPublisher, Record, ensure_topics
from servicekit.logging import JsonFormatter
from servicekit.models import OutboxEvent
from servicekit.outbox import Outbox, OutboxRelay
from servicekit.testing import TansuBroker
from servicekit.tracing import consumer_span, extract, httpx_event_hooks
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from .conftest import KitTestWidget, WidgetMade, eventually, header, read_topic, write_widget
from .test_kit_http import serve, settings_for

outbox = Outbox("kittest")
router = APIRouter()


@router.post("/traced/widgets/{name}", status_code=201)
async def make_widget(name: str, session: SessionDep) -> dict[str, str]:
    """Write a widget and its event (the path holds a value that must not reach span attributes)."""
    session.add(KitTestWidget(name=name, subject="talent-1"))
    outbox.emit(session, WidgetMade(name=name), subject="talent-1")
    return {"name": name}


_EXPORTER = InMemorySpanExporter()


def _install_provider() -> None:
    # The global provider can be set once per process: the first test installs it, the others reuse it.
    if not getattr(trace.get_tracer_provider(), "_kit_tracing_test", False):
        provider = TracerProvider(sampler=ParentBased(ALWAYS_OFF))
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        provider._kit_tracing_test = True  # type: ignore[attr-defined]
        trace.set_tracer_provider(provider)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    _install_provider()
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def new_traceparent(sampled: bool = True) -> tuple[str, str, str]:
    """(traceparent, trace id, span id) of a caller's span."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}", trace_id, span_id


def ids(span: ReadableSpan) -> tuple[str, str, str | None]:
    """(trace id, span id, parent span id) of a finished span, as hex."""
    context = span.get_span_context()
    assert context is not None
    parent = format(span.parent.span_id, "016x") if span.parent else None
    return format(context.trace_id, "032x"), format(context.span_id, "016x"), parent


def only(spans: InMemorySpanExporter, kind: SpanKind, name: str | None = None) -> ReadableSpan:
    found = [s for s in spans.get_finished_spans() if s.kind == kind and (name is None or s.name == name)]
    assert len(found) == 1, [(s.name, s.kind) for s in spans.get_finished_spans()]
    return found[0]


async def stored_event(database: Database) -> CloudEvent:
    async with database.sessionmaker() as session:
        [row] = list(await session.exec(select(OutboxEvent)))
    return CloudEvent.from_json(row.payload)


@pytest.fixture
async def client(database_url: str, broker: TansuBroker) -> Any:
    definition = ServiceDefinition(name="kittest", title="Kit test", routers=[router])
    app = create_app(definition, settings_for(database_url, broker.bootstrap_servers), run_workers=False)
    async with serve(app) as http:
        yield http


class TestHttpSpans:
    async def test_a_request_is_a_server_span_in_the_callers_trace(
        self, client: httpx.AsyncClient, spans: InMemorySpanExporter
    ) -> None:
        traceparent, trace_id, caller_span = new_traceparent()

        response = await client.post("/traced/widgets/w-330402", headers={"traceparent": traceparent})

        assert response.status_code == 201, response.text
        server = only(spans, SpanKind.SERVER)
        assert ids(server)[0] == trace_id and ids(server)[2] == caller_span
        assert server.name == "POST /traced/widgets/{name}"
        attributes = dict(server.attributes or {})
        assert attributes["http.route"] == "/traced/widgets/{name}"
        assert attributes["http.response.status_code"] == 201
        assert not any("w-330402" in str(value) for value in attributes.values()), "the raw path stays out"

    async def test_the_event_a_request_writes_carries_the_request_span_as_its_traceparent(
        self, client: httpx.AsyncClient, database: Database, spans: InMemorySpanExporter
    ) -> None:
        traceparent, trace_id, _ = new_traceparent()

        assert (await client.post("/traced/widgets/w-event", headers={"traceparent": traceparent})).status_code == 201

        event = await stored_event(database)
        _, server_span, _ = ids(only(spans, SpanKind.SERVER))
        assert (event.model_extra or {})["traceparent"] == f"00-{trace_id}-{server_span}-01"

    async def test_an_unsampled_callers_trace_still_reaches_the_event_without_recording_spans(
        self, client: httpx.AsyncClient, database: Database, spans: InMemorySpanExporter
    ) -> None:
        traceparent, trace_id, _ = new_traceparent(sampled=False)

        assert (await client.post("/traced/widgets/w-quiet", headers={"traceparent": traceparent})).status_code == 201

        event = await stored_event(database)
        assert str((event.model_extra or {})["traceparent"]).split("-")[1] == trace_id
        assert spans.get_finished_spans() == ()

    async def test_a_request_without_a_trace_starts_a_new_one_that_the_sampler_may_leave_unrecorded(
        self, client: httpx.AsyncClient, database: Database, spans: InMemorySpanExporter
    ) -> None:
        assert (await client.post("/traced/widgets/w-plain")).status_code == 201

        event = await stored_event(database)
        version, trace_id, span_id, flags = str((event.model_extra or {})["traceparent"]).split("-")
        assert version == "00" and len(trace_id) == 32 and len(span_id) == 16
        assert int(flags, 16) & 1 == 0, "not sampled: this test provider samples only what a caller asked for"
        assert spans.get_finished_spans() == ()


class TestKafkaSpans:
    async def test_the_relay_publishes_a_producer_span_and_sends_it_as_the_kafka_traceparent(
        self,
        database: Database,
        publisher: KafkaPublisher,
        broker: TansuBroker,
        spans: InMemorySpanExporter,
        event_type: type[WidgetMade],
    ) -> None:
        topic = event_type.topic
        await ensure_topics(broker.bootstrap_servers, [topic])
        traceparent, trace_id, caller_span = new_traceparent()
        token = otel_context.attach(extract({"traceparent": traceparent}))  # as inside a traced request
        try:
            async with database.transaction() as session:
                event = outbox.emit(session, event_type(name=f"w-{uuid.uuid4().hex[:8]}"), subject="talent-1")
        finally:
            otel_context.detach(token)

        await OutboxRelay(database, publisher).publish_pending()

        producer = only(spans, SpanKind.PRODUCER)
        assert producer.name == f"{topic} publish"
        assert ids(producer)[0] == trace_id and ids(producer)[2] == caller_span
        assert dict(producer.attributes or {})["messaging.message.id"] == event.id
        records = await read_topic(broker.bootstrap_servers, topic)
        record = next(r for r in records if json.loads(r.value)["id"] == event.id)
        assert header(record, "traceparent") == f"00-{trace_id}-{ids(producer)[1]}-01"

    async def test_a_consumer_handles_each_event_in_a_child_span_of_the_message(
        self,
        database: Database,
        publisher: KafkaPublisher,
        start_consumer: Any,
        spans: InMemorySpanExporter,
        event_type: type[WidgetMade],
    ) -> None:
        seen: list[str | None] = []

        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            context = trace.get_current_span().get_span_context()
            seen.append(format(context.trace_id, "032x") if context.is_valid else None)
            await write_widget(session, event, data)

        running = await start_consumer({event_type: handler})
        traceparent, trace_id, producer_span = new_traceparent()
        event = make_event(event_type(name=f"w-{uuid.uuid4().hex[:8]}"), source="kittest", subject="talent-1")
        headers = [("traceparent", traceparent.encode())]
        await publisher.publish(
            [Record(topic=event_type.topic, value=event.to_json(), key=b"talent-1", headers=headers)]
        )

        await eventually(lambda: seen, what="the handler ran")
        assert seen == [trace_id], "the handler runs inside the message's trace"
        # The consumer's span ends after the handler's transaction commits, a moment after `seen` is filled.
        await eventually(
            lambda: [s for s in spans.get_finished_spans() if s.kind == SpanKind.CONSUMER], what="the span ended"
        )
        process = only(spans, SpanKind.CONSUMER)
        assert process.name == f"{event_type.topic} process"
        assert ids(process)[0] == trace_id and ids(process)[2] == producer_span
        attributes = dict(process.attributes or {})
        assert attributes["messaging.system"] == "kafka"
        assert attributes["messaging.consumer.group.name"] == running.consumer.group_id
        assert attributes["messaging.message.id"] == event.id
        assert "talent-1" not in {str(v) for v in attributes.values()}, "no subject (a talent id) in attributes"

    def test_without_a_header_the_events_own_traceparent_is_the_parent(self, spans: InMemorySpanExporter) -> None:
        traceparent, trace_id, stored_span = new_traceparent()
        event = make_event(WidgetMade(name="w-attr"), source="kittest", subject="talent-1")
        event = event.model_copy(update={"traceparent": traceparent})

        with consumer_span(topic=WidgetMade.topic, group="kittest.g", event=event, headers=[]):
            pass

        process = only(spans, SpanKind.CONSUMER)
        assert ids(process)[0] == trace_id and ids(process)[2] == stored_span


class TestOutgoingCalls:
    async def test_an_httpx_client_with_the_kits_hooks_sends_the_current_context(self) -> None:
        traceparent, _, _ = new_traceparent()
        sent: list[str | None] = []

        def answer(request: httpx.Request) -> httpx.Response:
            sent.append(request.headers.get("traceparent"))
            return httpx.Response(204)

        transport = httpx.MockTransport(answer)
        async with httpx.AsyncClient(transport=transport, event_hooks=httpx_event_hooks()) as client:
            token = otel_context.attach(extract({"traceparent": traceparent}))
            try:
                await client.get("http://127.0.0.1/partner")
            finally:
                otel_context.detach(token)
            await client.get("http://127.0.0.1/partner")

        assert sent == [traceparent, None]


class TestLogs:
    def test_a_log_line_inside_a_trace_carries_its_trace_id(self) -> None:
        traceparent, trace_id, _ = new_traceparent()
        record = logging.LogRecord("kit", logging.INFO, __file__, 1, "hello", None, None)

        with trace.use_span(trace.get_current_span(extract({"traceparent": traceparent}))):
            inside = json.loads(JsonFormatter("kittest").format(record))
        outside = json.loads(JsonFormatter("kittest").format(record))

        assert inside["trace_id"] == trace_id
        assert "trace_id" not in outside
