"""Allocation rounds: opening one over available units, applications with eligibility, closing it with a
committed seed, and completing it once its offers are all answered. The draw itself is in `drawing`.

Every function works inside the caller's transaction: it flushes, never commits. Officer actions are
written to the hash-chained audit log in the same transaction as their effect.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from datetime import datetime

from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.pagination import Page, PageParams, cursor_key, cursor_time, keyset_page
from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from housing import draw
from housing import repository as repo
from housing.eligibility import TalentFacts, refusals
from housing.exceptions import (
    AlreadyApplied,
    InvalidHousingRequest,
    NotEligible,
    RoundNotFound,
    RoundNotOpen,
    RoundStateConflict,
    UnitsUnavailable,
)
from housing.models import HousingApplication, HousingRound, HousingRoundUnit, HousingTalent, HousingUnit
from housing.rules import HOUSING_RULES, RULES, HousingRules
from housing.schemas import ApplicationCase, ApplicationCreate, ApplicationPublic, RoundCreate, RoundPublic
from housing.states import (
    ROUND,
    ApplicationAction,
    RoundAction,
    RoundStatus,
    TalentStatus,
    UnitAction,
    UnitStatus,
)
from housing.transitions import Actor, transition_application, transition_round, transition_unit
from housing.views import application_case, application_public, round_public

# Who closes a round when its `closes_at` comes (the audit log's actor).
SYSTEM_ACTOR = "housing-scheduler"


async def create_round(
    session: AsyncSession, officer: Principal, body: RoundCreate, *, now: datetime | None = None
) -> RoundPublic:
    """Open a round over available units; each unit can be in one unfinished round only."""
    now = now or utcnow()
    unit_ids = list(dict.fromkeys(body.unit_ids))
    if len(unit_ids) != len(body.unit_ids):
        raise InvalidHousingRequest("unit_ids", "housing.invalid.unit_listed_twice")
    if body.closes_at <= now:
        raise InvalidHousingRequest("closes_at", "housing.invalid.closes_in_past")
    quotas = {tier: count for tier, count in (body.tier_quotas or {}).items() if count > 0}
    if sum(quotas.values()) > len(unit_ids):
        raise InvalidHousingRequest("tier_quotas", "housing.invalid.quotas_above_units", {"units": len(unit_ids)})
    units = await repo.locked_units(session, unit_ids)
    missing = sorted(set(unit_ids) - {u.id for u in units})
    if missing:
        raise InvalidHousingRequest("unit_ids", "housing.invalid.no_such_units", {"unit_ids": ", ".join(missing[:20])})
    busy = [
        f"unit {u.number} ({u.id}) is {u.status}" + (f" in round {u.round_id}" if u.round_id else "")
        for u in units
        if u.status != UnitStatus.AVAILABLE
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
        transition_unit(unit, UnitAction.RESERVE, now, round_id=round_.id)
    session.add_all([HousingRoundUnit(round_id=round_.id, unit_id=u.id) for u in units])
    # The round is whole before it opens: the opening is audited with what this returns.
    public = await round_public(session, round_)
    await transition_round(
        session, round_, RoundAction.OPEN, now, actor=officer,
        facts={"name": round_.name, "closes_at": round_.closes_at, "unit_count": len(units)},
        after=public.model_dump(exclude={"unit_ids"}) | {"unit_ids": unit_ids},
    )  # fmt: skip
    return public


async def get_round(session: AsyncSession, round_id: str) -> RoundPublic:
    return await round_public(session, await round_or_404(session, round_id))


async def list_rounds(session: AsyncSession, page: PageParams, *, status: RoundStatus | None) -> Page[RoundPublic]:
    """Rounds, newest first (unit ids only on the round itself)."""
    after = page.position(cursor_time, cursor_key)
    found = await repo.list_rounds(session, status=status, after=after, limit=page.limit + 1)
    shown = keyset_page(found, page.limit, lambda r: [r.created_at.isoformat(), r.id])
    items = [await round_public(session, r, with_units=False) for r in shown.items]
    return Page(items=items, next_cursor=shown.next_cursor)


async def round_applications(session: AsyncSession, round_id: str, page: PageParams) -> Page[ApplicationCase]:
    """A round's applications in the order they came, each with the applicant's current facts (housing officer)."""
    round_ = await round_or_404(session, round_id)
    after = page.position(cursor_time, cursor_key)
    found = await repo.applications_page(session, round_.id, after=after, limit=page.limit + 1)
    shown = keyset_page(found, page.limit, lambda row: [row[0].created_at.isoformat(), row[0].id])
    return Page(items=[application_case(a, t) for a, t in shown.items], next_cursor=shown.next_cursor)


async def apply(
    session: AsyncSession, talent_id: str, round_id: str, body: ApplicationCreate, *, now: datetime | None = None
) -> ApplicationPublic:
    """A talent applies to an open round; every reason they may not is reported."""
    now = now or utcnow()
    catalogue = (await RULES.current(session, HOUSING_RULES)).value
    round_ = await round_or_404(session, round_id)
    if round_.status != RoundStatus.OPEN or now >= round_.closes_at:
        raise RoundNotOpen(RoundStatus.CLOSED if round_.status == RoundStatus.OPEN else round_.status, round_.closes_at)
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
    transition_application(application, ApplicationAction.SUBMIT)
    session.add(application)
    await session.flush()
    return application_public(application)


def _check_preferences(body: ApplicationCreate, units: Sequence[HousingUnit], catalogue: HousingRules) -> None:
    in_round = {u.project_id for u in units}
    unknown = [p for p in body.preferred_project_ids if p not in in_round]
    if unknown:
        raise InvalidHousingRequest(
            "preferred_project_ids", "housing.invalid.projects_not_in_round", {"project_ids": ", ".join(unknown)}
        )
    wanted = set(body.preferred_project_ids) or in_round
    if not any(u.project_id in wanted and catalogue.fits(u.unit_type, body.household_size) for u in units):
        raise InvalidHousingRequest(
            "household_size", "housing.invalid.household_does_not_fit", {"household_size": body.household_size}
        )


async def close_round(
    session: AsyncSession, actor: Actor, round_id: str, *, now: datetime | None = None
) -> HousingRound:
    """Stop applications and commit to a fresh random seed (only its SHA-256 is published now).

    Called by an officer and by the timer at `closes_at`; returns the row (the router shows it)."""
    now = now or utcnow()
    round_ = await repo.locked(session, HousingRound, round_id)
    if round_ is None:
        raise RoundNotFound(round_id)
    if not ROUND.can(round_.status, RoundAction.CLOSE):
        raise RoundStateConflict(round_.status, key="housing.error.round_already")
    seed = secrets.token_bytes(draw.SEED_BYTES)
    round_.seed_hex = seed.hex()
    round_.seed_commitment = draw.seed_commitment(seed)
    # The ranking uses tier and points as they stand at closing time (published with the results).
    await _refresh_ranking_facts(session, round_.id)
    round_.application_count = await repo.count_applications(session, round_.id)
    published = {"seed_commitment": round_.seed_commitment, "application_count": round_.application_count}
    await transition_round(session, round_, RoundAction.CLOSE, now, actor=actor, facts=published, after=published)
    return round_


async def _refresh_ranking_facts(session: AsyncSession, round_id: str) -> None:
    current = select(HousingTalent).where(
        col(HousingTalent.talent_id) == col(HousingApplication.talent_id),
        HousingTalent.status == TalentStatus.CERTIFIED,
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


async def settle(session: AsyncSession, round_: HousingRound, now: datetime) -> None:
    """A drawn round with no open offer left is completed; its unallocated units return to the market."""
    if not ROUND.can(round_.status, RoundAction.COMPLETE) or await repo.open_offer_count(session, round_.id):
        return
    for unit in await repo.reserved_units_of_round(session, round_.id):
        transition_unit(unit, UnitAction.RELEASE, now)
    await transition_round(session, round_, RoundAction.COMPLETE, now)


async def settle_round_of(session: AsyncSession, round_id: str, now: datetime) -> None:
    """`settle` by the round's id (after an offer of it was answered or lapsed)."""
    round_ = await repo.get_round(session, round_id)
    if round_ is not None:
        await session.flush()
        await settle(session, round_, now)


async def round_or_404(session: AsyncSession, round_id: str) -> HousingRound:
    round_ = await repo.get_round(session, round_id)
    if round_ is None:
        raise RoundNotFound(round_id)
    return round_
