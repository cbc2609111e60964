"""Housing rules: inventory, rounds with a committed seed, the draw, the offer cascade and leases.

Every function works inside the caller's transaction: it flushes, never commits. Officer actions are
written to the hash-chained audit log in the same transaction as their effect.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from contracts import (
    LeaseEnded,
    LeaseStarted,
    OfferAccepted,
    OfferDeclined,
    OfferLapsed,
    OfferMade,
    RoundDrawn,
    RoundOpened,
)
from contracts.events import LeaseRenewed, RoundClosed
from servicekit import audit
from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.outbox import Outbox
from servicekit.timers import ScheduledTimer, cancel, schedule, schedule_new
from sqlalchemy import func, insert, update
from sqlalchemy import select as select_columns
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from housing import draw
from housing import repository as repo
from housing.eligibility import TalentFacts, refusals
from housing.exceptions import (
    AlreadyApplied,
    AlreadyHoldsLease,
    ConcurrentLease,
    InvalidHousingRequest,
    LeaseNotFound,
    LeaseStateConflict,
    NotEligible,
    OfferExpired,
    OfferNotFound,
    OfferNotOpen,
    ProjectNotFound,
    RoundNotFound,
    RoundNotOpen,
    RoundStateConflict,
    UnitAlreadyLeased,
    UnitBusy,
    UnitNotFound,
    UnitNumberTaken,
    UnitsUnavailable,
)
from housing.models import (
    HousingApplication,
    HousingLease,
    HousingOffer,
    HousingProject,
    HousingRound,
    HousingRoundUnit,
    HousingTalent,
    HousingUnit,
    new_id,
)
from housing.rules import HousingRules, add_years, rules
from housing.schemas import (
    ApplicationCreate,
    ApplicationPublic,
    LeasePublic,
    MyHousing,
    OfferPublic,
    ProjectCreate,
    ProjectPublic,
    RoundCreate,
    RoundPublic,
    UnitPublic,
    UnitsCreate,
    UnitUpdate,
)

logger = logging.getLogger("housing.service")

outbox = Outbox("housing")

ROUND_CLOSE_TIMER = "housing.round_close"
OFFER_LAPSE_TIMER = "housing.offer_lapse"
LEASE_END_TIMER = "housing.lease_end"
SYSTEM_ACTOR = "housing-scheduler"
# The waitlist is read in chunks while looking for the next applicant a passed-on unit fits.
WAITLIST_CHUNK = 25


# --- inventory -------------------------------------------------------------------------------------


async def create_project(session: AsyncSession, officer: Principal, body: ProjectCreate) -> ProjectPublic:
    """A new project (no units yet)."""
    project = HousingProject(**body.model_dump(), created_by=officer.sub, created_at=utcnow())
    session.add(project)
    await session.flush()
    await audit.record(
        session, officer, "housing.project.create", subject_type="project", subject_id=project.id,
        after=body.model_dump(),
    )  # fmt: skip
    return project_public(project, {})


async def get_project(session: AsyncSession, project_id: str) -> ProjectPublic:
    project = await _project(session, project_id)
    counts = await repo.available_by_type(session, [project.id])
    return project_public(project, counts.get(project.id, {}))


async def list_projects(session: AsyncSession, *, after: str | None, limit: int) -> list[ProjectPublic]:
    """Projects with at least one unit available, with their available units by type."""
    projects = await repo.projects_with_available_units(session, after=after, limit=limit)
    counts = await repo.available_by_type(session, [p.id for p in projects])
    return [project_public(p, counts.get(p.id, {})) for p in projects]


def project_public(project: HousingProject, by_type: dict[str, int]) -> ProjectPublic:
    return ProjectPublic(
        id=project.id,
        name=project.name,
        region_code=project.region_code,
        supply_model=project.supply_model,
        address=project.address,
        available_units=sum(by_type.values()),
        available_by_type=by_type,
        created_at=project.created_at,
    )


async def add_units(session: AsyncSession, officer: Principal, project_id: str, body: UnitsCreate) -> list[UnitPublic]:
    """Add units to a project; unit numbers are unique within the project."""
    project = await _project(session, project_id)
    numbers = [u.number for u in body.units]
    repeated = sorted({n for n in numbers if numbers.count(n) > 1})
    if repeated:
        raise InvalidHousingRequest("units", f"unit numbers repeat in the request: {', '.join(repeated)}")
    taken = await repo.numbers_taken(session, project.id, numbers)
    if taken:
        raise UnitNumberTaken(taken)
    now = utcnow()
    units = [HousingUnit(project_id=project.id, **u.model_dump(), created_at=now, updated_at=now) for u in body.units]
    session.add_all(units)
    await session.flush()
    await audit.record(
        session, officer, "housing.units.add", subject_type="project", subject_id=project.id,
        after={"units": [unit_public(u).model_dump() for u in units]},
    )  # fmt: skip
    return [unit_public(u) for u in units]


async def list_units(
    session: AsyncSession, project_id: str, *, status: str | None, after: Sequence[Any] | None, limit: int
) -> list[UnitPublic]:
    await _project(session, project_id)
    units = await repo.units_of_project(session, project_id, status=status, after=after, limit=limit)
    return [unit_public(u) for u in units]


async def update_unit(session: AsyncSession, officer: Principal, unit_id: str, body: UnitUpdate) -> UnitPublic:
    """Withdraw a unit from the market, return it, or change its list rent (only while in no round or lease)."""
    unit = await repo.locked(session, HousingUnit, unit_id)
    if unit is None:
        raise UnitNotFound(unit_id)
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise InvalidHousingRequest("body", "name at least one of status, monthly_rent_fen")
    if unit.status in {"reserved", "leased"}:
        raise UnitBusy(unit.number, unit.status)
    before = unit_public(unit).model_dump()
    for name, value in changes.items():
        setattr(unit, name, value)
    unit.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session, officer, "housing.unit.update", subject_type="unit", subject_id=unit.id, before=before, after=changes
    )
    return unit_public(unit)


def unit_public(unit: HousingUnit) -> UnitPublic:
    return UnitPublic.model_validate(unit, from_attributes=True)


# --- rounds ----------------------------------------------------------------------------------------


async def create_round(
    session: AsyncSession, officer: Principal, body: RoundCreate, *, now: datetime | None = None
) -> RoundPublic:
    """Open a round over available units; each unit can be in one unfinished round only."""
    now = now or utcnow()
    unit_ids = list(dict.fromkeys(body.unit_ids))
    if len(unit_ids) != len(body.unit_ids):
        raise InvalidHousingRequest("unit_ids", "a unit is listed more than once")
    if body.closes_at <= now:
        raise InvalidHousingRequest("closes_at", "must be in the future")
    quotas = {tier: count for tier, count in (body.tier_quotas or {}).items() if count > 0}
    if sum(quotas.values()) > len(unit_ids):
        raise InvalidHousingRequest("tier_quotas", f"reserve at most the round's {len(unit_ids)} units in total")
    units = await repo.locked_units(session, unit_ids)
    missing = sorted(set(unit_ids) - {u.id for u in units})
    if missing:
        raise InvalidHousingRequest("unit_ids", f"no such units: {', '.join(missing[:20])}")
    busy = [
        f"unit {u.number} ({u.id}) is {u.status}" + (f" in round {u.round_id}" if u.round_id else "")
        for u in units
        if u.status != "available"
    ]
    if busy:
        raise UnitsUnavailable(busy[:50])
    round_ = HousingRound(
        name=body.name,
        closes_at=body.closes_at,
        tier_quotas=json.dumps(quotas, sort_keys=True),
        unit_count=len(units),
        created_by=officer.sub,
        created_at=now,
    )
    session.add(round_)
    await session.flush()
    for unit in units:
        unit.status, unit.round_id, unit.updated_at = "reserved", round_.id, now
    session.add_all([HousingRoundUnit(round_id=round_.id, unit_id=u.id) for u in units])
    await schedule(session, ROUND_CLOSE_TIMER, round_.id, body.closes_at, {"round_id": round_.id})
    outbox.emit(
        session, RoundOpened(round_id=round_.id, name=round_.name, closes_at=round_.closes_at, unit_count=len(units)),
        subject=None,
    )  # fmt: skip
    await session.flush()
    public = await round_public(session, round_)
    await audit.record(
        session, officer, "housing.round.open", subject_type="round", subject_id=round_.id,
        after=public.model_dump(exclude={"unit_ids"}) | {"unit_ids": unit_ids},
    )  # fmt: skip
    return public


async def get_round(session: AsyncSession, round_id: str) -> RoundPublic:
    return await round_public(session, await _round(session, round_id))


async def list_rounds(
    session: AsyncSession, *, status: str | None, after: Sequence[Any] | None, limit: int
) -> list[HousingRound]:
    return await repo.list_rounds(session, status=status, after=after, limit=limit)


async def round_public(session: AsyncSession, round_: HousingRound, *, with_units: bool = True) -> RoundPublic:
    count = round_.application_count if round_.status != "open" else await repo.count_applications(session, round_.id)
    return RoundPublic(
        id=round_.id,
        name=round_.name,
        status=round_.status,
        closes_at=round_.closes_at,
        unit_count=round_.unit_count,
        unit_ids=await repo.round_unit_ids(session, round_.id) if with_units else [],
        tier_quotas=quotas_of(round_),
        application_count=count,
        seed_commitment=round_.seed_commitment,
        # The seed stays secret until the draw, or anyone could compute the lottery before it.
        seed=round_.seed_hex if round_.status in {"drawn", "completed"} else None,
        created_at=round_.created_at,
        closed_at=round_.closed_at,
        drawn_at=round_.drawn_at,
        completed_at=round_.completed_at,
    )


async def apply(
    session: AsyncSession, talent_id: str, round_id: str, body: ApplicationCreate, *, now: datetime | None = None
) -> ApplicationPublic:
    """A talent applies to an open round; every reason they may not is reported."""
    now = now or utcnow()
    catalogue = rules()
    round_ = await _round(session, round_id)
    if round_.status != "open" or now >= round_.closes_at:
        raise RoundNotOpen("closed" if round_.status == "open" else round_.status, round_.closes_at)
    existing = await repo.get_application_of(session, round_.id, talent_id)
    if existing is not None:
        raise AlreadyApplied(existing.id)
    units = await repo.round_units(session, round_.id)
    _check_preferences(body, units, catalogue)
    talent = await repo.get_talent(session, talent_id)
    holds_lease = await repo.active_lease_of(session, talent_id) is not None
    refused = refusals(TalentFacts(talent, holds_lease, catalogue.city_today(now), now))
    if refused or talent is None or talent.tier is None:
        raise NotEligible(refused)
    application = HousingApplication(
        round_id=round_.id,
        talent_id=talent_id,
        # Random, fixed before the seed is committed, and not the talent id: what the public results show.
        pseudonym="ha_" + secrets.token_hex(10),
        household_size=body.household_size,
        preferred_project_ids=json.dumps(list(dict.fromkeys(body.preferred_project_ids))),
        tier=talent.tier,
        points=talent.points,
        created_at=now,
    )
    session.add(application)
    await session.flush()
    return application_public(application)


def _check_preferences(body: ApplicationCreate, units: Sequence[HousingUnit], catalogue: HousingRules) -> None:
    in_round = {u.project_id for u in units}
    unknown = [p for p in body.preferred_project_ids if p not in in_round]
    if unknown:
        raise InvalidHousingRequest(
            "preferred_project_ids", f"these projects have no unit in this round: {', '.join(unknown)}"
        )
    wanted = set(body.preferred_project_ids) or in_round
    if not any(u.project_id in wanted and catalogue.fits(u.unit_type, body.household_size) for u in units):
        raise InvalidHousingRequest(
            "household_size",
            f"no unit of this round in the projects you prefer fits a household of {body.household_size}",
        )


def application_public(application: HousingApplication) -> ApplicationPublic:
    return ApplicationPublic(
        id=application.id,
        round_id=application.round_id,
        application_pseudonym=application.pseudonym,
        household_size=application.household_size,
        preferred_project_ids=json.loads(application.preferred_project_ids),
        tier=application.tier,
        points=application.points,
        status=application.status,
        status_reason=application.status_reason,
        rank=application.rank,
        created_at=application.created_at,
    )


async def close_round(
    session: AsyncSession, actor: Principal | str, round_id: str, *, now: datetime | None = None
) -> RoundPublic:
    """Stop applications and commit to a fresh random seed (only its SHA-256 is published now)."""
    now = now or utcnow()
    round_ = await repo.locked(session, HousingRound, round_id)
    if round_ is None:
        raise RoundNotFound(round_id)
    if round_.status != "open":
        raise RoundStateConflict(f"The round is already {round_.status}.", round_.status)
    seed = secrets.token_bytes(draw.SEED_BYTES)
    round_.seed_hex = seed.hex()
    round_.seed_commitment = draw.seed_commitment(seed)
    # The ranking uses tier and points as they stand at closing time (published with the results).
    await _refresh_ranking_facts(session, round_.id)
    round_.application_count = await repo.count_applications(session, round_.id)
    round_.status, round_.closed_at = "closed", now
    await cancel(session, ROUND_CLOSE_TIMER, round_.id)
    outbox.emit(
        session,
        RoundClosed(
            round_id=round_.id, seed_commitment=round_.seed_commitment, application_count=round_.application_count
        ),
        subject=None,
    )
    await session.flush()
    await audit.record(
        session, actor, "housing.round.close", subject_type="round", subject_id=round_.id,
        before={"status": "open"},
        after={"status": "closed", "seed_commitment": round_.seed_commitment,
               "application_count": round_.application_count},
    )  # fmt: skip
    return await round_public(session, round_)


async def _refresh_ranking_facts(session: AsyncSession, round_id: str) -> None:
    current = select(HousingTalent).where(
        col(HousingTalent.talent_id) == col(HousingApplication.talent_id), HousingTalent.status == "certified"
    )
    tier_now = current.with_only_columns(col(HousingTalent.tier)).scalar_subquery()
    points_now = current.with_only_columns(col(HousingTalent.points)).scalar_subquery()
    await session.exec(
        update(HousingApplication)
        .where(col(HousingApplication.round_id) == round_id)
        .values(
            tier=func.coalesce(tier_now, HousingApplication.tier),
            points=func.coalesce(points_now, HousingApplication.points),
        )
    )


# --- the draw --------------------------------------------------------------------------------------


@dataclass
class _Applicant:
    id: str
    talent_id: str
    pseudonym: str
    tier: str
    points: int
    household_size: int
    preferences: list[str]


class _UnitPool:
    """The round's free units by project and type; hands out the smallest fitting unit, cheapest first."""

    def __init__(self, units: Iterable[HousingUnit], catalogue: HousingRules) -> None:
        self.catalogue = catalogue
        self.types_by_size = sorted(catalogue.unit_capacity, key=lambda t: catalogue.unit_capacity[t])
        self.by_project: dict[str, dict[str, deque[HousingUnit]]] = {}
        for unit in sorted(units, key=lambda u: (u.project_id, u.monthly_rent_fen, u.number)):
            self.by_project.setdefault(unit.project_id, {}).setdefault(unit.unit_type, deque()).append(unit)
        self.project_order = sorted(self.by_project)
        self.remaining = sum(len(q) for types in self.by_project.values() for q in types.values())

    def take(self, preferences: Sequence[str], household_size: int) -> HousingUnit | None:
        for project_id in preferences or self.project_order:
            buckets = self.by_project.get(project_id, {})
            for unit_type in self.types_by_size:
                queue = buckets.get(unit_type)
                if queue and self.catalogue.fits(unit_type, household_size):
                    self.remaining -= 1
                    return queue.popleft()
        return None

    def leftovers(self) -> list[HousingUnit]:
        return [u for types in self.by_project.values() for q in types.values() for u in q]


async def draw_round(
    session: AsyncSession, actor: Principal, round_id: str, *, now: datetime | None = None
) -> RoundPublic:
    """Reveal the seed, rank every application, and offer the units down the ranked list."""
    now = now or utcnow()
    catalogue = rules()
    round_ = await repo.locked(session, HousingRound, round_id)
    if round_ is None:
        raise RoundNotFound(round_id)
    if round_.status != "closed":
        hint = "close it first" if round_.status == "open" else "it was drawn already"
        raise RoundStateConflict(
            f"Only a closed round can be drawn; this one is {round_.status} ({hint}).", round_.status
        )
    assert round_.seed_hex is not None
    applicants = await _load_applicants(session, round_.id)
    ranked = rank_applicants(round_, applicants.values(), catalogue)

    updates: dict[str, dict[str, Any]] = {}
    for row in ranked:
        applicant = applicants[row.pseudonym]
        updates[applicant.id] = {
            "id": applicant.id, "rank": row.rank, "lottery_number": row.lottery_number,
            "selected": row.selected, "status": "waitlisted", "status_reason": None,
        }  # fmt: skip
    pool = _UnitPool(await repo.reserved_units_of_round(session, round_.id), catalogue)
    offers: list[dict[str, Any]] = []
    expires_at = now + catalogue.offer_validity
    position = 0
    while pool.remaining and position < len(ranked):
        chunk = [applicants[r.pseudonym] for r in ranked[position : position + 1000]]
        position += len(chunk)
        facts = await _facts_of(session, [a.talent_id for a in chunk], now, catalogue)
        for applicant in chunk:
            if not pool.remaining:
                break
            refused = refusals(facts[applicant.talent_id])
            if refused:
                updates[applicant.id] |= {"status": "ineligible", "status_reason": refused[0][1]}
                continue
            unit = pool.take(applicant.preferences, applicant.household_size)
            if unit is None:
                continue
            offer = {
                "id": new_id(), "round_id": round_.id, "unit_id": unit.id, "application_id": applicant.id,
                "talent_id": applicant.talent_id, "status": "open", "made_at": now, "expires_at": expires_at,
            }  # fmt: skip
            offers.append(offer)
            updates[applicant.id]["status"] = "offered"

    if updates:
        await session.exec(update(HousingApplication), params=list(updates.values()))
    if offers:
        await session.exec(insert(HousingOffer), params=offers)
        # New offers have no timer yet, so the timers are inserted in bulk instead of one schedule() each.
        await session.exec(
            insert(ScheduledTimer),
            params=[
                {"kind": OFFER_LAPSE_TIMER, "key": o["id"], "due_at": expires_at, "created_at": now,
                 "payload": json.dumps({"round_id": round_.id}), "status": "pending", "attempts": 0}
                for o in offers
            ],
        )  # fmt: skip
        for o in offers:
            _emit_offer_made(session, o["id"], round_.id, o["unit_id"], o["talent_id"], expires_at)
    _release(pool.leftovers(), now)

    round_.status, round_.drawn_at = "drawn", now
    outbox.emit(
        session,
        RoundDrawn(
            round_id=round_.id, seed=round_.seed_hex, seed_commitment=round_.seed_commitment or "",
            application_count=len(ranked),
        ),
        subject=None,
    )  # fmt: skip
    await session.flush()
    await audit.record(
        session, actor, "housing.round.draw", subject_type="round", subject_id=round_.id,
        before={"status": "closed", "seed_commitment": round_.seed_commitment},
        after={"status": "drawn", "seed": round_.seed_hex, "applications": len(ranked), "offers": len(offers)},
    )  # fmt: skip
    await _settle(session, round_, now)
    return await round_public(session, round_)


def quotas_of(round_: HousingRound) -> dict[str, int]:
    quotas: dict[str, int] = json.loads(round_.tier_quotas)
    return quotas


def rank_applicants(
    round_: HousingRound, applicants: Iterable[_Applicant], catalogue: HousingRules
) -> list[draw.Ranked]:
    """The published ranking of a closed round (draw.rank with the round's seed, units and quotas)."""
    assert round_.seed_hex is not None
    return draw.rank(
        (draw.Entry(a.pseudonym, a.tier, a.points) for a in applicants),
        bytes.fromhex(round_.seed_hex),
        unit_count=round_.unit_count,
        tier_quotas=quotas_of(round_),
        tier_order=catalogue.tier_order,
    )


async def _load_applicants(session: AsyncSession, round_id: str) -> dict[str, _Applicant]:
    # Plain tuples, not ORM objects: a round may hold 100,000 applications.
    rows = await session.exec(  # type: ignore[call-overload]
        select_columns(
            col(HousingApplication.id),
            col(HousingApplication.talent_id),
            col(HousingApplication.pseudonym),
            col(HousingApplication.tier),
            col(HousingApplication.points),
            col(HousingApplication.household_size),
            col(HousingApplication.preferred_project_ids),
        ).where(col(HousingApplication.round_id) == round_id)
    )
    return {
        pseudonym: _Applicant(app_id, talent_id, pseudonym, tier, points, household, json.loads(preferences))
        for app_id, talent_id, pseudonym, tier, points, household, preferences in rows.all()
    }


async def _facts_of(
    session: AsyncSession, talent_ids: Sequence[str], now: datetime, catalogue: HousingRules
) -> dict[str, TalentFacts]:
    talents = {
        t.talent_id: t
        for t in (await session.exec(select(HousingTalent).where(col(HousingTalent.talent_id).in_(talent_ids)))).all()
    }
    leased = set(
        (
            await session.exec(
                select(HousingLease.talent_id).where(
                    col(HousingLease.talent_id).in_(talent_ids), HousingLease.status == "active"
                )
            )
        ).all()
    )
    today = catalogue.city_today(now)
    return {t: TalentFacts(talents.get(t), t in leased, today, now) for t in talent_ids}


def _emit_offer_made(
    session: AsyncSession, offer_id: str, round_id: str, unit_id: str, talent_id: str, expires_at: datetime
) -> None:
    outbox.emit(
        session,
        OfferMade(offer_id=offer_id, round_id=round_id, unit_id=unit_id, talent_id=talent_id, expires_at=expires_at),
        subject=talent_id,
    )


def _release(units: Iterable[HousingUnit], now: datetime) -> None:
    for unit in units:
        unit.status, unit.round_id, unit.updated_at = "available", None, now


async def _settle(session: AsyncSession, round_: HousingRound, now: datetime) -> None:
    """A drawn round with no open offer left is completed; its unallocated units return to the market."""
    if round_.status != "drawn" or await repo.open_offer_count(session, round_.id):
        return
    _release(await repo.reserved_units_of_round(session, round_.id), now)
    round_.status, round_.completed_at = "completed", now
    await session.flush()


async def results_page(
    session: AsyncSession, round_id: str, *, after_rank: int, limit: int
) -> tuple[HousingRound, list[HousingApplication]]:
    round_ = await _round(session, round_id)
    if round_.status not in {"drawn", "completed"}:
        raise RoundStateConflict(
            f"The round is {round_.status}: results are published when it is drawn.", round_.status
        )
    return round_, await repo.ranked_page(session, round_.id, after_rank=after_rank, limit=limit)


# --- offers ----------------------------------------------------------------------------------------


async def _own_open_offer(session: AsyncSession, talent_id: str, offer_id: str, now: datetime) -> HousingOffer:
    offer = await repo.locked(session, HousingOffer, offer_id)
    if offer is None or offer.talent_id != talent_id:
        raise OfferNotFound(offer_id)
    if offer.status != "open":
        raise OfferNotOpen(offer.status)
    if offer.expires_at <= now:
        raise OfferExpired(offer.expires_at)
    return offer


async def accept_offer(
    session: AsyncSession, talent_id: str, offer_id: str, *, now: datetime | None = None
) -> LeasePublic:
    """Accept an open offer: a lease at the tier's rent starts today (city date)."""
    now = now or utcnow()
    catalogue = rules()
    offer = await _own_open_offer(session, talent_id, offer_id, now)
    unit = await repo.locked(session, HousingUnit, offer.unit_id)
    assert unit is not None
    if await repo.active_lease_of(session, talent_id) is not None:
        raise AlreadyHoldsLease()
    if unit.status == "leased" or await repo.active_lease_on_unit(session, unit.id) is not None:
        raise UnitAlreadyLeased()
    application = await session.get(HousingApplication, offer.application_id)
    assert application is not None
    starts_on = catalogue.city_today(now)
    lease = HousingLease(
        unit_id=unit.id,
        talent_id=talent_id,
        offer_id=offer.id,
        round_id=offer.round_id,
        tier=application.tier,
        list_rent_fen=unit.monthly_rent_fen,
        monthly_rent_fen=catalogue.rent_for(application.tier, unit.monthly_rent_fen),
        starts_on=starts_on,
        ends_on=add_years(starts_on, catalogue.lease_term_years),
        created_at=now,
        updated_at=now,
    )
    session.add(lease)
    offer.status, offer.decided_at = "accepted", now
    application.status = "housed"
    unit.status, unit.round_id, unit.updated_at = "leased", None, now
    try:
        # The partial unique indexes (one active lease per unit, per talent) catch what the locks cannot.
        await session.flush()
    except IntegrityError as exc:
        raise ConcurrentLease() from exc
    await cancel(session, OFFER_LAPSE_TIMER, offer.id)
    await _schedule_lease_end(session, lease, catalogue)
    outbox.emit(
        session, OfferAccepted(offer_id=offer.id, round_id=offer.round_id, unit_id=unit.id, talent_id=talent_id),
        subject=talent_id,
    )  # fmt: skip
    outbox.emit(
        session,
        LeaseStarted(
            lease_id=lease.id, talent_id=talent_id, unit_id=unit.id, starts_on=lease.starts_on,
            ends_on=lease.ends_on, monthly_rent_fen=lease.monthly_rent_fen,
        ),
        subject=talent_id,
    )  # fmt: skip
    await _settle_round_of(session, offer.round_id, now)
    return lease_public(lease, catalogue)


async def decline_offer(
    session: AsyncSession, talent_id: str, offer_id: str, *, now: datetime | None = None
) -> OfferPublic:
    """Decline an open offer: the unit goes to the next ranked applicant; two declines bar you for a year."""
    now = now or utcnow()
    catalogue = rules()
    offer = await _own_open_offer(session, talent_id, offer_id, now)
    # Everything this decline reads first, then its changes: they go out together (one flush, the two
    # applications' status changes in one statement) instead of one autoflush per read.
    application = await session.get(HousingApplication, offer.application_id)
    assert application is not None
    talent = await repo.get_or_create_talent(session, talent_id)
    with session.no_autoflush:
        # Nothing read below depends on this decline's own changes: the waitlist holds only waitlisted
        # applications, and _pass_on flushes before it counts the round's open offers.
        offer.status, offer.decided_at = "declined", now
        application.status = "declined"
        talent.decline_count += 1
        declines = talent.decline_count
        if talent.decline_count >= catalogue.declines_before_bar:
            talent.barred_until, talent.decline_count = now + catalogue.bar_period, 0
        outbox.emit(
            session,
            OfferDeclined(
                offer_id=offer.id, round_id=offer.round_id, unit_id=offer.unit_id, talent_id=talent_id,
                decline_count=declines,
            ),
            subject=talent_id,
        )  # fmt: skip
        unit = await _pass_on(session, offer, now, catalogue)
    await cancel(session, OFFER_LAPSE_TIMER, offer.id)
    return offer_public(offer, unit, application.tier, catalogue)


async def lapse_offer(session: AsyncSession, offer_id: str, *, now: datetime | None = None) -> bool:
    """The 72-hour clock ran out: the offer lapses and the unit moves on. False when it was answered already."""
    now = now or utcnow()
    offer = await repo.locked(session, HousingOffer, offer_id)
    if offer is None or offer.status != "open":
        return False
    offer.status, offer.decided_at = "lapsed", now
    application = await session.get(HousingApplication, offer.application_id)
    if application is not None:
        application.status = "lapsed"
    outbox.emit(
        session,
        OfferLapsed(offer_id=offer.id, round_id=offer.round_id, unit_id=offer.unit_id, talent_id=offer.talent_id),
        subject=offer.talent_id,
    )
    await _pass_on(session, offer, now, rules())
    return True


async def _pass_on(session: AsyncSession, offer: HousingOffer, now: datetime, catalogue: HousingRules) -> HousingUnit:
    """Offer the unit of a declined or lapsed offer to the best-ranked waitlisted applicant it fits; returns it."""
    unit = await repo.locked(session, HousingUnit, offer.unit_id)
    assert unit is not None
    after_rank = 0
    while True:
        chunk = await repo.waitlist_after(session, offer.round_id, after_rank, WAITLIST_CHUNK)
        if not chunk:
            break
        after_rank = chunk[-1].rank or after_rank
        fitting = [a for a in chunk if _fits(a, unit, catalogue)]
        facts = await _facts_of(session, [a.talent_id for a in fitting], now, catalogue) if fitting else {}
        for candidate in fitting:
            refused = refusals(facts[candidate.talent_id])
            if refused:
                candidate.status, candidate.status_reason = "ineligible", refused[0][1]
                continue
            expires_at = now + catalogue.offer_validity
            new_offer = HousingOffer(
                round_id=offer.round_id,
                unit_id=unit.id,
                application_id=candidate.id,
                talent_id=candidate.talent_id,
                made_at=now,
                expires_at=expires_at,
            )
            session.add(new_offer)
            candidate.status = "offered"
            # A new offer's id: no lapse timer can exist for it yet (no look-up; inserted with the commit).
            schedule_new(session, OFFER_LAPSE_TIMER, new_offer.id, expires_at, {"round_id": offer.round_id})
            _emit_offer_made(session, new_offer.id, offer.round_id, unit.id, candidate.talent_id, expires_at)
            return unit
    _release([unit], now)
    await session.flush()
    await _settle_round_of(session, offer.round_id, now)
    return unit


def _fits(application: HousingApplication, unit: HousingUnit, catalogue: HousingRules) -> bool:
    preferences = json.loads(application.preferred_project_ids)
    return (not preferences or unit.project_id in preferences) and catalogue.fits(
        unit.unit_type, application.household_size
    )


async def _settle_round_of(session: AsyncSession, round_id: str, now: datetime) -> None:
    round_ = await repo.get_round(session, round_id)
    if round_ is not None:
        await session.flush()
        await _settle(session, round_, now)


def offer_public(offer: HousingOffer, unit: HousingUnit, tier: str, catalogue: HousingRules) -> OfferPublic:
    return OfferPublic(
        id=offer.id,
        round_id=offer.round_id,
        unit_id=unit.id,
        project_id=unit.project_id,
        unit_number=unit.number,
        unit_type=unit.unit_type,
        list_rent_fen=unit.monthly_rent_fen,
        monthly_rent_fen=catalogue.rent_for(tier, unit.monthly_rent_fen),
        status=offer.status,
        made_at=offer.made_at,
        expires_at=offer.expires_at,
    )


# --- leases ----------------------------------------------------------------------------------------


def lease_public(lease: HousingLease, catalogue: HousingRules) -> LeasePublic:
    return LeasePublic(
        id=lease.id,
        unit_id=lease.unit_id,
        round_id=lease.round_id,
        tier=lease.tier,
        list_rent_fen=lease.list_rent_fen,
        monthly_rent_fen=lease.monthly_rent_fen,
        starts_on=lease.starts_on,
        ends_on=lease.ends_on,
        status=lease.status,
        renewals=lease.renewals,
        renewable=lease.status == "active" and lease.renewals < catalogue.renewals_allowed.get(lease.tier, 0),
        ended_on=lease.ended_on,
        end_reason=lease.end_reason,
    )


def _city_midnight(day: date, catalogue: HousingRules) -> datetime:
    city = timezone(timedelta(hours=catalogue.city_utc_offset_hours))
    return datetime.combine(day, time(0, 0), tzinfo=city).astimezone(UTC)


async def _schedule_lease_end(session: AsyncSession, lease: HousingLease, catalogue: HousingRules) -> None:
    await schedule(session, LEASE_END_TIMER, lease.id, _city_midnight(lease.ends_on, catalogue), {})


async def renew_lease(session: AsyncSession, talent_id: str, *, now: datetime | None = None) -> LeasePublic:
    """Extend your active lease by one more term, as often as your tier allows (default: once, tier E)."""
    catalogue = rules()
    lease = await _active_lease_for_update(session, talent_id)
    allowed = catalogue.renewals_allowed.get(lease.tier, 0)
    if allowed == 0:
        raise LeaseStateConflict(f"Leases of tier {lease.tier} are not renewable.")
    if lease.renewals >= allowed:
        raise LeaseStateConflict(f"This lease was already renewed {lease.renewals} time(s), the most allowed.")
    lease.ends_on = add_years(lease.ends_on, catalogue.lease_term_years)
    lease.renewals += 1
    lease.updated_at = now or utcnow()
    await _schedule_lease_end(session, lease, catalogue)
    outbox.emit(
        session,
        LeaseRenewed(
            lease_id=lease.id, talent_id=talent_id, unit_id=lease.unit_id, ends_on=lease.ends_on,
            monthly_rent_fen=lease.monthly_rent_fen,
        ),
        subject=talent_id,
    )  # fmt: skip
    await session.flush()
    return lease_public(lease, catalogue)


async def _active_lease_for_update(session: AsyncSession, talent_id: str) -> HousingLease:
    lease = await repo.active_lease_of(session, talent_id)
    if lease is None:
        raise LeaseNotFound("You hold no active talent-apartment lease.")
    locked = await repo.locked(session, HousingLease, lease.id)
    if locked is None or locked.status != "active":
        raise LeaseNotFound("You hold no active talent-apartment lease.")
    return locked


async def move_out(
    session: AsyncSession, talent_id: str, ended_on: date | None, *, now: datetime | None = None
) -> LeasePublic:
    """End your own lease (default today)."""
    lease = await _active_lease_for_update(session, talent_id)
    return await _end_lease(session, lease, ended_on, "moved_out", now or utcnow())


async def end_lease(
    session: AsyncSession, officer: Principal, lease_id: str, reason: str, ended_on: date | None
) -> LeasePublic:
    """An officer ends a lease (eviction, transfer, death...); audited with the reason."""
    lease = await repo.locked(session, HousingLease, lease_id)
    if lease is None:
        raise LeaseNotFound(f"No lease {lease_id}.")
    if lease.status != "active":
        raise LeaseStateConflict(f"The lease already ended on {lease.ended_on}.")
    before = {"status": lease.status, "ends_on": lease.ends_on}
    public = await _end_lease(session, lease, ended_on, reason, utcnow())
    await audit.record(
        session, officer, "housing.lease.end", subject_type="lease", subject_id=lease.id, before=before,
        after={"status": "ended", "ended_on": public.ended_on}, reason=reason,
    )  # fmt: skip
    return public


async def expire_lease(session: AsyncSession, lease_id: str, *, now: datetime | None = None) -> bool:
    """The term ran out (timer at ends_on)."""
    lease = await repo.locked(session, HousingLease, lease_id)
    if lease is None or lease.status != "active":
        return False
    await _end_lease(session, lease, lease.ends_on, "term_ended", now or utcnow())
    return True


async def _end_lease(
    session: AsyncSession, lease: HousingLease, ended_on: date | None, reason: str, now: datetime
) -> LeasePublic:
    catalogue = rules()
    today = catalogue.city_today(now)
    ended_on = ended_on or min(today, lease.ends_on)
    if ended_on < lease.starts_on or ended_on > max(today, lease.ends_on):
        raise InvalidHousingRequest(
            "ended_on", f"must be between the lease's start {lease.starts_on} and today (or its end {lease.ends_on})"
        )
    lease.status, lease.ended_on, lease.end_reason, lease.updated_at = "ended", ended_on, reason, now
    unit = await repo.locked(session, HousingUnit, lease.unit_id)
    if unit is not None:
        unit.status, unit.updated_at = "available", now
    await cancel(session, LEASE_END_TIMER, lease.id)
    outbox.emit(
        session,
        LeaseEnded(
            lease_id=lease.id, talent_id=lease.talent_id, unit_id=lease.unit_id, ended_on=ended_on, reason=reason
        ),
        subject=lease.talent_id,
    )
    await session.flush()
    return lease_public(lease, catalogue)


# --- the talent's view -----------------------------------------------------------------------------


async def my_housing(session: AsyncSession, talent_id: str) -> MyHousing:
    catalogue = rules()
    applications = await repo.applications_of(session, talent_id)
    tiers = {a.id: a.tier for a in applications}
    offers = await repo.offers_of(session, talent_id)
    lease = await repo.active_lease_of(session, talent_id)
    return MyHousing(
        applications=[application_public(a) for a in applications],
        offers=[offer_public(o, u, tiers.get(o.application_id, "E"), catalogue) for o, u in offers],
        lease=lease_public(lease, catalogue) if lease else None,
    )


# --- helpers ---------------------------------------------------------------------------------------


async def _project(session: AsyncSession, project_id: str) -> HousingProject:
    project = await repo.get_project(session, project_id)
    if project is None:
        raise ProjectNotFound(project_id)
    return project


async def _round(session: AsyncSession, round_id: str) -> HousingRound:
    round_ = await repo.get_round(session, round_id)
    if round_ is None:
        raise RoundNotFound(round_id)
    return round_
