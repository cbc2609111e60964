"""Notify test fixtures: the kit's testbed (a fresh migrated database per test, the app on the test broker, a
client; `settings_overrides` changes the settings), a driver for its consumers, timers and webhook worker, event
samples, a real SMTP server and a real webhook receiver."""

from __future__ import annotations

import asyncio
import enum
import types
import typing
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from contracts import CloudEvent, EventData, make_event
from fastapi import FastAPI
from notify.components import Components
from notify.config import NotifySettings
from notify.main import build_app
from notify.webhooks import DeliveryWorker
from pydantic import AwareDatetime
from servicekit.consumer import EventConsumer
from servicekit.db import Database
from servicekit.testing import free_port
from servicekit.testing_fixtures import ServiceTestbed, talent_fixtures

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"


def _settings_defaults(tmp_path: Path) -> dict[str, Any]:
    """SMS to a file of the test's own, and quick retries and timeouts."""
    return {
        "sms_sink_path": tmp_path / "sms.jsonl",
        "channel_retry_base_s": 1.0,
        "delivery_retry_base_s": 1.0,
        "delivery_timeout_s": 2.0,
    }


TESTBED = ServiceTestbed("notify", NotifySettings, build_app, ALEMBIC_INI, defaults=_settings_defaults)
notify_databases, notify_settings, notify_app, client, settings_overrides = TESTBED.fixtures()
talent_id, talent = talent_fixtures()


# --- driving the workers by hand ---------------------------------------------------------------


@dataclass
class Driver:
    """Runs notify's consumers, timers and webhook worker step by step, at a chosen time."""

    app: FastAPI
    worker: DeliveryWorker
    http: httpx.AsyncClient

    @property
    def components(self) -> Components:
        components: Components = self.app.state.components
        return components

    @property
    def database(self) -> Database:
        database: Database = self.app.state.database
        return database

    def consumer(self, suffix: str) -> EventConsumer:
        consumers: list[EventConsumer] = self.app.state.runtime.consumers
        return next(c for c in consumers if c.group_id == f"notify.{suffix}")

    async def inbox(self, event: CloudEvent) -> bool:
        consumer = self.consumer("inbox")
        return await consumer.apply(event, consumer.handlers[event.type])

    async def partners(self, event: CloudEvent) -> bool:
        consumer = self.consumer("partners")
        return await consumer.apply(event, consumer.handlers[event.type])

    async def both(self, event: CloudEvent) -> None:
        await self.inbox(event)
        await self.partners(event)

    def at(self, moment: datetime) -> None:
        """Move notify's clock (rules, timers and the webhook worker) to `moment`."""
        self.components.clock = lambda: moment
        self.app.state.runtime.timer_runner.clock = lambda: moment

    async def fire_timers(self) -> int:
        fired = 0
        while count := await self.app.state.runtime.timer_runner.fire_due():
            fired += count
        return fired

    async def deliver_webhooks(self) -> int:
        return await self.worker.deliver_due(self.database, self.http)


@pytest.fixture
async def driver(notify_app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[Driver]:
    worker = DeliveryWorker(notify_app.state.components)
    async with worker.client() as http:
        yield Driver(app=notify_app, worker=worker, http=http)


# --- event samples -----------------------------------------------------------------------------

SAMPLE_TIME = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)


def _sample_value(annotation: Any, name: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return args[0]
    if origin in (typing.Union, types.UnionType):
        return _sample_value(next(a for a in args if a is not type(None)), name)
    if origin is typing.Annotated:
        return _sample_value(args[0], name)
    if origin is list:
        return [_sample_value(args[0], name)]
    if origin is dict:
        return {_sample_value(args[0], name): _sample_value(args[1], name)}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return next(iter(annotation)).value
    if annotation is bool:
        return True
    if annotation is int:
        return 123456
    if annotation is datetime or annotation is AwareDatetime:
        return SAMPLE_TIME
    if annotation is date:
        return SAMPLE_TIME.date()
    if annotation is str:
        return f"{name}-sample"
    raise TypeError(f"no sample for {name}: {annotation!r}")


def sample_data(model: type[EventData], *, filled: bool = True, **values: Any) -> EventData:
    """An instance of `model`: every field filled (`filled`), or only the required ones, plus `values`."""
    data = {
        name: _sample_value(info.annotation, name)
        for name, info in model.model_fields.items()
        if filled or info.is_required()
    }
    return model.model_validate({**data, **values})


EventFactory = Callable[..., CloudEvent]


@pytest.fixture
def sample() -> Callable[..., EventData]:
    return sample_data


@pytest.fixture
def event_of() -> EventFactory:
    """`event_of(Model, talent_id=..., field=value)`: a CloudEvent of a sample of Model."""

    def build(model: type[EventData], **values: Any) -> CloudEvent:
        data = sample_data(model, **values)
        return make_event(data, source=model.topic.split(".")[1], subject=getattr(data, "talent_id", None))

    return build


# --- a real SMTP server and a real webhook receiver --------------------------------------------


class MailBox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, MailBox]]:
    box = MailBox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, box
    controller.stop()


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class WebhookReceiver:
    """A real HTTP server that records requests and answers with the queued statuses (then `default_status`)."""

    default_status: int = 200
    delay_s: float = 0.0
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/talent"

    async def start(self) -> WebhookReceiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                path = head[0].split(" ")[1]
                headers = {
                    k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                status = self.statuses.pop(0) if self.statuses else self.default_status
                self.received.append(Received(path, headers, body, status))
                writer.write(f"HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    server = await WebhookReceiver().start()
    yield server
    await server.stop()
