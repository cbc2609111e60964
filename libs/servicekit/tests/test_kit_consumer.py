"""The idempotent consumer on the happy path: effect and ledger in one transaction, context carried along."""

from __future__ import annotations

from typing import Any

from contracts import CloudEvent, make_event
from servicekit.context import current_request_id
from servicekit.db import Database
from servicekit.kafka import KafkaPublisher, Record
from servicekit.models import ProcessedEvent
from sqlmodel.ext.asyncio.session import AsyncSession

from .conftest import KitTestWidget, WidgetMade, count_rows, eventually, widget_names, write_widget


def record_of(event: CloudEvent, topic: str, *, request_id: str | None = None) -> Record:
    headers = [("x-request-id", request_id.encode())] if request_id else []
    return Record(topic=topic, value=event.to_json(), key=(event.subject or "").encode(), headers=headers)


def widget_event(event_type: type[WidgetMade], name: str, *, subject: str = "talent-1", seq: int = 0) -> CloudEvent:
    return make_event(event_type(name=name, seq=seq), source="kittest", subject=subject)


class TestEventConsumer:
    async def test_event_is_applied_and_recorded_in_the_ledger(
        self, database: Database, publisher: KafkaPublisher, start_consumer: Any, event_type: type[WidgetMade]
    ) -> None:
        seen: list[tuple[str, str | None, Any]] = []

        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            seen.append((event.id, current_request_id(), data))
            await write_widget(session, event, data)

        running = await start_consumer({event_type: handler})
        event = widget_event(event_type, "w-applied", seq=7)
        await publisher.publish([record_of(event, event_type.topic, request_id="req-from-kafka")])

        await eventually(lambda: count_rows(database, KitTestWidget), what="widget written")
        [(event_id, request_id, data)] = seen
        assert event_id == event.id
        assert request_id == "req-from-kafka", "the Kafka header becomes the handler's request id"
        assert isinstance(data, WidgetMade) and (data.name, data.seq) == ("w-applied", 7)
        async with database.sessionmaker() as session:
            ledger = await session.get(ProcessedEvent, (running.consumer.group_id, event.id))
        assert ledger is not None and ledger.event_type == WidgetMade.type

    async def test_events_of_other_types_on_the_topic_are_skipped(
        self, database: Database, publisher: KafkaPublisher, start_consumer: Any, event_type: type[WidgetMade]
    ) -> None:
        await start_consumer({event_type: write_widget})
        stranger = CloudEvent(source="elsewhere", type="talent.notify.something.else.v1", data={"x": 1})
        await publisher.publish(
            [
                Record(event_type.topic, stranger.to_json()),
                record_of(widget_event(event_type, "w-after-stranger"), event_type.topic),
            ]
        )

        await eventually(lambda: count_rows(database, KitTestWidget), what="later event applied")
        assert await widget_names(database) == ["w-after-stranger"]
        assert await count_rows(database, ProcessedEvent) == 1

    async def test_the_group_reads_each_subjects_events_in_order(
        self, database: Database, publisher: KafkaPublisher, start_consumer: Any, event_type: type[WidgetMade]
    ) -> None:
        order: list[tuple[str, int]] = []

        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            order.append((event.subject or "", data.seq))
            await write_widget(session, event, data)

        await start_consumer({event_type: handler})
        events = [
            widget_event(event_type, f"w-{s}-{i}", subject=s, seq=i) for i in range(10) for s in ("t-a", "t-b", "t-c")
        ]
        await publisher.publish([record_of(e, event_type.topic) for e in events])

        await eventually(lambda: len(order) >= 30, what="all 30 events applied")
        for subject in ("t-a", "t-b", "t-c"):
            assert [seq for s, seq in order if s == subject] == list(range(10))
        # A batch commits after its last handler ran: wait for the commit, not only for the handlers.
        await eventually(lambda: _equals(count_rows(database, KitTestWidget), 30), what="all 30 widgets committed")


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)
