"""Employers (用人单位) and their users, registered by administrators.

The gateway is the identity provider: an employer's users sign in here (grant_type=password, under the
officials' lockout), and their access tokens name the employer (gateway.tokens). Functions here flush and
never commit; every change is audited in the kit's hash-chained log (no password, no username in it: the
accounts appear by id).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from servicekit import audit
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.identifiers import InvalidCreditCode, validate_credit_code
from servicekit.pagination import Page, PageParams, cursor_key, cursor_time, keyset_page
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway import repository
from gateway.exceptions import CreditCodeTaken, EmployerDisabled, EmployerNotFound, InvalidField, UsernameTaken
from gateway.models import Employer
from gateway.schemas import (
    EmployerCreate,
    EmployerDisable,
    EmployerPublic,
    EmployerUserCreate,
    EmployerUserPublic,
)
from gateway.service import AuthComponents, create_employer_user, revoke_families

logger = logging.getLogger("gateway.employers")

MIN_PASSWORD_LENGTH = 12
SUBJECT = "employer"


def checked_credit_code(value: str, field: str = "credit_code") -> str:
    try:
        return validate_credit_code(value)
    except InvalidCreditCode as exc:
        raise InvalidField(field, "gateway.field.credit_code", {"reason": str(exc)}) from exc


def _check_password(username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidField("password", "gateway.field.password_too_short", {"min_length": MIN_PASSWORD_LENGTH})
    if username.lower() in password.lower():
        raise InvalidField("password", "gateway.field.password_contains_username")


def _checked_text(field: str, value: str) -> str:
    text = value.strip()
    if not text or any(ord(c) < 32 for c in text):
        raise InvalidField(field, "gateway.field.single_line")
    return text


async def _new_user(
    session: AsyncSession, auth: AuthComponents, employer: Employer, username: str, password: str
) -> str:
    _check_password(username, password)
    if await repository.get_account_by_username(session, username) is not None:
        raise UsernameTaken()
    account = await create_employer_user(session, auth, employer, username, password)
    return account.id


async def to_public(session: AsyncSession, employers: Sequence[Employer]) -> list[EmployerPublic]:
    """The public view of employers, their users loaded for all of them in one query."""
    users: dict[str, list[EmployerUserPublic]] = {e.id: [] for e in employers}
    for account in await repository.employer_users(session, users):
        if account.employer_id is not None and account.username is not None:
            users[account.employer_id].append(
                EmployerUserPublic(
                    id=account.id,
                    username=account.username,
                    created_at=account.created_at,
                    last_sign_in_at=account.last_sign_in_at,
                )
            )
    return [
        EmployerPublic(
            id=e.id,
            credit_code=e.credit_code,
            name=e.name,
            region_code=e.region_code,
            created_at=e.created_at,
            disabled_at=e.disabled_at,
            users=users[e.id],
        )
        for e in employers
    ]


async def _one(session: AsyncSession, employer_id: str) -> Employer:
    employer = await repository.get_employer(session, employer_id)
    if employer is None:
        raise EmployerNotFound(employer_id)
    return employer


async def create_employer(
    session: AsyncSession, auth: AuthComponents, admin: Principal | str, body: EmployerCreate
) -> EmployerPublic:
    """Register an employer and its first user in one unit of work."""
    credit_code = checked_credit_code(body.credit_code)
    name = _checked_text("name", body.name)
    _check_password(body.username, body.password)
    if await repository.get_employer_by_credit_code(session, credit_code) is not None:
        raise CreditCodeTaken()
    if await repository.get_account_by_username(session, body.username) is not None:
        raise UsernameTaken()
    employer = Employer(credit_code=credit_code, name=name, region_code=body.region_code)
    session.add(employer)
    await session.flush()
    user_id = await _new_user(session, auth, employer, body.username, body.password)
    await audit.record(
        session,
        admin,
        "employer.create",
        subject_type=SUBJECT,
        subject_id=employer.id,
        after={"credit_code": credit_code, "name": name, "region_code": employer.region_code, "user_ids": [user_id]},
    )
    logger.info("employer registered employer=%s user=%s", employer.id, user_id)
    return (await to_public(session, [employer]))[0]


async def list_employers(session: AsyncSession, page: PageParams, credit_code: str | None) -> Page[EmployerPublic]:
    """Employers, newest first; one credit code's when asked."""
    code = checked_credit_code(credit_code) if credit_code is not None else None
    position = page.position(cursor_time, cursor_key)
    rows = await repository.list_employers(session, page.limit + 1, position, code)
    found = keyset_page(rows, page.limit, lambda e: [e.created_at.isoformat(), e.id])
    return Page(items=await to_public(session, found.items), next_cursor=found.next_cursor)


async def get_employer(session: AsyncSession, employer_id: str) -> EmployerPublic:
    return (await to_public(session, [await _one(session, employer_id)]))[0]


async def add_user(
    session: AsyncSession, auth: AuthComponents, admin: Principal, employer_id: str, body: EmployerUserCreate
) -> EmployerPublic:
    """Another user of an employer (a second HR officer); not for a disabled employer."""
    employer = await _one(session, employer_id)
    if employer.disabled_at is not None:
        raise EmployerDisabled()
    user_id = await _new_user(session, auth, employer, body.username, body.password)
    await audit.record(
        session, admin, "employer.user_add", subject_type=SUBJECT, subject_id=employer.id, after={"user_id": user_id}
    )
    logger.info("employer user added employer=%s user=%s", employer.id, user_id)
    return (await to_public(session, [employer]))[0]


async def disable_employer(
    session: AsyncSession, auth: AuthComponents, admin: Principal, employer_id: str, body: EmployerDisable
) -> EmployerPublic:
    """Disable an employer: its users cannot sign in any more, and every token they hold is revoked (refresh
    tokens, and the access tokens issued with them, which every gateway refuses from then on)."""
    employer = await _one(session, employer_id)
    if employer.disabled_at is not None:
        raise EmployerDisabled()
    reason = _checked_text("reason", body.reason)
    now = utcnow()
    employer.disabled_at = now
    employer.disabled_reason = reason
    session.add(employer)
    await revoke_families(session, auth, list(await repository.live_families_of_employer(session, employer.id)))
    await repository.revoke_employer_refresh_tokens(session, employer.id, now)
    await session.flush()
    await audit.record(
        session,
        admin,
        "employer.disable",
        subject_type=SUBJECT,
        subject_id=employer.id,
        before={"disabled_at": None},
        after={"disabled_at": now},
        reason=reason,
    )
    logger.info("employer disabled employer=%s", employer.id)
    return (await to_public(session, [employer]))[0]
