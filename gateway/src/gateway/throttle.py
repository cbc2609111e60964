"""Password sign-in throttling: back-off per (username, source address) and a ceiling per username.

It replaces an account lock that anyone could set off (five wrong passwords locked an official for everyone):

- per (username, source): the first `password_free_failures` failures cost nothing; each one after them makes
  that source wait `password_backoff_base_s` · 2ⁿ (1 s, 2 s, 4 s … capped at `password_backoff_max_s`). Another
  source — the official at their own desk — is not slowed down. A source's count is forgotten after
  `password_failures_forgotten_after_s` without a failure, and when the right password signs in from it;
- per username over all sources (distributed guessing): `password_account_ceiling` failures within
  `password_account_window_s` hold the username for `password_account_hold_s`, from every source, until then
  or until an admin unlocks it (`POST /api/v1/admin/accounts/{username}/unlock`).

Usernames are counted whether or not an account has them, under a keyed hash, so an unknown name is
throttled by the same counters and answers exactly as a known one; addresses are stored as keyed hashes too.
Functions here flush and never commit.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from servicekit import audit
from servicekit.auth import Principal
from servicekit.db import utcnow
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import repository
from gateway.config import GatewaySettings
from gateway.crypto import KeyedHasher
from gateway.exceptions import AccountNotFound
from gateway.models import AccountKind, SignInThrottle
from gateway.schemas import SignInUnlocked

logger = logging.getLogger("gateway.throttle")

ACCOUNT_WIDE = ""  # the `source` of the row that counts a username's failures from every source
# Doubling stops here whatever the settings say (2**30 s is far beyond any cap).
_MAX_DOUBLINGS = 30


@dataclass(frozen=True)
class ThrottleKeys:
    """The keyed hashes a sign-in attempt is counted under."""

    subject: str
    source: str


def keys_for(hasher: KeyedHasher, username: str, source_address: str) -> ThrottleKeys:
    return ThrottleKeys(
        subject=hasher.digest("sign-in-username", username), source=hasher.digest("sign-in-source", source_address)
    )


def backoff_s(settings: GatewaySettings, failures: int) -> float | None:
    """How long a source waits after its `failures`-th failure in a row; None while failures are free."""
    beyond = failures - settings.password_free_failures
    if beyond < 0:
        return None
    wait = settings.password_backoff_base_s * 2 ** min(beyond, _MAX_DOUBLINGS)
    return float(min(wait, settings.password_backoff_max_s))


async def wait_before_attempt(session: AsyncSession, keys: ThrottleKeys, now: datetime) -> int | None:
    """Whole seconds this source must wait before its next attempt at this username, or None to go ahead."""
    rows = await repository.throttles(session, keys.subject, [keys.source, ACCOUNT_WIDE])
    ends = [row.blocked_until for row in rows.values() if row.blocked_until is not None and row.blocked_until > now]
    if not ends:
        return None
    return max(1, math.ceil((max(ends) - now).total_seconds()))


async def count_failure(session: AsyncSession, settings: GatewaySettings, keys: ThrottleKeys, now: datetime) -> None:
    """Count a failed attempt from this source and account-wide; set the waits they have earned."""
    source = await repository.locked_throttle(session, keys.subject, keys.source, now)
    if (now - source.last_failure_at).total_seconds() > settings.password_failures_forgotten_after_s:
        _restart(source, now)
    source.failures += 1
    source.last_failure_at = now
    wait = backoff_s(settings, source.failures)
    if wait is not None:
        source.blocked_until = now + timedelta(seconds=wait)
    session.add(source)

    account = await repository.locked_throttle(session, keys.subject, ACCOUNT_WIDE, now)
    if (now - account.first_failure_at).total_seconds() > settings.password_account_window_s:
        _restart(account, now)
    account.failures += 1
    account.last_failure_at = now
    if account.failures >= settings.password_account_ceiling and not _blocked(account, now):
        account.blocked_until = now + timedelta(seconds=settings.password_account_hold_s)
        # The subject is a keyed hash: the log names no username an attacker chose (nor a real one).
        logger.warning(
            "password sign-ins held after %d failures from all sources subject=%s…", account.failures, keys.subject[:12]
        )
    session.add(account)
    await session.flush()


async def forget_source(session: AsyncSession, keys: ThrottleKeys) -> None:
    """The right password from a source clears that source's count (not the account-wide one)."""
    await repository.delete_throttles(session, keys.subject, keys.source)


async def unlock(session: AsyncSession, hasher: KeyedHasher, admin: Principal, username: str) -> SignInUnlocked:
    """An admin lifts every wait on a password account's sign-ins: each source's back-off and the hold."""
    account = await repository.get_account_by_username(session, username)
    if account is None or account.kind not in (AccountKind.official, AccountKind.employer):
        raise AccountNotFound()
    subject = hasher.digest("sign-in-username", username)
    now = utcnow()
    rows = await repository.throttles_of(session, subject)
    held_until = next((r.blocked_until for r in rows if r.source == ACCOUNT_WIDE and _blocked(r, now)), None)
    waiting = sum(1 for r in rows if r.source != ACCOUNT_WIDE and _blocked(r, now))
    await repository.delete_throttles(session, subject)
    await audit.record(
        session,
        admin,
        "account.sign_in_unlock",
        subject_type="account",
        subject_id=account.id,
        before={"held_until": held_until, "sources_waiting": waiting},
        after={"held_until": None, "sources_waiting": 0},
    )
    logger.info("password sign-ins unlocked by an admin sub=%s", account.id)
    return SignInUnlocked(account_id=account.id, was_held=held_until is not None, sources_released=waiting)


def _restart(row: SignInThrottle, now: datetime) -> None:
    row.failures = 0
    row.first_failure_at = now
    row.blocked_until = None


def _blocked(row: SignInThrottle, now: datetime) -> bool:
    return row.blocked_until is not None and row.blocked_until > now
