"""The one place a housing status changes: a function per kind of object, each reading its table in `states`.

Each checks that its table allows the move (409 `IllegalTransition` otherwise; callers with a friendlier
refusal ask `machine.can` first, so it only fires on a broken invariant), assigns the status and writes
what goes with the move in the caller's transaction: time stamps, the timers it starts or stops, its event
and its audit entry. A move from NEW makes the object: the caller builds the row, the move announces it.
Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, NamedTuple, TypeVar

from servicekit import audit
from servicekit.auth import Principal
from servicekit.timers import cancel, schedule, schedule_many
from servicekit.workflow import StateMachine
from sqlalchemy import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from housing import repository as repo
from housing.events import outbox
from housing.models import HousingApplication, HousingLease, HousingOffer, HousingRound, HousingUnit
from housing.rules import HousingRules
from housing.states import (
    APPLICATION,
    LEASE,
    OFFER,
    ROUND,
    UNIT,
    ApplicationAction,
    ApplicationStatus,
    LeaseAction,
    LeaseMove,
    LeaseStatus,
    OfferAction,
    OfferMove,
    RoundAction,
    RoundMove,
    UnitAction,
)

Actor = Principal | str
S = TypeVar("S", bound=str)


def _source(machine: StateMachine[Any], move: Any, status: S | None) -> S | None:
    """The status the move starts from, once the table allows it; None for a move that makes the object."""
    if not move.sources:
        return None
    machine.check(str(status), move.action, move.verb)
    return status


# --- rounds ----------------------------------------------------------------------------------------


async def transition_round(
    session: AsyncSession,
    round_: HousingRound,
    action: RoundAction,
    now: datetime,
    *,
    actor: Actor | None = None,
    facts: Mapping[str, Any] | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> RoundMove:
    """Move the round; `facts` complete the move's event (beyond the round's id), `before`/`after` its audit
    entry (beyond the status)."""
    move = ROUND[action]
    source = _source(ROUND, move, round_.status)
    round_.status = move.leads_from(round_.status)
    setattr(round_, move.stamp, now)
    if move.starts is not None:
        await schedule(session, move.starts, round_.id, round_.closes_at, {"round_id": round_.id})
    if move.cancels is not None:
        await cancel(session, move.cancels, round_.id)
    if move.event is not None:
        outbox.emit(session, move.event(round_id=round_.id, **(facts or {})), subject=round_.id)
    await session.flush()
    if move.audit is not None:
        assert actor is not None, f"the round move {action} is audited: name its actor"
        await audit.record(
            session, actor, move.audit, subject_type="round", subject_id=round_.id,
            before=None if source is None else {"status": source, **(before or {})},
            after={"status": round_.status, **(after or {})},
        )  # fmt: skip
    return move


# --- applications ----------------------------------------------------------------------------------


def application_change(
    status: ApplicationStatus | None, action: ApplicationAction, reason: str | None = None
) -> dict[str, Any]:
    """The columns an application in `status` gets from the move: `transition_application` sets them on a
    row, the draw sends them for many rows in one UPDATE."""
    move = APPLICATION[action]
    _source(APPLICATION, move, status)
    change: dict[str, Any] = {"status": move.target}
    if move.records_reason:
        change["status_reason"] = reason
    return change


def transition_application(
    application: HousingApplication, action: ApplicationAction, *, reason: str | None = None
) -> None:
    change = application_change(application.status, action, reason)
    application.status = change["status"]
    if "status_reason" in change:
        application.status_reason = change["status_reason"]


# --- units -----------------------------------------------------------------------------------------


def transition_unit(unit: HousingUnit, action: UnitAction, now: datetime, *, round_id: str | None = None) -> None:
    """Move the unit; a round taking it (`reserve`) names itself in `round_id`."""
    move = UNIT[action]
    _source(UNIT, move, unit.status)
    unit.status, unit.updated_at = move.leads_from(unit.status), now
    if move.round_hold is not None:
        assert round_id is not None or not move.round_hold, "a unit is reserved by a round"
        unit.round_id = round_id if move.round_hold else None


# --- offers ----------------------------------------------------------------------------------------


class _Offer(NamedTuple):
    id: str
    round_id: str
    unit_id: str
    talent_id: str
    expires_at: datetime


async def transition_offer(
    session: AsyncSession,
    offer: HousingOffer,
    action: OfferAction,
    now: datetime,
    *,
    facts: Mapping[str, Any] | None = None,
    unit_numbers: Mapping[str, str] | None = None,
) -> OfferMove:
    """Move the offer (made, or answered: its decision time), start or stop its lapse timer, and publish the
    move; `facts` complete the event beyond the offer's own (the decline count of a decline). A caller that
    holds the unit passes its number in `unit_numbers` (by unit id), saving the look-up."""
    move = OFFER[action]
    _source(OFFER, move, offer.status)
    offer.status = move.leads_from(offer.status)
    setattr(offer, move.stamp, now)
    if move.cancels is not None:
        await cancel(session, move.cancels, offer.id)
    offers = [_Offer(offer.id, offer.round_id, offer.unit_id, offer.talent_id, offer.expires_at)]
    await _announce(session, move, offers, facts, unit_numbers)
    return move


async def make_offers(
    session: AsyncSession, values: Sequence[dict[str, Any]], unit_numbers: Mapping[str, str] | None = None
) -> None:
    """The `make` move for many new offers at once (a draw's thousands): `values` are their columns but the
    status; one INSERT of the offers, one of their lapse timers, and an event each."""
    move = OFFER[OfferAction.MAKE]
    for offer in values:
        offer["status"] = move.target
    # Core, not the ORM's bulk INSERT: thousands of rows, none of them wanted as objects in the session.
    await (await session.connection()).execute(insert(HousingOffer.__table__), list(values))  # type: ignore[attr-defined]
    offers = [_Offer(v["id"], v["round_id"], v["unit_id"], v["talent_id"], v["expires_at"]) for v in values]
    await _announce(session, move, offers, None, unit_numbers)


async def _announce(
    session: AsyncSession,
    move: OfferMove,
    offers: Sequence[_Offer],
    facts: Mapping[str, Any] | None,
    unit_numbers: Mapping[str, str] | None = None,
) -> None:
    if move.starts is not None:
        # New offers: no lapse timer can exist yet, so no look-up (one multi-row INSERT with the commit).
        schedule_many(session, move.starts, ((o.id, o.expires_at, {"round_id": o.round_id}) for o in offers))
    numbers = (
        unit_numbers if unit_numbers is not None else await repo.unit_numbers(session, (o.unit_id for o in offers))
    )
    for o in offers:
        # A move that starts the clock says when it runs out.
        clock = {"expires_at": o.expires_at} if move.starts is not None else {}
        event = move.event(
            offer_id=o.id, round_id=o.round_id, unit_id=o.unit_id, unit_number=numbers.get(o.unit_id),
            talent_id=o.talent_id, **clock, **(facts or {}),
        )  # fmt: skip
        outbox.emit(session, event, subject=o.talent_id)


# --- leases ----------------------------------------------------------------------------------------


async def transition_lease(
    session: AsyncSession,
    lease: HousingLease,
    action: LeaseAction,
    now: datetime,
    catalogue: HousingRules,
    *,
    ended_on: date | None = None,
    reason: str | None = None,
    actor: Actor | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> LeaseMove:
    """Start the lease, renew it (the caller set its new `ends_on`) or end it on `ended_on` (its unit goes back
    on the market); the lease-end timer follows, and the move is published (and audited, by an officer)."""
    move = LEASE[action]
    source = _source(LEASE, move, lease.status)
    lease.status, lease.updated_at = move.leads_from(lease.status), now
    facts: dict[str, Any] = {"ends_on": lease.ends_on, "monthly_rent_fen": lease.monthly_rent_fen}
    if source is None:
        facts = {"starts_on": lease.starts_on, **facts}
    if lease.status == LeaseStatus.ENDED:
        assert ended_on is not None, "an ending lease needs its last day"
        lease.ended_on, lease.end_reason = ended_on, move.end_reason or reason
        unit = await repo.locked(session, HousingUnit, lease.unit_id)
        if unit is not None:
            transition_unit(unit, UnitAction.VACATE, now)
        facts = {"ended_on": ended_on, "reason": lease.end_reason}
    if move.starts is not None:
        await schedule(session, move.starts, lease.id, city_midnight(lease.ends_on, catalogue), {})
    if move.cancels is not None:
        await cancel(session, move.cancels, lease.id)
    numbers = await repo.unit_numbers(session, [lease.unit_id])
    event = move.event(
        lease_id=lease.id, talent_id=lease.talent_id, unit_id=lease.unit_id,
        unit_number=numbers.get(lease.unit_id), **facts,
    )  # fmt: skip
    outbox.emit(session, event, subject=lease.talent_id)
    await session.flush()
    if move.audit is not None:
        assert actor is not None, f"the lease move {action} is audited: name its actor"
        await audit.record(
            session, actor, move.audit, subject_type="lease", subject_id=lease.id,
            before=None if source is None else {"status": source, **(before or {})},
            after={"status": lease.status, **(after or {})}, reason=reason,
        )  # fmt: skip
    return move


def city_midnight(day: date, catalogue: HousingRules) -> datetime:
    """The moment a city date begins (a lease ends by itself at the start of its `ends_on`)."""
    city = timezone(timedelta(hours=catalogue.city_utc_offset_hours))
    return datetime.combine(day, time(0, 0), tzinfo=city).astimezone(UTC)
