"""SMS and e-mail go out after the timer's transaction commits: the database's write lock is never held
while a mail server answers, an attempt whose outcome was never recorded is sent again by its spare
timer (never lost), and a recorded outcome is final (sent once, as far as SMTP allows)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from contracts import ClaimDisbursed
from notify.models import ChannelMessage, Recipient
from servicekit.timers import ScheduledTimer
from sqlmodel import select

from .test_notify_channels import DAYTIME, contact_event


class HangingMailer:
    """Answers only when told to, like a slow mail server; notes what the database allowed meanwhile."""

    def __init__(self, driver: Any, *, fail: bool = False) -> None:
        self.driver = driver
        self.fail = fail
        self.sent: list[str] = []
        self.during: dict[str, Any] = {}

    async def send(self, address: str, subject: str, body: str, *, reference: str) -> None:
        database = self.driver.database
        # Another writer gets the database at once: the timer's transaction is committed, not waiting on us.
        async with asyncio.timeout(5):
            async with database.transaction() as session:
                session.add(Recipient(talent_id=str(uuid.uuid4()), locale="en", updated_at=DAYTIME))
        async with database.sessionmaker() as session:
            message = await session.get(ChannelMessage, reference)
            spare = (await session.exec(select(ScheduledTimer).where(ScheduledTimer.key == f"{reference}:2"))).first()
        self.during = {"status": message and message.status, "spare": spare and spare.status}
        if self.fail:
            from notify.channels import ChannelFailure

            raise ChannelFailure("421 try again later")
        self.sent.append(address)


@pytest.fixture
def email_only(client: Any, talent: dict[str, str]) -> Any:
    async def choose() -> None:
        body = {"channels": {"benefits": ["in_app", "email"]}}
        await client.put("/api/v1/me/notification-preferences", json=body, headers=talent)

    return choose


@pytest.fixture
def settings_overrides(smtp: Any) -> dict[str, Any]:
    controller, _ = smtp
    return {"smtp_host": "127.0.0.1", "smtp_port": controller.port}


async def only_message(driver: Any) -> ChannelMessage:
    async with driver.database.sessionmaker() as session:
        [message] = (await session.exec(select(ChannelMessage))).all()
        return message


class TestSendAfterCommit:
    async def test_the_send_runs_after_the_commit_with_a_spare_timer_in_place(
        self, driver: Any, event_of: Any, talent_id: str, email_only: Any
    ) -> None:
        await email_only()
        driver.at(DAYTIME)
        mailer = HangingMailer(driver)
        driver.components.mailer = mailer
        await driver.inbox(contact_event(event_of, talent_id))
        await driver.inbox(event_of(ClaimDisbursed, talent_id=talent_id))
        assert await driver.fire_timers() == 1
        assert mailer.during == {"status": "sending", "spare": "pending"}
        message = await only_message(driver)
        assert (message.status, message.attempts) == ("sent", 1) and len(mailer.sent) == 1
        driver.at(DAYTIME + timedelta(days=1))
        assert await driver.fire_timers() == 0, "the spare timer was cancelled: sent once"

    async def test_a_failure_is_recorded_in_a_second_transaction_and_retried(
        self, driver: Any, event_of: Any, talent_id: str, email_only: Any
    ) -> None:
        await email_only()
        driver.at(DAYTIME)
        driver.components.mailer = HangingMailer(driver, fail=True)
        await driver.inbox(contact_event(event_of, talent_id))
        await driver.inbox(event_of(ClaimDisbursed, talent_id=talent_id))
        assert await driver.fire_timers() == 1
        message = await only_message(driver)
        assert (message.status, message.attempts, message.last_error) == ("scheduled", 1, "421 try again later")

    async def test_an_attempt_whose_outcome_was_lost_is_sent_again_by_its_spare_timer(
        self, driver: Any, event_of: Any, talent_id: str, email_only: Any
    ) -> None:
        await email_only()
        driver.at(DAYTIME)
        mailer = HangingMailer(driver)
        driver.components.mailer = mailer
        await driver.inbox(contact_event(event_of, talent_id))
        await driver.inbox(event_of(ClaimDisbursed, talent_id=talent_id))
        # The process stops after the claim committed and before the send: the follow-up never runs.
        runner = driver.app.state.runtime.timer_runner
        handlers = dict(runner.handlers)
        runner.handlers = {kind: _claim_only(handler) for kind, handler in handlers.items()}
        assert await driver.fire_timers() == 1
        assert (await only_message(driver)).status == "sending" and mailer.sent == []
        runner.handlers = handlers
        driver.at(DAYTIME + timedelta(minutes=30))
        assert await driver.fire_timers() == 1
        message = await only_message(driver)
        assert (message.status, message.attempts) == ("sent", 2) and len(mailer.sent) == 1


def _claim_only(handler: Any) -> Any:
    async def claim(session: Any, timer: Any) -> None:
        await handler(session, timer)  # drops the follow-up, as a crash right after the commit would

    return claim
