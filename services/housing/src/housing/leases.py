"""Leases after an accepted offer: renewal, moving out, an officer ending one, and the end of the term.

Every function works inside the caller's transaction: it flushes, never commits. An officer's ending of
a lease is written to the hash-chained audit log with its reason, in the same transaction.
"""

from __future__ import annotations

from datetime import date, datetime

from servicekit.auth import Principal
from servicekit.db import utcnow
from sqlmodel.ext.asyncio.session import AsyncSession

from housing import repository as repo
from housing.exceptions import InvalidHousingRequest, LeaseNotFound, LeaseStateConflict
from housing.models import HousingLease
from housing.rules import HOUSING_RULES, RULES, add_years
from housing.schemas import LeasePublic
from housing.states import LEASE, LeaseAction, LeaseStatus
from housing.transitions import Actor, transition_lease
from housing.views import lease_public


async def renew_lease(session: AsyncSession, talent_id: str, *, now: datetime | None = None) -> LeasePublic:
    """Extend your active lease by one more term, as often as your tier allows (default: once, tier E)."""
    catalogue = (await RULES.current(session, HOUSING_RULES)).value
    lease = await _active_lease_for_update(session, talent_id)
    allowed = catalogue.renewals_allowed.get(lease.tier, 0)
    if allowed == 0:
        raise LeaseStateConflict("housing.error.lease_tier_not_renewable", {"tier": lease.tier})
    if lease.renewals >= allowed:
        raise LeaseStateConflict("housing.error.lease_renewals_used", {"renewals": lease.renewals})
    lease.ends_on = add_years(lease.ends_on, catalogue.lease_term_years)
    lease.renewals += 1
    await transition_lease(session, lease, LeaseAction.RENEW, now or utcnow(), catalogue)
    return lease_public(lease, catalogue)


async def _active_lease_for_update(session: AsyncSession, talent_id: str) -> HousingLease:
    lease = await repo.active_lease_of(session, talent_id)
    if lease is None:
        raise LeaseNotFound()
    locked = await repo.locked(session, HousingLease, lease.id)
    if locked is None or locked.status != LeaseStatus.ACTIVE:
        raise LeaseNotFound()
    return locked


async def move_out(
    session: AsyncSession, talent_id: str, ended_on: date | None, *, now: datetime | None = None
) -> LeasePublic:
    """End your own lease (default today)."""
    lease = await _active_lease_for_update(session, talent_id)
    return await _end(session, lease, LeaseAction.MOVE_OUT, ended_on, now or utcnow())


async def end_lease(
    session: AsyncSession, officer: Principal, lease_id: str, reason: str, ended_on: date | None
) -> LeasePublic:
    """An officer ends a lease (eviction, transfer, death...); audited with the reason."""
    lease = await repo.locked(session, HousingLease, lease_id)
    if lease is None:
        raise LeaseNotFound(lease_id)
    if not LEASE.can(lease.status, LeaseAction.TERMINATE):
        raise LeaseStateConflict("housing.error.lease_already_ended", {"ended_on": str(lease.ended_on)})
    return await _end(session, lease, LeaseAction.TERMINATE, ended_on, utcnow(), actor=officer, reason=reason)


async def expire_lease(session: AsyncSession, lease_id: str, *, now: datetime | None = None) -> bool:
    """The term ran out (timer at ends_on)."""
    lease = await repo.locked(session, HousingLease, lease_id)
    if lease is None or not LEASE.can(lease.status, LeaseAction.EXPIRE):
        return False
    await _end(session, lease, LeaseAction.EXPIRE, lease.ends_on, now or utcnow())
    return True


async def _end(
    session: AsyncSession,
    lease: HousingLease,
    action: LeaseAction,
    ended_on: date | None,
    now: datetime,
    *,
    actor: Actor | None = None,
    reason: str | None = None,
) -> LeasePublic:
    catalogue = (await RULES.current(session, HOUSING_RULES)).value
    today = catalogue.city_today(now)
    ended_on = ended_on or min(today, lease.ends_on)
    if ended_on < lease.starts_on or ended_on > max(today, lease.ends_on):
        raise InvalidHousingRequest(
            "ended_on",
            "housing.invalid.ended_on_out_of_range",
            {"starts_on": lease.starts_on.isoformat(), "ends_on": lease.ends_on.isoformat()},
        )
    await transition_lease(
        session, lease, action, now, catalogue, ended_on=ended_on, reason=reason, actor=actor,
        before={"ends_on": lease.ends_on}, after={"ended_on": ended_on},
    )  # fmt: skip
    return lease_public(lease, catalogue)
