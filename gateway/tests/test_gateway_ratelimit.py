"""Rate limits per caller and route group, in memory and in Redis."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from gateway.ratelimit import Limit, MemoryRateLimiter, RedisRateLimiter
from servicekit.testing import free_port, wait_for_port


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


class TestMemoryTokenBucket:
    async def test_a_full_bucket_allows_a_burst_then_says_when_to_retry(self) -> None:
        limiter = MemoryRateLimiter()
        limit = Limit(3, period_s=60)
        assert [await limiter.hit("k", limit) for _ in range(3)] == [None, None, None]
        retry = await limiter.hit("k", limit)
        assert retry is not None and 1 <= retry <= 20

    async def test_tokens_come_back_over_time(self) -> None:
        limiter = MemoryRateLimiter()
        limit = Limit(2, period_s=0.2)
        await limiter.hit("k", limit)
        await limiter.hit("k", limit)
        assert await limiter.hit("k", limit) is not None
        await asyncio.sleep(0.15)
        assert await limiter.hit("k", limit) is None

    async def test_keys_are_independent(self) -> None:
        limiter = MemoryRateLimiter()
        limit = Limit(1)
        assert await limiter.hit("a", limit) is None
        assert await limiter.hit("b", limit) is None
        assert await limiter.hit("a", limit) is not None

    async def test_memory_stays_bounded(self) -> None:
        limiter = MemoryRateLimiter(max_keys=100)
        for i in range(1000):
            await limiter.hit(f"k{i}", Limit(5))
        assert len(limiter._buckets) <= 100


class TestRateLimitedRoutes:
    async def test_a_caller_over_the_read_limit_gets_429_with_retry_after(
        self, start_gateway: Any, problem: Any
    ) -> None:
        gw = await start_gateway(rate_limit_read_per_minute=3)
        for _ in range(3):
            assert (await gw.client.get("/api/v1/policies")).status_code == 200
        response = await gw.client.get("/api/v1/policies")
        assert response.status_code == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 20
        assert problem(response)["retry_after"] == int(response.headers["Retry-After"])

    async def test_each_signed_in_caller_has_its_own_allowance(self, start_gateway: Any) -> None:
        gw = await start_gateway(rate_limit_read_per_minute=2)
        one = await gw.bearer("talent")
        two = {"Authorization": f"Bearer {(await gw.talent('+8613900000002'))['access_token']}"}
        for _ in range(2):
            assert (await gw.client.get("/api/v1/me/talent", headers=one)).status_code == 200
        assert (await gw.client.get("/api/v1/me/talent", headers=one)).status_code == 429
        assert (await gw.client.get("/api/v1/me/talent", headers=two)).status_code == 200

    async def test_reads_and_writes_and_services_are_separate_groups(self, start_gateway: Any) -> None:
        gw = await start_gateway(rate_limit_read_per_minute=1, rate_limit_write_per_minute=1)
        headers = await gw.bearer("talent")
        assert (await gw.client.get("/api/v1/me/claims", headers=headers)).status_code == 200
        assert (await gw.client.get("/api/v1/me/claims", headers=headers)).status_code == 429
        assert (await gw.client.post("/api/v1/me/claims", json={}, headers=headers)).status_code == 200
        assert (await gw.client.get("/api/v1/me/inbox", headers=headers)).status_code == 200

    async def test_sign_in_endpoints_are_limited_per_client_address(self, start_gateway: Any) -> None:
        gw = await start_gateway(rate_limit_auth_per_minute=2)
        await gw.token(grant_type="password", username="admin", password="wrong")
        await gw.token(grant_type="password", username="admin", password="wrong")
        response = await gw.token(grant_type="password", username="admin", password="dev-password")
        assert response.status_code == 429
        assert response.headers["Retry-After"]

    async def test_limits_can_be_switched_off(self, start_gateway: Any) -> None:
        gw = await start_gateway(rate_limit_read_per_minute=1, rate_limit_enabled=False)
        for _ in range(3):
            assert (await gw.client.get("/api/v1/policies")).status_code == 200


class TestRedisFixedWindow:
    async def test_the_window_counts_across_limiters_and_says_when_it_resets(self, redis_url: str) -> None:
        first, second = RedisRateLimiter(redis_url, prefix="t1:"), RedisRateLimiter(redis_url, prefix="t1:")
        try:
            limit = Limit(2, period_s=30)
            assert await first.hit("k", limit) is None
            assert await second.hit("k", limit) is None  # another replica shares the count
            retry = await first.hit("k", limit)
            assert retry is not None and 1 <= retry <= 30
        finally:
            await first.close()
            await second.close()

    async def test_the_gateway_uses_redis_when_a_url_is_set(self, start_gateway: Any, redis_url: str) -> None:
        gw = await start_gateway(redis_url=redis_url, rate_limit_read_per_minute=1)
        assert isinstance(gw.runtime.rate_limiter, RedisRateLimiter)
        assert (await gw.client.get("/api/v1/policies")).status_code == 200
        response = await gw.client.get("/api/v1/policies")
        assert response.status_code == 429
        assert response.headers["Retry-After"]
        await gw.runtime.rate_limiter._redis.flushdb()

    async def test_an_unreachable_redis_lets_requests_through(self) -> None:
        limiter = RedisRateLimiter(f"redis://127.0.0.1:{free_port()}/0")
        try:
            assert await limiter.hit("k", Limit(1)) is None
            assert await limiter.hit("k", Limit(1)) is None
        finally:
            await limiter.close()
