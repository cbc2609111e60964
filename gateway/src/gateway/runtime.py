"""The live resources of one gateway process, built once at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from servicekit.auth import StaticJwks, TokenVerifier
from servicekit.db import Database

from gateway import service
from gateway.config import GatewaySettings
from gateway.crypto import KeyedHasher, Sealer, SecretHasher
from gateway.keys import CodeKeySource, KeyRing, ensure_signing_key
from gateway.openapi import OpenApiMerger
from gateway.proxy import UpstreamProxy, build_client
from gateway.ratelimit import Limit, MemoryRateLimiter, RedisRateLimiter, build_rate_limiter
from gateway.revocation import RevocationCheckingVerifier, RevocationList
from gateway.service import AuthComponents, DiscardingOtpSender, NotifyOtpSender, OtpSender
from gateway.tokens import TokenIssuer

logger = logging.getLogger("gateway.runtime")


class GatewayRuntime:
    """Database, keys, verifier, upstream client, rate limiter and the OpenAPI merger of one process."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.database = Database(settings.database_url, pool_size=settings.database_pool_size)
        self.key_sealer = Sealer(settings.key_encryption_key.get_secret_value(), "signing-keys")
        self.keyring = KeyRing(self.key_sealer)
        self.revocations = RevocationList()
        self.token_verifier = self._new_verifier()
        self.client = build_client(settings)
        self.proxy = UpstreamProxy(settings, settings.upstreams)
        self.code_keys = CodeKeySource(
            self.client, settings.applicant_url + settings.code_keys_path, settings.code_keys_cache_s
        )
        self.openapi = OpenApiMerger(self.client, settings.upstreams, settings.openapi_cache_s)
        self.rate_limiter: MemoryRateLimiter | RedisRateLimiter = build_rate_limiter(settings.redis_url)
        self.limits = {
            "auth": Limit(settings.rate_limit_auth_per_minute),
            "read": Limit(settings.rate_limit_read_per_minute),
            "write": Limit(settings.rate_limit_write_per_minute),
        }
        issuer = TokenIssuer(
            self.keyring,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_s=settings.access_token_ttl_s,
        )
        otp_sender: OtpSender = (
            DiscardingOtpSender()
            if settings.is_dev
            else NotifyOtpSender(self.client, settings.notify_url + settings.otp_delivery_path, issuer)
        )
        self.auth = AuthComponents(
            settings=settings,
            hasher=KeyedHasher(settings.hash_key.get_secret_value()),
            phone_sealer=Sealer(settings.data_encryption_key.get_secret_value(), "phone"),
            secrets=SecretHasher(
                time_cost=settings.argon2_time_cost,
                memory_kib=settings.argon2_memory_kib,
                parallelism=settings.argon2_parallelism,
            ),
            issuer=issuer,
            otp_sender=otp_sender,
            revocations=self.revocations,
        )
        self._reload_task: asyncio.Task[None] | None = None
        self._revocation_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Check the accounts, seed dev ones, load the signing keys; refuses to start on unsafe data."""
        async with self.database.transaction() as session:
            if self.settings.is_dev:
                created = await service.seed_dev_accounts(session, self.auth)
                if created:
                    logger.info("created %d dev accounts (TALENT_ENV=dev)", created)
            else:
                await service.refuse_dev_accounts(session, self.settings.environment)
            await ensure_signing_key(session, self.key_sealer)
        await self.reload_keys()
        self._reload_task = asyncio.create_task(self._reload_keys_periodically(), name="gateway:key-reload")
        await self.revocations.reload(self.database)
        self._revocation_task = asyncio.create_task(
            self.revocations.reload_periodically(self.database, self.settings.revocation_reload_interval_s),
            name="gateway:revocation-reload",
        )

    def _new_verifier(self) -> RevocationCheckingVerifier:
        # The gateway verifies its own tokens from the keys in memory: no HTTP call to itself; and refuses
        # revoked ones from the revocation list in memory: no query either.
        verifier = TokenVerifier(
            StaticJwks(self.keyring.jwks),
            issuer=self.settings.jwt_issuer,
            audience=self.settings.jwt_audience,
            min_refetch_interval_s=0.0,
        )
        return RevocationCheckingVerifier(verifier, self.revocations)

    async def reload_keys(self) -> None:
        """Load the published keys; when the set changed, a fresh verifier forgets retired keys."""
        before = set(self.keyring.kids)
        async with self.database.transaction() as session:
            await self.keyring.reload(session)
        if set(self.keyring.kids) != before:
            self.token_verifier = self._new_verifier()

    async def _reload_keys_periodically(self) -> None:
        # Another replica (or `gateway rotate-keys`) may have rotated; pick the new key up without a restart.
        while True:
            await asyncio.sleep(self.settings.signing_key_reload_interval_s)
            try:
                await self.reload_keys()
            except Exception:
                logger.exception("reloading the signing keys failed; keeping the loaded ones")

    async def stop(self) -> None:
        for task in (self._reload_task, self._revocation_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.proxy.close()
        await self.client.aclose()
        await self.rate_limiter.close()
        await self.database.dispose()

    async def check_upstream(self, service_name: str) -> None:
        response = await self.client.get(self.settings.upstreams[service_name] + "/readyz", timeout=2.5)
        if response.status_code != 200:
            raise RuntimeError(f"{service_name} is not ready ({response.status_code})")
