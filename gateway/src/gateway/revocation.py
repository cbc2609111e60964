"""Access tokens the gateway refuses before they expire: those of a revoked refresh-token family (the `sid`
claim: sign-out, refresh-token reuse, an account or employer that may no longer sign in) and single tokens
(`jti`: a partner's token, which has no family).

The list lives in the gateway's database, so every replica learns it; each replica keeps the live entries in
memory and reloads them every `revocation_reload_interval_s`, so checking a token is two dictionary look-ups,
never a query. The replica that revokes knows at once; another replica knows within one reload interval
(plus the reload's own query). An entry lives as long as the last access token it covers could be valid.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from servicekit.auth import Principal
from servicekit.db import Database, utcnow
from servicekit.problems import Unauthorized
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import repository

logger = logging.getLogger("gateway.revocation")

# The claims a revocation is keyed by, and the `kind` it is stored as.
FAMILY = "sid"
SINGLE_TOKEN = "jti"  # noqa: S105 - a claim name, not a secret
# Beyond an access token's lifetime: the verifier's clock leeway, with room to spare.
_EXPIRY_MARGIN = timedelta(seconds=60)


class RevocationList:
    """The revoked families and tokens this process knows, each with the time after which it can be dropped."""

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}

    def __contains__(self, ref: object) -> bool:
        return ref in self._until

    def refuses(self, claims: Mapping[str, Any]) -> bool:
        family, token = claims.get(FAMILY), claims.get(SINGLE_TOKEN)
        return (family is not None and family in self._until) or (token is not None and token in self._until)

    def learn(self, entries: Iterable[tuple[str, datetime]], now: datetime) -> None:
        """Add entries; a revocation is never undone, so merging is safe against any concurrent reload."""
        for ref, until in entries:
            known = self._until.get(ref)
            if known is None or known < until:
                self._until[ref] = until
        for ref in [ref for ref, until in self._until.items() if until <= now]:
            del self._until[ref]

    async def reload(self, database: Database) -> None:
        now = utcnow()
        async with database.read() as connection:
            entries = await repository.live_revocations(connection, now)
        self.learn(entries, now)

    async def reload_periodically(self, database: Database, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.reload(database)
            except Exception:
                logger.exception("reloading the revocation list failed; keeping the known entries")


async def revoke(
    session: AsyncSession, revocations: RevocationList, refs: Iterable[tuple[str, str]], access_ttl_s: int
) -> None:
    """Record revoked families or tokens, as (ref, kind), in the caller's transaction.

    This process refuses them at once, before the commit: should the transaction roll back, this replica alone
    refuses a few tokens that were meant to die anyway; it never accepts one that was revoked.
    """
    now = utcnow()
    until = now + timedelta(seconds=access_ttl_s) + _EXPIRY_MARGIN
    entries = list(refs)
    for ref, kind in entries:
        await repository.add_revocation(session, ref, kind, now, until)
    await repository.delete_revocations_expired_before(session, now)
    revocations.learn(((ref, until) for ref, _ in entries), now)


class RevocationCheckingVerifier:
    """A token verifier that also refuses the tokens on the revocation list (401, like any invalid token)."""

    def __init__(self, inner: Any, revocations: RevocationList) -> None:
        self.inner = inner
        self._revocations = revocations

    async def verify(self, token: str) -> Principal:
        principal: Principal = await self.inner.verify(token)
        if self._revocations.refuses(principal.claims):
            raise Unauthorized(key="gateway.auth.token_revoked")
        return principal
