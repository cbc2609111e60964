"""The sign-in phone: a talent's token vouches for the phone the one-time code proved (so applicant may keep it,
sealed, for notify's SMS), and outside dev the code itself goes out through notify's SMS endpoint, the gateway
presenting a service token of its own."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from jose import jwt
from servicekit.auth import StaticJwks, TokenVerifier

PHONE = "+8613800000001"
OUTSIDE_DEV = {
    "environment": "test",
    "hash_key": "h" * 32,
    "data_encryption_key": "d" * 32,
    "key_encryption_key": "k" * 32,
}


class NotifyStandIn:
    """A real HTTP endpoint in notify's place: records each request and answers `status`."""

    def __init__(self) -> None:
        self.status = 202
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> NotifyStandIn:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append((head[0], headers, body))
                writer.write(f"HTTP/1.1 {self.status} X\r\ncontent-length: 0\r\n\r\n".encode())
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def notify() -> AsyncIterator[NotifyStandIn]:
    server = await NotifyStandIn().start()
    yield server
    await server.stop()


class TestTheTokenVouchesForThePhone:
    async def test_a_talents_token_names_the_phone_the_code_proved(self, gateway: Any) -> None:
        claims = jwt.get_unverified_claims((await gateway.talent("+86 138-0000-0001"))["access_token"])
        assert claims["phone_number"] == PHONE and claims["phone_number_verified"] is True

    async def test_a_refreshed_token_still_names_it(self, gateway: Any) -> None:
        first = await gateway.talent(PHONE)
        response = await gateway.token(grant_type="refresh_token", refresh_token=first["refresh_token"])
        assert response.status_code == 200, response.text
        assert jwt.get_unverified_claims(response.json()["access_token"])["phone_number"] == PHONE

    async def test_officials_partners_and_employers_tokens_name_no_phone(self, gateway: Any) -> None:
        for tokens in (await gateway.official("approver.city"), await gateway.partner("partner.hospital")):
            claims = jwt.get_unverified_claims(tokens["access_token"])
            assert "phone_number" not in claims and "phone_number_verified" not in claims


class TestOneTimeCodesOutsideDev:
    async def test_the_code_goes_to_notifys_sms_endpoint_with_the_gateways_own_token(
        self, start_gateway: Any, notify: NotifyStandIn
    ) -> None:
        gw = await start_gateway(**OUTSIDE_DEV, notify_url=notify.url)
        response = await gw.client.post("/api/v1/auth/otp", json={"phone": PHONE}, headers={"Accept-Language": "en"})
        assert response.status_code == 202, response.text
        assert "dev_code" not in response.json()

        [(request_line, headers, body)] = notify.requests
        assert request_line.startswith("POST /internal/sms/one-time-codes ")
        sms = json.loads(body)
        assert sms["phone"] == PHONE and sms["expires_in"] == 300 and sms["locale"] == "en"
        assert len(sms["code"]) == 6 and sms["code"].isdigit()

        # notify checks the token like any other, against the gateway's published keys.
        document = (await gw.client.get("/.well-known/jwks.json")).json()
        verifier = TokenVerifier(StaticJwks(document), issuer="talent-gateway", audience="talent-platform")
        principal = await verifier.verify(headers["authorization"].removeprefix("Bearer "))
        assert principal.sub == "service:gateway" and principal.roles == frozenset()
        assert principal.claims["exp"] - principal.claims["iat"] <= 60

        # The code that reached the phone signs the talent in, and the token vouches for that phone.
        granted = await gw.token(grant_type="otp", phone=PHONE, code=sms["code"])
        assert granted.status_code == 200, granted.text
        assert jwt.get_unverified_claims(granted.json()["access_token"])["phone_number"] == PHONE

    async def test_notify_refusing_the_sms_is_a_503(
        self, start_gateway: Any, notify: NotifyStandIn, problem: Any
    ) -> None:
        notify.status = 503
        gw = await start_gateway(**OUTSIDE_DEV, notify_url=notify.url)
        response = await gw.client.post("/api/v1/auth/otp", json={"phone": PHONE})
        assert response.status_code == 503
        assert problem(response)["type"].endswith("/otp-delivery-failed")
        assert PHONE not in response.text

    async def test_neither_the_phone_nor_the_code_is_logged(
        self, start_gateway: Any, notify: NotifyStandIn, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        gw = await start_gateway(**OUTSIDE_DEV, notify_url=notify.url)
        assert (await gw.client.post("/api/v1/auth/otp", json={"phone": PHONE})).status_code == 202
        code = json.loads(notify.requests[0][2])["code"]
        assert (await gw.token(grant_type="otp", phone=PHONE, code=code)).status_code == 200
        notify.status = 500
        assert (await gw.client.post("/api/v1/auth/otp", json={"phone": PHONE})).status_code == 503
        assert "one-time code" in caplog.text
        assert "13800000001" not in caplog.text and code not in caplog.text
