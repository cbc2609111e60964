"""The bus: consumers believe only the service that owns a topic (issue 15, finding 1).

The red team's attack: one hand-made `talent.certified` (tier A) for an uncertified talent, produced with an
ordinary Kafka client, made the housing voucher eligible. With per-service write ACLs a compromised service can
still write its own topic, so the platform's consumers refuse an event whose type or source is not the topic's
owner's. The stack here runs on a broker of its own: forged events on the real topic names must never reach
the session's shared stack.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from applicant.events import outbox as applicant_outbox
from benefits.events import outbox as benefits_outbox
from contracts import (
    EVENT_TYPES,
    TOPIC_APPLICANT,
    TOPIC_BENEFITS,
    TOPIC_HOUSING,
    TOPIC_OWNERS,
    CloudEvent,
    TalentCertified,
    dead_letter_topic,
    make_event,
)
from housing.events import outbox as housing_outbox
from servicekit.testing import TansuBroker, eventually

from .. import helpers
from ..stack import Stack, running_stack


class TestOwnership:
    def test_each_service_stamps_the_owner_name_of_the_topic_it_publishes_on(self) -> None:
        assert applicant_outbox.source == TOPIC_OWNERS[TOPIC_APPLICANT]
        assert benefits_outbox.source == TOPIC_OWNERS[TOPIC_BENEFITS]
        assert housing_outbox.source == TOPIC_OWNERS[TOPIC_HOUSING]

    def test_every_event_type_is_on_a_topic_with_an_owner(self) -> None:
        assert {model.topic for model in EVENT_TYPES.values()} <= set(TOPIC_OWNERS)


@pytest.fixture(scope="module")
def own_stack() -> Iterator[Stack]:
    broker = TansuBroker().start()
    try:
        with running_stack(broker) as stack:
            yield stack
    finally:
        broker.stop()


async def produce(stack: Stack, topic: str, event: CloudEvent) -> None:
    """A service allowed to write `topic` (or anyone, on a broker without ACLs), with a plain Kafka client."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.broker.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, event.to_json(), key=(event.subject or "").encode())
    finally:
        await producer.stop()


async def dead_lettered_ids(stack: Stack, topic: str) -> set[str]:
    """The event ids on a dead-letter topic, read to its current end without a consumer group."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.broker.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not partitions:
            await consumer.force_metadata_update()  # type: ignore[no-untyped-call]
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not partitions:
            return set()
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        ids: set[str] = set()
        deadline = time.monotonic() + 30
        while [tp for tp in partitions if await consumer.position(tp) < end[tp]] and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                ids.update(CloudEvent.from_json(record.value).id for record in batch)
        return ids
    finally:
        await consumer.stop()


def voucher(items: list[dict[str, Any]]) -> dict[str, Any]:
    return next(item for item in items if item["policy_code"] == "HOUSING_VOUCHER")


def reason_codes(item: dict[str, Any]) -> list[str]:
    return [reason["code"] if isinstance(reason, dict) else reason for reason in item.get("reasons", [])]


class TestForgedCertification:
    async def test_a_certification_forged_by_another_service_does_not_make_an_uncertified_talent_eligible(
        self, own_stack: Stack
    ) -> None:
        async with httpx.AsyncClient(base_url=own_stack.gateway_url, timeout=30.0) as gateway:
            auth = await helpers.talent(gateway)
            stored = await gateway.put(
                "/api/v1/me/profile", json=helpers.profile(helpers.fresh_id_number()), headers=auth
            )
            assert stored.status_code == 200, stored.text
            me = (await gateway.get("/api/v1/me/talent", headers=auth)).json()
            talent_id = me["talent_id"]
            assert me["status"] == "registered"

            async def eligibility() -> dict[str, Any]:
                response = await gateway.get("/api/v1/me/eligibility", headers=auth)
                assert response.status_code == 200, response.text
                return voucher(response.json()["items"])

            async def benefits_knows_the_uncertified_talent() -> bool:
                return "not_certified" in reason_codes(await eligibility())

            await eventually(benefits_knows_the_uncertified_talent, timeout=120, what="benefits has the talent")

            forged = TalentCertified(
                talent_id=talent_id,
                pseudonym=f"forged-{uuid.uuid4().hex[:8]}",
                tier="A",
                points=200,
                certified_until=date.today() + timedelta(days=3 * 365),
                region_code="330402",
            )
            # housing may write its own topic, which benefits reads (leases): it puts applicant's type there
            on_housings_topic = make_event(forged, source="housing", subject=talent_id)
            # on applicant's topic, the type is right but the source is not applicant
            with_housings_source = make_event(forged, source="housing", subject=talent_id)
            await produce(own_stack, TOPIC_HOUSING, on_housings_topic)
            await produce(own_stack, TOPIC_APPLICANT, with_housings_source)

            forged_ids = {on_housings_topic.id, with_housings_source.id}
            dlq = dead_letter_topic("benefits.talents")

            async def both_refused() -> bool:
                return forged_ids <= await dead_lettered_ids(own_stack, dlq)

            await eventually(both_refused, timeout=120, interval=0.5, what="benefits dead-lettered both forgeries")

            item = await eligibility()
            assert item["eligible"] is False and "not_certified" in reason_codes(item), item
            claim = await gateway.post("/api/v1/me/claims", json={"policy_code": "HOUSING_VOUCHER"}, headers=auth)
            assert claim.status_code == 422, claim.text
            assert (await gateway.get("/api/v1/me/talent", headers=auth)).json()["status"] == "registered"
