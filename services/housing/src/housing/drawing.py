"""The draw of a closed round: reveal the seed, rank every application (`draw`, pure and published), offer
the units down the ranked list; and the public results page by page.

Works inside the caller's transaction: it flushes, never commits; the draw is audited with its effect.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from servicekit.auth import Principal
from servicekit.db import utcnow
from servicekit.pagination import PageParams, cursor_int, keyset_page
from sqlalchemy import select as select_columns
from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from housing import draw
from housing import repository as repo
from housing.eligibility import refusals
from housing.exceptions import RoundNotFound, RoundStateConflict
from housing.models import HousingApplication, HousingRound, HousingUnit, new_id
from housing.rounds import round_or_404, settle
from housing.rules import HOUSING_RULES, RULES, HousingRules
from housing.schemas import RoundPublic, RoundResults
from housing.states import (
    RESULTS_PUBLISHED,
    ROUND,
    ApplicationAction,
    ApplicationStatus,
    RoundAction,
    RoundStatus,
    UnitAction,
)
from housing.transitions import application_change, make_offers, transition_round, transition_unit
from housing.views import quotas_of, round_public, round_results


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
    catalogue = (await RULES.current(session, HOUSING_RULES)).value
    round_ = await repo.locked(session, HousingRound, round_id)
    if round_ is None:
        raise RoundNotFound(round_id)
    if not ROUND.can(round_.status, RoundAction.DRAW):
        hint = "close it first" if round_.status == RoundStatus.OPEN else "it was drawn already"
        raise RoundStateConflict(round_.status, key="housing.error.round_not_closed_for_draw", params={"hint": hint})
    assert round_.seed_hex is not None
    applicants = await _load_applicants(session, round_.id)
    ranked = rank_applicants(round_, applicants.values(), catalogue)

    # Every application of a closed round is submitted: one move (and its check) for all of them.
    ranked_change = application_change(ApplicationStatus.SUBMITTED, ApplicationAction.RANK)
    updates: dict[str, dict[str, Any]] = {}
    for row in ranked:
        applicant = applicants[row.pseudonym]
        updates[applicant.id] = {
            "id": applicant.id, "rank": row.rank, "lottery_number": row.lottery_number, "selected": row.selected,
            **ranked_change,
        }  # fmt: skip
    pool = _UnitPool(await repo.reserved_units_of_round(session, round_.id), catalogue)
    offers: list[dict[str, Any]] = []
    expires_at = now + catalogue.offer_validity
    position = 0
    while pool.remaining and position < len(ranked):
        chunk = [applicants[r.pseudonym] for r in ranked[position : position + 1000]]
        position += len(chunk)
        facts = await repo.eligibility_facts(session, [a.talent_id for a in chunk], catalogue.city_today(now), now)
        for applicant in chunk:
            if not pool.remaining:
                break
            refused = refusals(facts[applicant.talent_id])
            values = updates[applicant.id]
            if refused:
                values |= application_change(values["status"], ApplicationAction.REFUSE, refused[0][1].english())
                continue
            unit = pool.take(applicant.preferences, applicant.household_size)
            if unit is None:
                continue
            offer = {
                "id": new_id(), "round_id": round_.id, "unit_id": unit.id, "application_id": applicant.id,
                "talent_id": applicant.talent_id, "made_at": now, "expires_at": expires_at,
            }  # fmt: skip
            offers.append(offer)
            values |= application_change(values["status"], ApplicationAction.OFFER)

    if updates:
        await session.exec(update(HousingApplication), params=list(updates.values()))
    if offers:
        await make_offers(session, offers)
    for unit in pool.leftovers():
        transition_unit(unit, UnitAction.RELEASE, now)

    await transition_round(
        session, round_, RoundAction.DRAW, now, actor=actor,
        facts={"seed": round_.seed_hex, "seed_commitment": round_.seed_commitment or "",
               "application_count": len(ranked)},
        before={"seed_commitment": round_.seed_commitment},
        after={"seed": round_.seed_hex, "applications": len(ranked), "offers": len(offers)},
    )  # fmt: skip
    await settle(session, round_, now)
    return await round_public(session, round_)


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


async def results_page(session: AsyncSession, round_id: str, page: PageParams) -> RoundResults:
    """A page of a drawn round's ranked list, with what anyone needs to recompute it (the seed, units, quotas)."""
    after = page.position(cursor_int)
    round_ = await round_or_404(session, round_id)
    if round_.status not in RESULTS_PUBLISHED:
        raise RoundStateConflict(round_.status, key="housing.error.round_results_not_drawn")
    rows = await repo.ranked_page(session, round_.id, after_rank=after[0] if after else 0, limit=page.limit + 1)
    return round_results(round_, keyset_page(rows, page.limit, lambda a: [a.rank]))
