"""Policies and their versions: a change is a new version; claims keep the version they were made under."""

from __future__ import annotations

from contracts.events import PolicyPublished
from servicekit import audit
from servicekit.auth import Principal
from servicekit.db import utcnow
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits.catalogue import Policy, rules_json
from benefits.events import outbox
from benefits.exceptions import PolicyExists, PolicyNotFound
from benefits.models import BenefitPolicy
from benefits.repository import BenefitsRepository
from benefits.schemas import PolicyCreate, PolicyUpdate


async def list_policies(session: AsyncSession) -> list[Policy]:
    return [Policy.of(row) for row in await BenefitsRepository.of(session).current_policies()]


async def get_policy(session: AsyncSession, code: str, version: int | None = None) -> Policy:
    repo = BenefitsRepository.of(session)
    row = await (repo.current_policy(code) if version is None else repo.policy_version(code, version))
    if row is None:
        raise PolicyNotFound(code)
    return Policy.of(row)


async def policy_of_claim(session: AsyncSession, code: str, version: int) -> Policy:
    """The version a claim was filed under: usually the current one, which the parsed catalogue already holds
    (no look-up and no parsing of its rules); an older version is read."""
    current = (await BenefitsRepository.of(session).catalogue()).by_code.get(code)
    if current is not None and current.version == version:
        return current
    return await get_policy(session, code, version)


async def policy_history(session: AsyncSession, code: str) -> list[Policy]:
    rows = await BenefitsRepository.of(session).policy_versions(code)
    if not rows:
        raise PolicyNotFound(code)
    return [Policy.of(row) for row in rows]


async def create_policy(session: AsyncSession, principal: Principal, body: PolicyCreate) -> Policy:
    """A new policy at version 1."""
    if await BenefitsRepository.of(session).policy_versions(body.code):
        raise PolicyExists(body.code)
    row = _policy_row(body.code, 1, body, principal, body.change_reason or "created")
    session.add(row)
    await audit.record(
        session,
        principal,
        "policy.created",
        subject_type="policy",
        subject_id=body.code,
        after=body,
        reason=row.change_reason,
    )
    await session.flush()
    _published(session, row)
    return Policy.of(row)


async def update_policy(session: AsyncSession, principal: Principal, code: str, body: PolicyUpdate) -> Policy:
    """Store the policy as a new version; claims keep the version they were made under."""
    current = await BenefitsRepository.of(session).current_policy(code)
    if current is None:
        raise PolicyNotFound(code)
    current.current = False
    row = _policy_row(code, current.version + 1, body, principal, body.change_reason)
    session.add(row)
    await audit.record(
        session,
        principal,
        "policy.changed",
        subject_type="policy",
        subject_id=code,
        before=Policy.of(current).rules,
        after=body,
        reason=body.change_reason,
    )
    await session.flush()
    _published(session, row)
    return Policy.of(row)


async def announce_unannounced(session: AsyncSession) -> list[str]:
    """Announce every current version never announced (the seeded ones): the codes announced.

    Run by the worker at start-up; a version is announced once, in the transaction that marks it, so a restart
    or a second worker announces nothing again.
    """
    rows = await BenefitsRepository.of(session).unannounced_policies()
    for row in rows:
        _published(session, row)
    return [row.code for row in rows]


def _published(session: AsyncSession, row: BenefitPolicy) -> None:
    """The version in force, for the city's statistics (insight's budget figures): its yearly budget.

    `published_at` is the version's creation, not the announcement's: insight keeps the newest version by it,
    so a late announcement of an older version never overrides a newer one.
    """
    data = PolicyPublished(
        policy_code=row.code,
        version=row.version,
        yearly_budget_fen=Policy.of(row).rules.budget.yearly_budget_fen,
        published_at=row.created_at,
    )
    outbox.emit(session, data, subject=row.code)
    row.announced_at = utcnow()


def _policy_row(
    code: str, version: int, body: PolicyCreate | PolicyUpdate, principal: Principal, reason: str
) -> BenefitPolicy:
    return BenefitPolicy(
        code=code,
        version=version,
        current=True,
        name=body.name,
        name_en=body.name_en,
        description=body.description,
        auto_grant=body.auto_grant,
        active=body.active,
        rules=rules_json(body),
        created_at=utcnow(),
        created_by=principal.sub,
        change_reason=reason,
    )
