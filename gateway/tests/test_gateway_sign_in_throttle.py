"""Password sign-ins are throttled per (username, source) and per username, never by a lock anyone can set off,
and an unknown username answers exactly as a known one (issue 15, finding 3)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import argon2
import httpx
import pytest
from gateway.config import GatewaySettings
from gateway.throttle import backoff_s

OFFICIAL = "finance.city"
RIGHT, WRONG = "dev-password", "wrong-password"
# Long waits, so that no answer below depends on how fast the machine is.
SLOW = {"password_backoff_base_s": 600, "password_backoff_max_s": 100_000}

SourceFactory = Callable[[Any, str], httpx.AsyncClient]


@pytest.fixture
async def from_source() -> AsyncIterator[SourceFactory]:
    """HTTP clients of one gateway app that arrive from another loopback address (the ASGI client address)."""
    async with AsyncExitStack() as stack:

        def open_client(gateway: Any, address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=gateway.app, client=(address, 40_000))
            client = httpx.AsyncClient(transport=transport, base_url="http://gateway.test")
            stack.push_async_callback(client.aclose)
            return client

        yield open_client


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": password}
    )


async def fail(client: httpx.AsyncClient, username: str, times: int) -> None:
    for _ in range(times):
        assert (await sign_in(client, username, WRONG)).status_code == 400


def retry_after(response: httpx.Response) -> int:
    return int(response.headers["Retry-After"])


class TestPerSource:
    async def test_the_right_password_from_another_source_works_while_the_first_source_waits(
        self, start_gateway: Any, from_source: SourceFactory, problem: Any
    ) -> None:
        gateway = await start_gateway(**SLOW)
        await fail(gateway.client, OFFICIAL, 5)
        throttled = await sign_in(gateway.client, OFFICIAL, RIGHT)
        assert throttled.status_code == 429
        assert problem(throttled)["error"] == "slow_down"
        assert 1 <= retry_after(throttled) <= 600
        desk = from_source(gateway, "127.0.0.2")
        assert (await sign_in(desk, OFFICIAL, RIGHT)).status_code == 200

    async def test_five_failures_are_free_then_the_wait_doubles_up_to_its_cap(self, start_gateway: Any) -> None:
        gateway = await start_gateway(password_backoff_base_s=60, password_backoff_max_s=200)
        await fail(gateway.client, OFFICIAL, 4)
        assert (await sign_in(gateway.client, OFFICIAL, RIGHT)).status_code == 200  # four free, and forgotten
        await fail(gateway.client, OFFICIAL, 5)
        waits = []
        for _ in range(3):
            refused = await sign_in(gateway.client, OFFICIAL, WRONG)
            assert refused.status_code == 429
            waits.append(retry_after(refused))
            # Waiting the back-off out, without waiting: the next attempt is answered, and fails again.
            await gateway.sql("UPDATE gw_sign_in_throttle SET blocked_until = NULL")
            assert (await sign_in(gateway.client, OFFICIAL, WRONG)).status_code == 400
        first, second, third = waits
        assert 30 < first <= 60 and 90 < second <= 120 and 170 < third <= 200

    def test_the_back_off_schedule(self) -> None:
        settings = GatewaySettings(
            environment="dev", password_free_failures=5, password_backoff_base_s=1, password_backoff_max_s=300
        )
        schedule = [backoff_s(settings, n) for n in range(1, 16)]
        assert schedule == [None] * 4 + [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]

    async def test_the_right_password_clears_its_source_count(self, start_gateway: Any) -> None:
        gateway = await start_gateway(**SLOW)
        await fail(gateway.client, OFFICIAL, 4)
        assert (await sign_in(gateway.client, OFFICIAL, RIGHT)).status_code == 200
        await fail(gateway.client, OFFICIAL, 4)
        assert (await sign_in(gateway.client, OFFICIAL, RIGHT)).status_code == 200


class TestAccountCeiling:
    async def test_failures_from_many_sources_hold_the_account_until_an_admin_unlocks_it(
        self, start_gateway: Any, from_source: SourceFactory, problem: Any
    ) -> None:
        gateway = await start_gateway(password_account_ceiling=6, password_account_hold_s=3600)
        admin = await gateway.bearer("admin")
        for n in range(6):  # one failure from each of six addresses: no source is throttled on its own
            await fail(from_source(gateway, f"127.0.0.{10 + n}"), OFFICIAL, 1)
        desk = from_source(gateway, "127.0.0.2")
        held = await sign_in(desk, OFFICIAL, RIGHT)
        assert held.status_code == 429
        assert 3000 < retry_after(held) <= 3600

        unlocked = await gateway.client.post(f"/api/v1/admin/accounts/{OFFICIAL}/unlock", headers=admin)
        assert unlocked.status_code == 200, unlocked.text
        assert unlocked.json()["was_held"] is True
        assert (await sign_in(desk, OFFICIAL, RIGHT)).status_code == 200
        entries = await gateway.sql("SELECT actor, action, subject_id FROM audit_log")
        assert [entry.action for entry in entries] == ["account.sign_in_unlock"]

    async def test_only_an_admin_unlocks_and_only_a_password_account(self, gateway: Any, problem: Any) -> None:
        auditor = await gateway.bearer("auditor.city")
        admin = await gateway.bearer("admin")
        refused = await gateway.client.post(f"/api/v1/admin/accounts/{OFFICIAL}/unlock", headers=auditor)
        assert refused.status_code == 403
        for username in ("nobody.at.all", "partner.hospital"):
            missing = await gateway.client.post(f"/api/v1/admin/accounts/{username}/unlock", headers=admin)
            assert missing.status_code == 404
            problem(missing)


class TestNoEnumeration:
    async def test_an_unknown_username_answers_exactly_as_a_known_one_also_when_throttled(
        self, start_gateway: Any, problem: Any
    ) -> None:
        gateway = await start_gateway(**SLOW)
        for _ in range(5):
            known = await sign_in(gateway.client, OFFICIAL, WRONG)
            unknown = await sign_in(gateway.client, "no.such.official", WRONG)
            assert known.status_code == unknown.status_code == 400
            assert problem(known) == problem(unknown)
        known = await sign_in(gateway.client, OFFICIAL, RIGHT)
        unknown = await sign_in(gateway.client, "no.such.official", RIGHT)
        assert known.status_code == unknown.status_code == 429
        assert problem(known) == problem(unknown)
        assert 1 <= retry_after(known) <= 600 and 1 <= retry_after(unknown) <= 600

    async def test_every_answer_costs_one_argon2_verification_with_the_accounts_parameters(
        self, start_gateway: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        gateway = await start_gateway(**SLOW)
        verified: list[str] = []
        real_verify = argon2.PasswordHasher.verify

        def spy(self: argon2.PasswordHasher, hash: str | bytes, password: str | bytes) -> bool:
            verified.append(hash if isinstance(hash, str) else hash.decode())
            return real_verify(self, hash, password)

        monkeypatch.setattr(argon2.PasswordHasher, "verify", spy)
        (stored,) = await gateway.sql("SELECT secret_hash FROM gw_account WHERE username = :u", u=OFFICIAL)

        await sign_in(gateway.client, "no.such.official", WRONG)  # unknown: the dummy hash
        await sign_in(gateway.client, OFFICIAL, WRONG)  # known: the account's hash
        await fail(gateway.client, OFFICIAL, 4)
        verified.clear()
        assert (await sign_in(gateway.client, OFFICIAL, RIGHT)).status_code == 429  # throttled: the dummy again
        assert len(verified) == 1
        dummy = verified[0]
        assert dummy != stored.secret_hash
        assert argon2.extract_parameters(dummy) == argon2.extract_parameters(stored.secret_hash)

        verified.clear()
        await sign_in(gateway.client, "no.such.official", WRONG)
        assert verified == [dummy]
