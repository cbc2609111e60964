"""SMS and e-mail after an inbox entry: stored contacts sealed, real SMTP, the SMS sink and provider,
retries as kit timers ending in `failed` (the inbox entry stays), quiet hours for non-critical SMS."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from contracts import ClaimDisbursed, ContactUpdated, OfferMade, TalentRegistered
from notify.channels import ChannelFailure, HttpSmsProvider, end_of_quiet_hours
from notify.models import ChannelMessage, Contact
from servicekit.consumer import PoisonMessage
from servicekit.crypto import FieldCipher
from servicekit.testing import free_port
from sqlmodel import select

CONTACT_SEAL = FieldCipher.from_spec("c1:dev-insecure-contact-key", associated_data=b"contact")
EMAIL = "li.si@example.org"
PHONE = "+8613800000042"
# 10:00 in Shanghai: outside the default quiet hours (22:00–08:00).
DAYTIME = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def settings_overrides(smtp: Any) -> dict[str, Any]:
    controller, _ = smtp
    return {"smtp_host": "127.0.0.1", "smtp_port": controller.port}


def contact_event(event_of: Any, talent_id: str, **values: Any) -> Any:
    return event_of(
        ContactUpdated,
        talent_id=talent_id,
        email_sealed=CONTACT_SEAL.encrypt(EMAIL),
        phone_sealed=CONTACT_SEAL.encrypt(PHONE),
        locale="zh-CN",
        time_zone="Asia/Shanghai",
        **values,
    )


async def messages(driver: Any) -> list[ChannelMessage]:
    async with driver.database.sessionmaker() as session:
        return list((await session.exec(select(ChannelMessage))).all())


def sms_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class TestContacts:
    async def test_contact_details_are_stored_sealed_with_notifys_own_keys(
        self, driver: Any, event_of: Any, talent_id: str
    ) -> None:
        await driver.inbox(contact_event(event_of, talent_id))
        async with driver.database.sessionmaker() as session:
            contact = await session.get(Contact, talent_id)
            connection = await session.connection()
            dump = " ".join(
                str(row) for row in (await connection.exec_driver_sql("SELECT * FROM notify_contact")).all()
            )
        assert contact is not None and contact.time_zone == "Asia/Shanghai"
        assert EMAIL not in dump and PHONE not in dump
        assert contact.email_sealed and contact.email_sealed.startswith("n1:")
        assert driver.components.contact_store.decrypt(contact.email_sealed) == EMAIL

    async def test_values_sealed_with_an_unknown_key_are_poison_not_retried(
        self, driver: Any, event_of: Any, talent_id: str
    ) -> None:
        foreign = FieldCipher.from_spec("c9:some-other-platforms-key", associated_data=b"contact")
        event = event_of(ContactUpdated, talent_id=talent_id, email_sealed=foreign.encrypt(EMAIL), phone_sealed=None)
        with pytest.raises(PoisonMessage):
            await driver.inbox(event)

    async def test_an_unknown_time_zone_falls_back_to_the_platforms(
        self, driver: Any, event_of: Any, talent_id: str
    ) -> None:
        await driver.inbox(
            event_of(
                ContactUpdated, talent_id=talent_id, email_sealed=None, phone_sealed=None, time_zone="Mars/Olympus"
            )
        )
        async with driver.database.sessionmaker() as session:
            contact = await session.get(Contact, talent_id)
        assert contact is not None and contact.time_zone == "Asia/Shanghai"


class TestEmailAndSms:
    async def test_a_notification_goes_out_by_real_smtp_and_to_the_sms_sink(
        self, driver: Any, event_of: Any, talent_id: str, smtp: Any, notify_settings: Any
    ) -> None:
        _, mailbox = smtp
        driver.at(DAYTIME)
        await driver.inbox(contact_event(event_of, talent_id))
        await driver.inbox(event_of(ClaimDisbursed, talent_id=talent_id, policy_code="RENT_SUBSIDY", amount_fen=100000))
        assert await driver.fire_timers() == 2
        [mail] = mailbox.messages
        assert mail.rcpt_tos == [EMAIL]
        parsed = message_from_bytes(mail.content, policy=default)
        assert parsed["Subject"] == "租房补贴已拨付 ¥1,000.00"
        assert "支付流水号" in parsed.get_content()
        [sms] = sms_lines(notify_settings.sms_sink_path)
        assert sms["to"] == PHONE and sms["text"].startswith("【人才码】租房补贴已拨付 ¥1,000.00")
        assert {m.status for m in await messages(driver)} == {"sent"}

    async def test_a_category_switched_to_in_app_only_sends_nothing_else(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], talent_id: str, smtp: Any
    ) -> None:
        await client.put(
            "/api/v1/me/notification-preferences", json={"channels": {"benefits": ["in_app"]}}, headers=talent
        )
        await driver.inbox(contact_event(event_of, talent_id))
        await driver.inbox(event_of(ClaimDisbursed, talent_id=talent_id))
        assert await messages(driver) == []
        assert len((await client.get("/api/v1/me/inbox", headers=talent)).json()["items"]) == 1

    async def test_without_contact_details_only_the_inbox_gets_it(
        self, driver: Any, event_of: Any, talent_id: str
    ) -> None:
        await driver.inbox(event_of(TalentRegistered, talent_id=talent_id))
        assert await messages(driver) == []


class TestRefusingSmtpServer:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"smtp_host": "127.0.0.1", "smtp_port": free_port(), "channel_max_attempts": 3}

    async def test_is_retried_with_backoff_as_timers_then_recorded_failed_and_the_inbox_keeps_the_entry(
        self, client: httpx.AsyncClient, driver: Any, event_of: Any, talent: dict[str, str], talent_id: str
    ) -> None:
        await client.put(
            "/api/v1/me/notification-preferences", json={"channels": {"benefits": ["in_app", "email"]}}, headers=talent
        )
        now = DAYTIME
        driver.at(now)
        await driver.inbox(contact_event(event_of, talent_id))
        await driver.inbox(event_of(ClaimDisbursed, talent_id=talent_id))
        assert await driver.fire_timers() == 1
        [email] = await messages(driver)
        assert (email.status, email.attempts) == ("scheduled", 1) and "ConnectionRefusedError" in str(email.last_error)
        assert await driver.fire_timers() == 0  # the retry waits for its backoff
        for _ in range(2):
            now += timedelta(minutes=10)
            driver.at(now)
            assert await driver.fire_timers() == 1
        [email] = await messages(driver)
        assert (email.status, email.attempts) == ("failed", 3)
        assert len((await client.get("/api/v1/me/inbox", headers=talent)).json()["items"]) == 1


class TestQuietHours:
    async def test_a_non_critical_sms_at_night_waits_for_the_morning_in_the_persons_time_zone(
        self, driver: Any, event_of: Any, talent_id: str, notify_settings: Any
    ) -> None:
        night_in_shanghai = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
        driver.at(night_in_shanghai)
        await driver.inbox(contact_event(event_of, talent_id))
        await driver.inbox(event_of(ClaimDisbursed, talent_id=talent_id))
        by_channel = {m.channel: m for m in await messages(driver)}
        assert by_channel["email"].due_at == night_in_shanghai
        assert by_channel["sms"].due_at == datetime(2027, 3, 2, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
        await driver.fire_timers()
        assert sms_lines(notify_settings.sms_sink_path) == []
        driver.at(datetime(2027, 3, 2, 0, 0, tzinfo=UTC))
        await driver.fire_timers()
        assert len(sms_lines(notify_settings.sms_sink_path)) == 1

    async def test_a_critical_sms_is_not_delayed(self, driver: Any, event_of: Any, talent_id: str) -> None:
        night_in_shanghai = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)
        driver.at(night_in_shanghai)
        await driver.inbox(contact_event(event_of, talent_id))
        await driver.inbox(event_of(OfferMade, talent_id=talent_id, expires_at=night_in_shanghai + timedelta(hours=72)))
        sms = next(m for m in await messages(driver) if m.channel == "sms")
        assert sms.due_at == night_in_shanghai

    def test_the_window_may_cross_midnight_or_not(self) -> None:
        tz = ZoneInfo("Europe/Berlin")
        from datetime import time

        at = datetime(2027, 6, 1, 21, 30, tzinfo=tz)
        assert end_of_quiet_hours(at, tz, time(22), time(8)) is None
        assert end_of_quiet_hours(at.replace(hour=23), tz, time(22), time(8)) == datetime(2027, 6, 2, 8, tzinfo=tz)
        assert end_of_quiet_hours(at.replace(hour=3), tz, time(22), time(8)) == datetime(2027, 6, 1, 8, tzinfo=tz)
        assert end_of_quiet_hours(at.replace(hour=13), tz, time(12), time(14)) == datetime(2027, 6, 1, 14, tzinfo=tz)


class TestSmsProviderAdapter:
    async def test_posts_to_the_provider_with_the_api_key(self, receiver: Any) -> None:
        provider = HttpSmsProvider(receiver.url, "provider-key-123", timeout_s=2)
        await provider.send(PHONE, "hello", reference="m-1")
        [request] = receiver.received
        assert request.headers["authorization"] == "Bearer provider-key-123"
        assert json.loads(request.body) == {"to": PHONE, "text": "hello", "reference": "m-1"}

    async def test_a_provider_error_is_a_channel_failure_without_the_number(self, receiver: Any) -> None:
        receiver.default_status = 503
        with pytest.raises(ChannelFailure) as failure:
            await HttpSmsProvider(receiver.url, "k", timeout_s=2).send(PHONE, "hello", reference="m-2")
        assert "503" in str(failure.value) and PHONE not in str(failure.value)

    async def test_an_unreachable_provider_is_a_channel_failure(self) -> None:
        with pytest.raises(ChannelFailure):
            await HttpSmsProvider(f"http://127.0.0.1:{free_port()}/sms", "k", timeout_s=1).send(
                PHONE, "x", reference="m-3"
            )
