"""Queries over the gateway's tables; no rules here, only reads and writes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from servicekit.pagination import keyset_after
from servicekit.sql import insert_ignoring_conflicts
from sqlalchemy import delete, func, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.models import Account, Employer, OtpChallenge, RefreshToken, RevokedToken, SignInThrottle


async def get_account(session: AsyncSession, account_id: str) -> Account | None:
    return await session.get(Account, account_id)


async def get_account_by_username(session: AsyncSession, username: str) -> Account | None:
    return (await session.exec(select(Account).where(Account.username == username))).first()


async def get_account_by_phone_hash(session: AsyncSession, phone_hash: str) -> Account | None:
    return (await session.exec(select(Account).where(Account.phone_hash == phone_hash))).first()


async def list_dev_accounts(session: AsyncSession, usernames: Iterable[str]) -> Sequence[Account]:
    statement = select(Account).where(or_(col(Account.is_dev).is_(True), col(Account.username).in_(list(usernames))))
    return (await session.exec(statement)).all()


async def recent_challenges(session: AsyncSession, phone_hash: str, since: datetime) -> Sequence[OtpChallenge]:
    statement = (
        select(OtpChallenge)
        .where(OtpChallenge.phone_hash == phone_hash, col(OtpChallenge.created_at) >= since)
        .order_by(col(OtpChallenge.created_at).desc())
    )
    return (await session.exec(statement)).all()


async def open_challenge(session: AsyncSession, phone_hash: str, now: datetime) -> OtpChallenge | None:
    statement = (
        select(OtpChallenge)
        .where(
            OtpChallenge.phone_hash == phone_hash,
            col(OtpChallenge.consumed_at).is_(None),
            col(OtpChallenge.expires_at) > now,
        )
        .order_by(col(OtpChallenge.created_at).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()


async def supersede_challenges(session: AsyncSession, phone_hash: str, now: datetime) -> None:
    await session.exec(
        update(OtpChallenge)
        .where(col(OtpChallenge.phone_hash) == phone_hash, col(OtpChallenge.consumed_at).is_(None))
        .values(consumed_at=now)
    )


async def count_attempt(session: AsyncSession, challenge_id: str) -> int:
    """Add one failed attempt atomically and return the new count."""
    await session.exec(
        update(OtpChallenge).where(col(OtpChallenge.id) == challenge_id).values(attempts=OtpChallenge.attempts + 1)
    )
    value = await session.scalar(select(OtpChallenge.attempts).where(OtpChallenge.id == challenge_id))
    return int(value or 0)


async def consume_challenge(session: AsyncSession, challenge_id: str, now: datetime) -> bool:
    """Mark a challenge used; False when a concurrent request already used it."""
    result = await session.exec(
        update(OtpChallenge)
        .where(col(OtpChallenge.id) == challenge_id, col(OtpChallenge.consumed_at).is_(None))
        .values(consumed_at=now)
    )
    return bool(result.rowcount == 1)


async def get_refresh_token(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    return (await session.exec(select(RefreshToken).where(RefreshToken.token_hash == token_hash))).first()


async def mark_rotated(session: AsyncSession, token_id: str, now: datetime) -> bool:
    """Rotate a refresh token atomically; False when it was rotated (or revoked) concurrently."""
    result = await session.exec(
        update(RefreshToken)
        .where(
            col(RefreshToken.id) == token_id,
            col(RefreshToken.rotated_at).is_(None),
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(rotated_at=now)
    )
    return bool(result.rowcount == 1)


async def revoke_family(session: AsyncSession, family_id: str, now: datetime) -> None:
    await session.exec(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def live_families_of_employer(session: AsyncSession, employer_id: str) -> Sequence[str]:
    """The refresh-token families of an employer's users that are not revoked yet."""
    users = select(Account.id).where(Account.employer_id == employer_id)
    statement = select(RefreshToken.family_id).where(
        col(RefreshToken.account_id).in_(users.scalar_subquery()), col(RefreshToken.revoked_at).is_(None)
    )
    return sorted(set((await session.exec(statement)).all()))


async def reread_refresh_token(session: AsyncSession, row: RefreshToken) -> RefreshToken:
    """The row as committed now (after a concurrent rotation or revocation changed it under this session)."""
    await session.refresh(row)
    return row


async def count_live_refresh_tokens(session: AsyncSession, family_id: str, now: datetime) -> int:
    statement = select(func.count()).where(
        col(RefreshToken.family_id) == family_id,
        col(RefreshToken.revoked_at).is_(None),
        col(RefreshToken.rotated_at).is_(None),
        col(RefreshToken.expires_at) > now,
    )
    return int((await session.exec(statement)).one())


async def delete_account(session: AsyncSession, account: Account) -> None:
    await session.exec(delete(RefreshToken).where(col(RefreshToken.account_id) == account.id))
    await session.delete(account)


# --- employers ---------------------------------------------------------------------------------


async def get_employer(session: AsyncSession, employer_id: str) -> Employer | None:
    return await session.get(Employer, employer_id)


async def get_employer_by_credit_code(session: AsyncSession, credit_code: str) -> Employer | None:
    return (await session.exec(select(Employer).where(Employer.credit_code == credit_code))).first()


async def list_employers(
    session: AsyncSession, limit: int, after: Sequence[Any] | None, credit_code: str | None = None
) -> Sequence[Employer]:
    """Newest first, `limit` rows after a (created_at, id) position."""
    statement = select(Employer)
    if credit_code is not None:
        statement = statement.where(Employer.credit_code == credit_code)
    if after is not None:
        statement = statement.where(keyset_after((col(Employer.created_at), col(Employer.id)), after, descending=True))
    statement = statement.order_by(col(Employer.created_at).desc(), col(Employer.id).desc()).limit(limit)
    return (await session.exec(statement)).all()


async def employer_users(session: AsyncSession, employer_ids: Iterable[str]) -> Sequence[Account]:
    """The user accounts of these employers, oldest first (one query for a whole page)."""
    statement = (
        select(Account)
        .where(col(Account.employer_id).in_(list(employer_ids)))
        .order_by(col(Account.created_at), col(Account.id))
    )
    return (await session.exec(statement)).all()


async def revoke_employer_refresh_tokens(session: AsyncSession, employer_id: str, now: datetime) -> None:
    users = select(Account.id).where(Account.employer_id == employer_id)
    await session.exec(
        update(RefreshToken)
        .where(col(RefreshToken.account_id).in_(users.scalar_subquery()), col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def delete_employer_if_unused(session: AsyncSession, employer_id: str) -> bool:
    """Delete an employer no account is bound to any more (a purged dev employer)."""
    remaining = await session.scalar(select(func.count()).where(col(Account.employer_id) == employer_id))
    if remaining:
        return False
    await session.exec(delete(Employer).where(col(Employer.id) == employer_id))
    return True


# --- sign-in throttling ------------------------------------------------------------------------


async def throttles(session: AsyncSession, subject: str, sources: Sequence[str]) -> dict[str, SignInThrottle]:
    """The throttle rows of a username for these sources ("" is the account-wide row), by source."""
    statement = select(SignInThrottle).where(
        SignInThrottle.subject == subject, col(SignInThrottle.source).in_(list(sources))
    )
    return {row.source: row for row in (await session.exec(statement)).all()}


async def throttles_of(session: AsyncSession, subject: str) -> Sequence[SignInThrottle]:
    return (await session.exec(select(SignInThrottle).where(SignInThrottle.subject == subject))).all()


async def locked_throttle(session: AsyncSession, subject: str, source: str, now: datetime) -> SignInThrottle:
    """The row of (username, source), created when missing and locked until the transaction ends, so two
    concurrent failures are both counted (PostgreSQL's row lock; SQLite's single writer)."""
    values = {"subject": subject, "source": source, "failures": 0, "first_failure_at": now, "last_failure_at": now}
    await insert_ignoring_conflicts(session, SignInThrottle, values, conflict_columns=["subject", "source"])
    statement = (
        select(SignInThrottle)
        .where(SignInThrottle.subject == subject, SignInThrottle.source == source)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.exec(statement)).one()


async def delete_throttles(session: AsyncSession, subject: str, source: str | None = None) -> int:
    """Forget a username's failures: from one source, or (None) from every source and account-wide."""
    statement = delete(SignInThrottle).where(col(SignInThrottle.subject) == subject)
    if source is not None:
        statement = statement.where(col(SignInThrottle.source) == source)
    result = await session.exec(statement)
    return int(result.rowcount or 0)


# --- revoked access tokens ---------------------------------------------------------------------


async def add_revocation(session: AsyncSession, ref: str, kind: str, now: datetime, expires_at: datetime) -> None:
    values = {"ref": ref, "kind": kind, "revoked_at": now, "expires_at": expires_at}
    await insert_ignoring_conflicts(session, RevokedToken, values, conflict_columns=["ref"])


async def live_revocations(connection: AsyncConnection, now: datetime) -> list[tuple[str, datetime]]:
    """Read on a connection of its own (Database.read): the reload never waits for, or holds up, a writer."""
    statement = select(RevokedToken.ref, RevokedToken.expires_at).where(col(RevokedToken.expires_at) > now)
    return [(ref, expires_at) for ref, expires_at in (await connection.execute(statement)).all()]


async def delete_revocations_expired_before(session: AsyncSession, before: datetime) -> None:
    await session.exec(delete(RevokedToken).where(col(RevokedToken.expires_at) <= before))
