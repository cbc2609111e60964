"""The channels beyond the inbox: SMS (a dev file sink or a provider's HTTP API) and e-mail over SMTP."""

from __future__ import annotations

import asyncio
import json
import smtplib
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from servicekit.tracing import httpx_event_hooks

from notify.config import NotifySettings


class ChannelFailure(Exception):
    """A send that did not go through; the message says why without naming the address."""


class SmsSender(Protocol):
    async def send(self, phone: str, text: str, *, reference: str) -> None: ...


class FileSmsSink:
    """Dev SMS: one JSON line per message appended to a file (what a phone would have received)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def send(self, phone: str, text: str, *, reference: str) -> None:
        line = json.dumps(
            {"to": phone, "text": text, "reference": reference, "at": datetime.now(UTC).isoformat()},
            ensure_ascii=False,
        )
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as sink:
            sink.write(line + "\n")


class HttpSmsProvider:
    """An SMS gateway's HTTP API: POST {to, text, reference} with the API key as a bearer token."""

    def __init__(self, url: str, api_key: str, timeout_s: float) -> None:
        self.url = url
        self.api_key = api_key
        self.timeout_s = timeout_s

    async def send(self, phone: str, text: str, *, reference: str) -> None:
        try:
            async with httpx.AsyncClient(
                timeout=self.timeout_s, follow_redirects=False, event_hooks=httpx_event_hooks()
            ) as client:
                response = await client.post(
                    self.url,
                    json={"to": phone, "text": text, "reference": reference},
                    headers={"Authorization": f"Bearer {self.api_key}", "Idempotency-Key": reference},
                )
        except httpx.TimeoutException as exc:
            raise ChannelFailure(f"SMS provider timed out after {self.timeout_s:g}s") from exc
        except httpx.HTTPError as exc:
            raise ChannelFailure(f"SMS provider unreachable ({type(exc).__name__})") from exc
        if not response.is_success:
            raise ChannelFailure(f"SMS provider answered HTTP {response.status_code}")


class SmtpMailer:
    """Plain-text e-mail over SMTP (smtplib in a worker thread, so the event loop never waits on it)."""

    def __init__(self, settings: NotifySettings) -> None:
        assert settings.smtp_host
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.starttls = settings.smtp_starttls
        self.username = settings.smtp_username
        self.password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        self.sender = settings.smtp_from
        self.timeout_s = settings.smtp_timeout_s

    async def send(self, address: str, subject: str, body: str, *, reference: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = address
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(idstring=reference)
        message["X-Talent-Notification"] = reference
        message.set_content(body)
        try:
            await asyncio.to_thread(self._send, message)
        except smtplib.SMTPResponseException as exc:
            raise ChannelFailure(f"SMTP server answered {exc.smtp_code}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise ChannelFailure("SMTP server refused the recipient") from exc
        except (smtplib.SMTPException, OSError) as exc:
            # OSError covers a refused connection and a timeout; neither message names the address.
            raise ChannelFailure(f"SMTP failed: {type(exc).__name__}: {exc}"[:300]) from exc

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.username and self.password:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


def sms_sender(settings: NotifySettings) -> SmsSender:
    if settings.sms_transport == "http":
        assert settings.sms_provider_url and settings.sms_provider_api_key
        return HttpSmsProvider(
            settings.sms_provider_url, settings.sms_provider_api_key.get_secret_value(), settings.sms_timeout_s
        )
    return FileSmsSink(settings.sms_sink_path)


def sms_text(title: str, body: str) -> str:
    return f"【人才码】{title}：{body}"


def parse_clock(value: str) -> time:
    """'HH:MM' → time; ValueError for anything else."""
    hours, sep, minutes = value.partition(":")
    if not sep or len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError("must look like HH:MM")
    return time(int(hours), int(minutes))


def zone(name: str, fallback: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(fallback)


def is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def end_of_quiet_hours(now: datetime, tz: ZoneInfo, start: time, end: time) -> datetime | None:
    """When the quiet hours around `now` end (in UTC), or None when `now` is not inside them."""
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start <= end:
        quiet = start <= clock < end
        ends_on: date = local.date()
    else:  # the window crosses midnight, e.g. 22:00–08:00
        quiet = clock >= start or clock < end
        ends_on = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not quiet:
        return None
    return datetime.combine(ends_on, end, tzinfo=tz).astimezone(UTC)
