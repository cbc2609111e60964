"""Rate limits per caller and route group: token buckets in memory, or fixed windows in Redis."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger("gateway.ratelimit")


@dataclass(frozen=True)
class Limit:
    """`requests` per `period_s` seconds."""

    requests: int
    period_s: float = 60.0


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: Limit) -> int | None:
        """Count one request; None when allowed, else the seconds until the caller may retry."""
        ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """A token bucket per key, in this process (one replica, or a per-replica share of the limit)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._max_keys = max_keys

    async def hit(self, key: str, limit: Limit) -> int | None:
        now = time.monotonic()
        rate = limit.requests / limit.period_s
        tokens, updated = self._buckets.get(key, (float(limit.requests), now))
        tokens = min(float(limit.requests), tokens + (now - updated) * rate)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / rate))
        if len(self._buckets) >= self._max_keys:
            self._prune(now)
        self._buckets[key] = (tokens - 1.0, now)
        return None

    def _prune(self, now: float) -> None:
        # Drop the buckets idle for longest; a full bucket carries no information.
        oldest = sorted(self._buckets.items(), key=lambda item: item[1][1])[: len(self._buckets) // 2]
        for key, _ in oldest:
            del self._buckets[key]

    async def close(self) -> None:
        self._buckets.clear()


# INCR + EXPIRE in one round trip; returns the count and the window's remaining milliseconds.
_FIXED_WINDOW = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {count, ttl}
"""


class RedisRateLimiter:
    """A fixed window per key in Redis, shared by every gateway replica; fails open if Redis is down."""

    def __init__(self, url: str, prefix: str = "gw:rl:") -> None:
        import redis.asyncio as redis

        self._redis: Any = redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._script: Any = self._redis.register_script(_FIXED_WINDOW)
        self._prefix = prefix

    async def hit(self, key: str, limit: Limit) -> int | None:
        try:
            count, ttl_ms = await self._script(keys=[self._prefix + key], args=[int(limit.period_s * 1000)])
        except Exception as exc:  # a rate limiter must not take the platform down with it
            logger.warning("rate limiter unavailable, request allowed: %s", type(exc).__name__)
            return None
        if int(count) > limit.requests:
            return max(1, math.ceil(int(ttl_ms) / 1000))
        return None

    async def ping(self) -> None:
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()


def build_rate_limiter(redis_url: str | None) -> MemoryRateLimiter | RedisRateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else MemoryRateLimiter()
