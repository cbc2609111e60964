"""A partner's off-the-shelf clients read every event type: confluent-kafka (librdkafka) consumes what the
outbox relay published to a real broker, and the `cloudevents` SDK's Kafka binding parses each record as a
structured-mode CloudEvent, with the attributes and data the producer wrote."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import contracts
import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.v1 import kafka as ce_kafka_v1
from cloudevents.v1.exceptions import MissingRequiredFields
from confluent_kafka import Consumer, KafkaError, Message
from contracts import CloudEvent, EventData
from contracts.examples import example_data, example_subject
from servicekit.db import Database
from servicekit.kafka import KafkaPublisher, ensure_topics
from servicekit.outbox import Outbox, OutboxRelay
from servicekit.testing import TansuBroker

# What docs/api.md tells partners to set: a group join answers after about half the session timeout
# (measured against Tansu: 23 s with librdkafka's default of 45 s, 3 s with 6 s).
PARTNER_CONSUMER_SETTINGS = {"session.timeout.ms": 6000, "heartbeat.interval.ms": 2000}


@pytest.fixture
def types_on_topics_of_our_own() -> dict[str, type[EventData]]:
    """Every registered type, each on a copy of its topic that only this test reads (same type name)."""
    run = uuid.uuid4().hex[:8]
    return {
        name: type(model.__name__, (model,), {"topic": f"{model.topic}.binding{run}", "__module__": __name__})
        for name, model in contracts.EVENT_TYPES.items()
    }


def test_every_registered_type_has_a_valid_example() -> None:
    for name, model in contracts.EVENT_TYPES.items():
        data = example_data(model)
        assert model.model_validate(data).model_dump(mode="json") == data, name
        assert example_subject(data), name


async def test_a_partner_reads_every_event_type_with_confluent_kafka_and_the_cloudevents_sdk(
    broker: TansuBroker,
    database: Database,
    publisher: KafkaPublisher,
    types_on_topics_of_our_own: dict[str, type[EventData]],
) -> None:
    topics = sorted({model.topic for model in types_on_topics_of_our_own.values()})
    await ensure_topics(broker.bootstrap_servers, topics)
    emitted: dict[str, CloudEvent] = {}
    async with database.transaction() as session:
        for name, model in types_on_topics_of_our_own.items():
            data = model.model_validate(example_data(contracts.EVENT_TYPES[name]))
            subject = example_subject(data.model_dump(mode="json"))
            emitted[name] = Outbox(model.topic.split(".")[1]).emit(session, data, subject=subject)
    assert await OutboxRelay(database, publisher).publish_pending() == len(contracts.EVENT_TYPES)

    messages = await asyncio.to_thread(consume_all, broker.bootstrap_servers, topics, len(emitted))

    assert sorted(json.loads(m.value() or b"")["type"] for m in messages) == sorted(emitted)
    for message in messages:
        headers = dict(message.headers() or [])
        assert headers["content-type"] == b"application/cloudevents+json; charset=UTF-8"
        assert not [name for name in headers if name.startswith("ce_")]  # those would declare binary mode
        sent = emitted[json.loads(message.value() or b"")["type"]]
        assert message.key() == sent.subject.encode() if sent.subject else message.key() is None

        event = ce_kafka.from_structured(
            ce_kafka.KafkaMessage(headers=headers, key=message.key(), value=message.value() or b""), JSONFormat()
        )
        assert (event.get_specversion(), event.get_id(), event.get_source()) == ("1.0", sent.id, sent.source)
        assert (event.get_type(), event.get_subject(), event.get_time()) == (sent.type, sent.subject, sent.time)
        assert event.get_datacontenttype() == "application/json"
        assert event.get_extension("partitionkey") == sent.subject
        assert event.get_data() == sent.data

        legacy = ce_kafka_v1.from_structured(ce_kafka_v1.KafkaMessage(headers, message.key(), message.value()))
        assert (legacy["specversion"], legacy["id"], legacy["source"]) == ("1.0", sent.id, sent.source)
        assert (legacy["type"], legacy["subject"]) == (sent.type, sent.subject)
        assert legacy["time"] == sent.time.isoformat().replace("+00:00", "Z")
        assert legacy.get_data() == sent.data
        with pytest.raises(MissingRequiredFields):  # the record is not a binary-mode event
            ce_kafka_v1.from_binary(ce_kafka_v1.KafkaMessage(headers, message.key(), message.value()))


def consume_all(bootstrap_servers: str, topics: list[str], expected: int, *, within_s: float = 60.0) -> list[Message]:
    """Join a fresh group as a partner would, and read until `expected` records came (or the wait runs out)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"partner-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **PARTNER_CONSUMER_SETTINGS,
        }
    )
    consumer.subscribe(topics)
    try:
        messages: list[Message] = []
        deadline = time.monotonic() + within_s
        while len(messages) < expected:
            assert time.monotonic() < deadline, f"read {len(messages)} of {expected} records within {within_s}s"
            for message in consumer.consume(num_messages=expected, timeout=0.5):
                error = message.error()
                if error is None:
                    messages.append(message)
                elif error.code() != KafkaError._PARTITION_EOF:
                    raise AssertionError(f"consumer error: {error}")
        return messages
    finally:
        consumer.close()
