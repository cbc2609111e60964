"""The officials' inbox: messages addressed to an official by account id, about the cases they own (首问负责制).

Three kinds, all from what notify sees in events (it never asks the services):
- an escalation of a case the official owns (claim.escalated / certification.escalated name the owner);
- a case nearing its stage deadline: when a case gets an owner (…officer_assigned, with the stage's due
  time), a persisted timer fires a day before the deadline and writes if the case still waits in that stage;
- a daily digest (08:00 city time, a persisted timer that arms the next day's) counting each official's
  cases still waiting for a decision.

The messages are ordinary inbox rows (notify_notification) in the category `casework`, addressed to the
official's account id; talents' and officials' ids never collide (both are the gateway's account ids), so
neither inbox shows the other's rows. Texts are templates `official.<kind>.<locale>.j2` (officials read zh-CN).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from contracts import (
    CertificationDecided,
    CertificationEscalated,
    CertificationOfficerAssigned,
    CertificationStatus,
    CertificationSubmitted,
    ClaimDecided,
    ClaimEscalated,
    ClaimOfficerAssigned,
    ClaimStatus,
    ClaimSubmitted,
    CloudEvent,
    EventData,
)
from servicekit import timers
from servicekit.consumer import Handler
from servicekit.timers import ScheduledTimer, TimerHandler
from sqlalchemy import case as sql_case
from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from notify import repository as repo
from notify import templates
from notify.components import Components
from notify.models import Notification, OfficialCase

CATEGORY = "casework"
DEADLINE_NEAR_TIMER = "notify.official_deadline_near"
DIGEST_TIMER = "notify.official_digest"
# How long before a stage's deadline its owner is told.
DEADLINE_WARNING = timedelta(days=1)
DIGEST_AT = time(8, 0)
CITY_TIME_ZONE = ZoneInfo("Asia/Shanghai")
OFFICIAL_LOCALE = "zh-CN"
# The statuses in which a case waits for an official's decision (the review stages and appeals).
WAITING: Mapping[str, frozenset[str]] = {
    "claim": frozenset(
        {ClaimStatus.ACCEPTED, ClaimStatus.COUNTY_APPROVED, ClaimStatus.CITY_APPROVED, ClaimStatus.APPEALED}
    ),
    "certification": frozenset({CertificationStatus.SUBMITTED, CertificationStatus.COUNTY_APPROVED}),
}
TEMPLATES = ("official.escalated", "official.deadline_near", "official.digest")


# --- the cases notify has seen -------------------------------------------------------------------


async def _case(session: AsyncSession, case_type: str, case_id: str) -> OfficialCase:
    case = await session.get(OfficialCase, (case_type, case_id))
    if case is None:
        case = OfficialCase(case_type=case_type, case_id=case_id)
        session.add(case)
    return case


def _take_status(case: OfficialCase, status: str, at: datetime) -> bool:
    """Take the status if the event is not older than the one that set the current one."""
    if case.status_as_of is not None and at < case.status_as_of:
        return False
    case.status = status
    case.status_as_of = at
    case.waiting = status in WAITING[case.case_type]
    return True


async def case_assigned(
    session: AsyncSession, c: Components, event: CloudEvent, case_type: str, case_id: str, data: Any
) -> None:
    """A case has an owner now: remember it, warn them before the stage's deadline, and arm the digest."""
    case = await _case(session, case_type, case_id)
    case.officer_id = data.officer_id
    if _take_status(case, str(data.status), event.time):
        case.stage_due_at = data.stage_due_at
    case.updated_at = c.clock()
    if case.stage_due_at is not None and case.waiting:
        await timers.schedule(
            session,
            DEADLINE_NEAR_TIMER,
            f"{case_type}:{case_id}",
            case.stage_due_at - DEADLINE_WARNING,
            {"case_type": case_type, "case_id": case_id, "status": case.status, "due_at": case.stage_due_at},
        )
    await arm_digest(session, c.clock())


async def case_status(
    session: AsyncSession, c: Components, event: CloudEvent, case_type: str, case_id: str, status: str
) -> None:
    """A case moved. Only owned cases are kept: a case's events come from one service with the talent as
    subject (one partition, in order), so its assignment always comes before the moves that follow it, and
    the many cases nobody opened (straight-through claims) cost notify nothing."""
    found = await session.get(OfficialCase, (case_type, case_id))
    if found is not None:
        _take_status(found, status, event.time)
        found.updated_at = c.clock()


async def escalated(session: AsyncSession, c: Components, event: CloudEvent, case_type: str, data: Any) -> None:
    """Tell the owner that a case of theirs missed its stage deadline (a case without an owner: nobody yet)."""
    if data.officer_id is None:
        return
    await _message(
        session,
        c,
        recipient=data.officer_id,
        source=event.id,
        template="official.escalated",
        event_type=event.type,
        context={"case_type": case_type, "case_id": _case_id(data), "stage": data.stage, "due_at": data.due_at},
    )


def _case_id(data: Any) -> str:
    return str(getattr(data, "claim_id", None) or getattr(data, "certification_id"))  # noqa: B009


async def _message(
    session: AsyncSession,
    c: Components,
    *,
    recipient: str,
    source: str,
    template: str,
    event_type: str,
    context: dict[str, Any],
) -> None:
    """One inbox row per (source, official), however often the event or timer comes."""
    if await repo.get_by_source(session, source, recipient) is not None:
        return
    rendered = templates.render(template, OFFICIAL_LOCALE, context, time_zone=c.settings.default_time_zone)
    session.add(
        Notification(
            recipient_id=recipient,
            source_event_id=source,
            event_type=event_type,
            category=CATEGORY,
            title=rendered.title[:200],
            body=rendered.body[:4000],
            created_at=c.clock(),
        )
    )


# --- timers --------------------------------------------------------------------------------------


async def deadline_near(session: AsyncSession, c: Components, payload: Mapping[str, Any]) -> None:
    """A day before the stage deadline: tell the owner, if the case still waits in the stage the timer was for."""
    case = await session.get(OfficialCase, (payload["case_type"], payload["case_id"]))
    if case is None or case.officer_id is None or not case.waiting or case.status != payload["status"]:
        return
    due = datetime.fromisoformat(str(payload["due_at"]))
    await _message(
        session,
        c,
        recipient=case.officer_id,
        source=f"deadline_near:{case.case_type}:{case.case_id}:{case.status}:{due.isoformat()}",
        template="official.deadline_near",
        event_type=DEADLINE_NEAR_TIMER,
        context={"case_type": case.case_type, "case_id": case.case_id, "status": case.status, "due_at": due},
    )


def _next_digest(now: datetime) -> tuple[date, datetime]:
    """The next 08:00 in the city after `now`: its day and instant."""
    local = now.astimezone(CITY_TIME_ZONE)
    day = local.date() if local.time() < DIGEST_AT else local.date() + timedelta(days=1)
    return day, datetime.combine(day, DIGEST_AT, tzinfo=CITY_TIME_ZONE)


async def arm_digest(session: AsyncSession, now: datetime) -> None:
    """Make sure the next digest is due (one timer per day; the key is the day, so arming twice is one)."""
    day, due = _next_digest(now)
    key = day.isoformat()
    existing = (
        await session.exec(select(ScheduledTimer).where(ScheduledTimer.kind == DIGEST_TIMER, ScheduledTimer.key == key))
    ).first()
    if existing is None:
        await timers.schedule(session, DIGEST_TIMER, key, due, {"day": key})


async def digest(session: AsyncSession, c: Components, payload: Mapping[str, Any]) -> None:
    """Each official's count of cases waiting for a decision, and how many of them are past due; then arm
    the next day's digest."""
    now = c.clock()
    day = str(payload["day"])
    overdue = func.sum(sql_case((col(OfficialCase.stage_due_at) < now, 1), else_=0))
    rows = (
        await session.exec(
            select(OfficialCase.officer_id, OfficialCase.case_type, func.count(), overdue)
            .where(col(OfficialCase.waiting).is_(True), col(OfficialCase.officer_id).is_not(None))
            .group_by(col(OfficialCase.officer_id), col(OfficialCase.case_type))
        )
    ).all()
    per_officer: dict[str, dict[str, int]] = {}
    for officer_id, case_type, count, late in rows:
        counts = per_officer.setdefault(str(officer_id), {"claim": 0, "certification": 0, "overdue": 0})
        counts[case_type] = int(count)
        counts["overdue"] += int(late or 0)
    for officer_id, counts in per_officer.items():
        await _message(
            session,
            c,
            recipient=officer_id,
            source=f"digest:{day}:{officer_id}",
            template="official.digest",
            event_type=DIGEST_TIMER,
            context={"day": day, **counts},
        )
    await arm_digest(session, now + timedelta(minutes=1))


# --- wiring --------------------------------------------------------------------------------------


def official_handlers(c: Components) -> Mapping[type[EventData], Handler]:
    """The `officials` consumer group: its own ledger, so the talents' inbox never waits for it."""

    async def on_claim_assigned(session: AsyncSession, event: CloudEvent, data: ClaimOfficerAssigned) -> None:
        await case_assigned(session, c, event, "claim", data.claim_id, data)

    async def on_certification_assigned(
        session: AsyncSession, event: CloudEvent, data: CertificationOfficerAssigned
    ) -> None:
        await case_assigned(session, c, event, "certification", data.certification_id, data)

    async def on_claim_status(session: AsyncSession, event: CloudEvent, data: ClaimSubmitted | ClaimDecided) -> None:
        await case_status(session, c, event, "claim", data.claim_id, str(data.status))

    async def on_certification_status(
        session: AsyncSession, event: CloudEvent, data: CertificationSubmitted | CertificationDecided
    ) -> None:
        status = getattr(data, "status", CertificationStatus.SUBMITTED)
        await case_status(session, c, event, "certification", data.certification_id, str(status))

    async def on_claim_escalated(session: AsyncSession, event: CloudEvent, data: ClaimEscalated) -> None:
        await escalated(session, c, event, "claim", data)

    async def on_certification_escalated(
        session: AsyncSession, event: CloudEvent, data: CertificationEscalated
    ) -> None:
        await escalated(session, c, event, "certification", data)

    handlers: dict[type[EventData], Handler] = {
        ClaimOfficerAssigned: on_claim_assigned,
        CertificationOfficerAssigned: on_certification_assigned,
        ClaimSubmitted: on_claim_status,
        ClaimDecided: on_claim_status,
        CertificationSubmitted: on_certification_status,
        CertificationDecided: on_certification_status,
        ClaimEscalated: on_claim_escalated,
        CertificationEscalated: on_certification_escalated,
    }
    return handlers


def official_timers(c: Components) -> dict[str, TimerHandler]:
    async def on_deadline_near(session: AsyncSession, timer: ScheduledTimer) -> None:
        await deadline_near(session, c, timer.data())

    async def on_digest(session: AsyncSession, timer: ScheduledTimer) -> None:
        await digest(session, c, timer.data())

    return {DEADLINE_NEAR_TIMER: on_deadline_near, DIGEST_TIMER: on_digest}
