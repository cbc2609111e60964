"""What a consumer refuses at once, without retries: events not from the owner of their topic, and events the
database can never store. Each is dead-lettered with its reason and counted; the handler never runs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from contracts import (
    TOPIC_APPLICANT,
    TOPIC_BENEFITS,
    CloudEvent,
    HousingVoucherUsed,
    TalentCertified,
    make_event,
    ownership_problem,
)
from prometheus_client import REGISTRY
from servicekit.consumer import EventConsumer
from servicekit.db import Database
from servicekit.kafka import KafkaPublisher, Record, ensure_topics
from servicekit.models import ProcessedEvent
from servicekit.testing import TansuBroker
from sqlalchemy import insert
from sqlalchemy.exc import OperationalError
from sqlmodel.ext.asyncio.session import AsyncSession

from .conftest import (
    BACKENDS,
    FAST_GROUP,
    KitTestWidget,
    WidgetMade,
    count_rows,
    eventually,
    header,
    read_topic,
    widget_names,
    write_widget,
)


def _consumed(group: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("consumer_events_total", {"group": group, "outcome": outcome}) or 0.0


def certified(talent_id: str) -> TalentCertified:
    return TalentCertified(
        talent_id=talent_id,
        pseudonym=f"p-{talent_id}",
        tier="A",
        points=99,
        certified_until=date(2099, 1, 1),
        region_code="330402",
    )


def voucher_used(talent_id: str) -> HousingVoucherUsed:
    return HousingVoucherUsed(claim_id=f"claim-{talent_id}", talent_id=talent_id)


class TestOwnershipInTheContracts:
    def test_an_event_from_the_owner_on_its_types_topic_passes(self) -> None:
        event = make_event(certified("t-1"), source="applicant", subject="t-1")
        assert ownership_problem(event, TOPIC_APPLICANT) is None

    def test_another_services_source_or_type_or_topic_is_named(self) -> None:
        forged_source = make_event(certified("t-1"), source="benefits", subject="t-1")
        assert "source 'benefits' is not 'applicant'" in (ownership_problem(forged_source, TOPIC_APPLICANT) or "")
        wrong_topic = make_event(certified("t-1"), source="benefits", subject="t-1")
        problem = ownership_problem(wrong_topic, TOPIC_BENEFITS) or ""
        assert "type 'talent.applicant.talent.certified.v1' is not published on talent.benefits" in problem
        assert "source" not in problem, "benefits is the owner of its topic; only the type is out of place"

    def test_topics_the_contracts_do_not_declare_have_no_owner_to_check(self) -> None:
        event = make_event(certified("t-1"), source="kittest", subject="t-1")
        assert ownership_problem(event, "kittest.private") is None


# --- a compromised service on a broker of our own ------------------------------------------------------------


@pytest.fixture(scope="module")
def private_broker() -> Any:
    """These tests write forged events onto the real topic names: never onto the session's broker."""
    broker = TansuBroker().start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
async def private_publisher(private_broker: TansuBroker) -> AsyncIterator[KafkaPublisher]:
    publisher = KafkaPublisher(private_broker.bootstrap_servers, client_id="kittest-owners")
    try:
        yield publisher
    finally:
        await publisher.stop()


async def produce(bootstrap_servers: str, topic: str, event: CloudEvent) -> None:
    """What a service with write access to `topic` can do with an ordinary Kafka client."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(topic, event.to_json(), key=(event.subject or "").encode())
    finally:
        await producer.stop()


class TestConsumersBelieveOnlyTheOwner:
    async def test_forged_events_are_dead_lettered_at_once_and_the_handlers_never_see_them(
        self, private_broker: TansuBroker, private_publisher: KafkaPublisher, database: Database
    ) -> None:
        seen: list[str] = []

        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            seen.append(event.id)
            session.add(KitTestWidget(name=event.id, subject=event.subject or ""))

        group = f"kittest-owners-{uuid.uuid4().hex[:12]}"
        consumer = EventConsumer(
            database,
            private_publisher,
            bootstrap_servers=private_broker.bootstrap_servers,
            group_id=group,
            handlers={TalentCertified: handler, HousingVoucherUsed: handler},
            max_attempts=5,
            retry_backoff_s=1.0,
            consumer_config=FAST_GROUP,
        )
        assert set(consumer.topics) == {TOPIC_APPLICANT, TOPIC_BENEFITS}
        await ensure_topics(private_broker.bootstrap_servers, [*consumer.topics, consumer.dead_letter_topic])
        task = asyncio.create_task(consumer.run())
        try:
            talent = f"uncertified-{uuid.uuid4().hex[:8]}"
            # benefits (compromised, allowed to write its own topic) puts applicant's certification on it
            applicant_type_on_benefits = make_event(certified(talent), source="benefits", subject=talent)
            # a benefits type on applicant's topic, claiming applicant as its source
            benefits_type_on_applicant = make_event(voucher_used(talent), source="applicant", subject=talent)
            # applicant's type on applicant's topic, stamped by another service
            applicant_type_from_housing = make_event(certified(talent), source="housing", subject=talent)
            genuine = make_event(certified("t-genuine"), source="applicant", subject="t-genuine")
            bootstrap = private_broker.bootstrap_servers
            await produce(bootstrap, TOPIC_BENEFITS, applicant_type_on_benefits)
            await produce(bootstrap, TOPIC_APPLICANT, benefits_type_on_applicant)
            await produce(bootstrap, TOPIC_APPLICANT, applicant_type_from_housing)
            await produce(bootstrap, TOPIC_APPLICANT, genuine)

            await eventually(lambda: count_rows(database, KitTestWidget), timeout=60, what="the genuine event applied")
            dead: list[Any] = []

            async def all_three_dead_lettered() -> bool:
                dead[:] = await read_topic(bootstrap, consumer.dead_letter_topic)
                return len(dead) == 3

            await eventually(all_three_dead_lettered, timeout=60, what="the forged events dead-lettered")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

        reasons = {CloudEvent.from_json(d.value).id: header(d, "dlq-reason") or "" for d in dead}
        assert reasons.keys() == {
            applicant_type_on_benefits.id,
            benefits_type_on_applicant.id,
            applicant_type_from_housing.id,
        }
        assert (
            "talent.applicant.talent.certified.v1' is not published on talent.benefits"
            in (reasons[applicant_type_on_benefits.id])
        )
        assert (
            "talent.benefits.housing_voucher.used.v1' is not published on talent.applicant"
            in (reasons[benefits_type_on_applicant.id])
        )
        assert "source 'housing' is not 'applicant'" in reasons[applicant_type_from_housing.id]
        assert all(reason.startswith("refused, not from the owner of") for reason in reasons.values())
        assert seen == [genuine.id], "the handler ran for the genuine event only, once"
        assert await count_rows(database, ProcessedEvent) == 1, "refused events are not in the ledger"
        assert _consumed(group, "refused_owner") == 3
        assert _consumed(group, "dead_lettered") == 0, "refusals are counted apart from failures"


# --- events the database can never store ----------------------------------------------------------------------


class TestEventsNoRetryCanFix:
    @pytest.mark.skipif(BACKENDS != ["postgresql"], reason="SQLite does not enforce a column's length")
    async def test_a_value_too_long_for_its_column_is_dead_lettered_at_once(
        self, broker: TansuBroker, publisher: KafkaPublisher, start_consumer: Any, event_type: type[WidgetMade]
    ) -> None:
        attempts: list[str] = []

        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            attempts.append(data.name)
            await write_widget(session, event, data)

        running = await start_consumer({event_type: handler}, max_attempts=5, retry_backoff_s=1.0)
        too_long = make_event(event_type(name="x" * 500), source="kittest", subject="talent-1")
        fine = make_event(event_type(name="w-after-too-long"), source="kittest", subject="talent-1")
        await publisher.publish([_record(too_long, event_type), _record(fine, event_type)])

        [dead] = await _dead_letters_eventually(broker, running.consumer)
        assert CloudEvent.from_json(dead.value).id == too_long.id
        reason = header(dead, "dlq-reason") or ""
        assert reason.startswith("invalid for the database: DBAPIError 22001"), reason
        assert "x" * 20 not in reason, "the value is not repeated in the reason"
        await eventually(lambda: _widgets_are(running, ["w-after-too-long"]), timeout=60, what="the next event applied")
        # One try alone (the batch's) or one more on its own: never the five a transient failure gets.
        assert attempts.count("x" * 500) <= 2
        assert _consumed(running.consumer.group_id, "dead_lettered") == 1

    async def test_a_constraint_no_retry_can_satisfy_is_dead_lettered_at_once(
        self, broker: TansuBroker, publisher: KafkaPublisher, start_consumer: Any, event_type: type[WidgetMade]
    ) -> None:
        attempts: list[str] = []

        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            # A handler that trusts every event to have a subject meets one that has none: NOT NULL refuses it.
            attempts.append(data.name)
            await session.exec(insert(KitTestWidget).values(name=data.name, subject=event.subject, seq=data.seq))

        running = await start_consumer({event_type: handler}, max_attempts=5, retry_backoff_s=1.0)
        subjectless = make_event(event_type(name="w-no-subject"), source="kittest", subject=None)
        await publisher.publish([_record(subjectless, event_type)])

        [dead] = await _dead_letters_eventually(broker, running.consumer)
        reason = header(dead, "dlq-reason") or ""
        assert reason.startswith("invalid for the database: IntegrityError"), reason
        assert attempts == ["w-no-subject"], "tried once, not five times"
        assert _consumed(running.consumer.group_id, "dead_lettered") == 1
        assert await count_rows(running.consumer.database, ProcessedEvent) == 0

    async def test_a_uniqueness_clash_is_retried_since_another_writer_may_have_raced(
        self, broker: TansuBroker, publisher: KafkaPublisher, start_consumer: Any, event_type: type[WidgetMade]
    ) -> None:
        attempts: list[str] = []

        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            attempts.append(event.id)
            await write_widget(session, event, data)

        running = await start_consumer({event_type: handler}, max_attempts=3, retry_backoff_s=0.01)
        first = make_event(event_type(name="w-same-name"), source="kittest", subject="talent-1")
        await publisher.publish([_record(first, event_type)])
        await eventually(lambda: _widgets_are(running, ["w-same-name"]), timeout=60, what="the first event applied")
        clash = make_event(event_type(name="w-same-name"), source="kittest", subject="talent-1")
        await publisher.publish([_record(clash, event_type)])

        [dead] = await _dead_letters_eventually(broker, running.consumer)
        assert attempts.count(clash.id) == 3, "every attempt was made"
        reason = header(dead, "dlq-reason") or ""
        assert reason.startswith("IntegrityError"), reason
        assert "w-same-name" not in reason, "the statement's values stay out of the reason (and the log)"

    async def test_a_lost_connection_is_retried_and_then_applied(
        self, database: Database, publisher: KafkaPublisher, start_consumer: Any, event_type: type[WidgetMade]
    ) -> None:
        attempts: list[str] = []

        async def handler(session: AsyncSession, event: CloudEvent, data: Any) -> None:
            attempts.append(event.id)
            if len(attempts) == 1:
                raise OperationalError("SELECT 1", {}, ConnectionResetError("connection lost"))
            await write_widget(session, event, data)

        await start_consumer({event_type: handler}, max_attempts=3, retry_backoff_s=0.01)
        event = make_event(event_type(name="w-after-reconnect"), source="kittest", subject="talent-1")
        await publisher.publish([_record(event, event_type)])

        await eventually(lambda: count_rows(database, KitTestWidget), timeout=60, what="applied on the retry")
        assert attempts == [event.id, event.id]
        assert await widget_names(database) == ["w-after-reconnect"]


def _record(event: CloudEvent, event_type: type[WidgetMade]) -> Record:
    return Record(topic=event_type.topic, value=event.to_json(), key=(event.subject or "").encode())


async def _widgets_are(running: Any, names: list[str]) -> bool:
    return await widget_names(running.consumer.database) == names


async def _dead_letters_eventually(broker: TansuBroker, consumer: EventConsumer) -> list[Any]:
    found: list[Any] = []

    async def some() -> bool:
        found[:] = await read_topic(broker.bootstrap_servers, consumer.dead_letter_topic)
        return bool(found)

    await eventually(some, timeout=60, what="a dead letter")
    return found
