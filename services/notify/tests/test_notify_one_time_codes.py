"""Sign-in codes as SMS: outside dev the gateway posts each one-time code to notify's internal endpoint with a
service token of its own, and the code leaves through the SMS channel (the sink here, a provider in
production). Nobody else may use the endpoint, and neither the phone nor the code is logged."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from notify.channels import HttpSmsProvider
from notify.config import NotifySettings
from servicekit.testing import TestKeys

PHONE = "+8613800000042"
CODE = "493817"
ENDPOINT = "/internal/sms/one-time-codes"


def gateway_token(keys: TestKeys) -> dict[str, str]:
    """What the gateway presents (gateway.tokens.TokenIssuer.service_token): its subject, no roles."""
    return keys.headers("service:gateway", [], svc="notify")


def sms_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


class TestOneTimeCodeSms:
    async def test_the_gateways_code_reaches_the_phone_through_the_sms_channel(
        self, client: httpx.AsyncClient, test_keys: TestKeys, notify_settings: NotifySettings
    ) -> None:
        body = {"phone": PHONE, "code": CODE, "expires_in": 300, "locale": "zh-CN"}
        response = await client.post(ENDPOINT, json=body, headers=gateway_token(test_keys))
        assert response.status_code == 202, response.text
        [sms] = sms_lines(notify_settings.sms_sink_path)
        assert sms["to"] == PHONE
        assert sms["text"] == "【人才码】您的登录验证码为 493817，5 分钟内有效。请勿告诉他人。"
        assert sms["reference"].startswith("otp-")

    async def test_the_text_is_in_the_callers_language(
        self, client: httpx.AsyncClient, test_keys: TestKeys, notify_settings: NotifySettings
    ) -> None:
        body = {"phone": PHONE, "code": CODE, "expires_in": 120, "locale": "en"}
        assert (await client.post(ENDPOINT, json=body, headers=gateway_token(test_keys))).status_code == 202
        [sms] = sms_lines(notify_settings.sms_sink_path)
        assert sms["text"] == "[Talent Code] Your sign-in code is 493817, valid for 2 minutes. Do not share it."

    async def test_only_the_gateway_may_send_codes(
        self, client: httpx.AsyncClient, test_keys: TestKeys, talent: dict[str, str], notify_settings: NotifySettings
    ) -> None:
        body = {"phone": PHONE, "code": CODE, "expires_in": 300}
        assert (await client.post(ENDPOINT, json=body)).status_code == 401
        for headers in (
            talent,
            test_keys.headers("official-admin", ["admin"]),
            test_keys.headers("partner-hospital", ["partner"], partner_kind="hospital"),
            # The gateway's subject with a role is no service token the gateway mints.
            test_keys.headers("service:gateway", ["admin"]),
        ):
            response = await client.post(ENDPOINT, json=body, headers=headers)
            assert response.status_code == 403, response.text
        assert sms_lines(notify_settings.sms_sink_path) == []

    @pytest.mark.parametrize(
        "body",
        [
            {"phone": "13800000042", "code": CODE, "expires_in": 300},
            {"phone": PHONE, "code": "12ab56", "expires_in": 300},
            {"phone": PHONE, "code": CODE, "expires_in": 0},
            {"phone": PHONE, "code": CODE, "expires_in": 300, "text": "any words"},
        ],
    )
    async def test_only_a_code_in_the_platforms_words_can_be_sent(
        self, client: httpx.AsyncClient, test_keys: TestKeys, body: dict[str, Any], notify_settings: NotifySettings
    ) -> None:
        assert (await client.post(ENDPOINT, json=body, headers=gateway_token(test_keys))).status_code == 422
        assert sms_lines(notify_settings.sms_sink_path) == []

    async def test_a_refusing_provider_is_a_503_the_gateway_passes_on(
        self, client: httpx.AsyncClient, test_keys: TestKeys, notify_app: Any, receiver: Any, monkeypatch: Any
    ) -> None:
        receiver.default_status = 503
        monkeypatch.setattr(notify_app.state.components, "sms", HttpSmsProvider(receiver.url, "key", timeout_s=2))
        body = {"phone": PHONE, "code": CODE, "expires_in": 300}
        response = await client.post(ENDPOINT, json=body, headers=gateway_token(test_keys))
        assert response.status_code == 503
        assert response.json()["type"].endswith("/sms-unavailable")
        assert PHONE not in response.text and CODE not in response.text
        [request] = receiver.received
        assert json.loads(request.body)["to"] == PHONE

    async def test_neither_the_phone_nor_the_code_is_logged(
        self, client: httpx.AsyncClient, test_keys: TestKeys, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        body = {"phone": PHONE, "code": CODE, "expires_in": 300}
        assert (await client.post(ENDPOINT, json=body, headers=gateway_token(test_keys))).status_code == 202
        assert "one-time code SMS" in caplog.text
        assert "13800000042" not in caplog.text and CODE not in caplog.text
