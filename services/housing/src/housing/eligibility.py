"""Who may apply for a talent apartment (docs/domain.md), as a table of named checks.

Each check looks at the talent's facts and returns the reason it refuses, or None. Every refusal is
reported, not just the first, so the talent sees everything to fix at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple, Protocol

from servicekit.messages import Message

from housing.states import TalentStatus


class TalentRecord(Protocol):
    """What the checks read of the talent's read-model row: a `HousingTalent`, or a `TalentRow` read in bulk."""

    @property
    def status(self) -> TalentStatus: ...
    @property
    def certified_until(self) -> date | None: ...
    @property
    def works_in_city(self) -> bool | None: ...
    @property
    def owns_home_in_city(self) -> bool | None: ...
    @property
    def voucher_used(self) -> bool: ...
    @property
    def barred_until(self) -> datetime | None: ...


class TalentRow(NamedTuple):
    """The columns of `HousingTalent` the checks read, as a tuple (the draw reads thousands at once)."""

    status: TalentStatus
    certified_until: date | None
    works_in_city: bool | None
    owns_home_in_city: bool | None
    voucher_used: bool
    barred_until: datetime | None


@dataclass(frozen=True)
class TalentFacts:
    """What the checks read: the read model's row (None when no event about the talent arrived yet)."""

    talent: TalentRecord | None
    holds_lease: bool
    today: date
    now: datetime


# A check gives the reason it refuses as a message (housing.reason.*, words in data/messages.json), or None.
Check = Callable[[TalentFacts], Message | None]


def _certified(f: TalentFacts) -> Message | None:
    status = f.talent.status if f.talent else TalentStatus.UNKNOWN
    if status == TalentStatus.CERTIFIED:
        return None
    if status == TalentStatus.REVOKED:
        return Message("housing.reason.revoked")
    if status == TalentStatus.EXPIRED:
        return Message("housing.reason.expired")
    return Message("housing.reason.not_certified")


def _still_valid(f: TalentFacts) -> Message | None:
    if f.talent is None or f.talent.status != TalentStatus.CERTIFIED or f.talent.certified_until is None:
        return None
    if f.talent.certified_until < f.today:
        return Message("housing.reason.certification_expired", {"until": f.talent.certified_until.isoformat()})
    return None


def _works_in_city(f: TalentFacts) -> Message | None:
    if f.talent is None or f.talent.works_in_city is None:
        return Message("housing.reason.profile_not_arrived")
    return None if f.talent.works_in_city else Message("housing.reason.not_working_in_city")


def _owns_no_home(f: TalentFacts) -> Message | None:
    if f.talent is not None and f.talent.owns_home_in_city:
        return Message("housing.reason.owns_home_in_city")
    return None


def _no_lease(f: TalentFacts) -> Message | None:
    return Message("housing.reason.holds_lease") if f.holds_lease else None


def _no_voucher(f: TalentFacts) -> Message | None:
    if f.talent is not None and f.talent.voucher_used:
        return Message("housing.reason.voucher_used")
    return None


def _not_barred(f: TalentFacts) -> Message | None:
    if f.talent is not None and f.talent.barred_until is not None and f.talent.barred_until > f.now:
        until = f.talent.barred_until.date().isoformat()
        return Message("housing.reason.barred_after_declines", {"until": until})
    return None


CHECKS: tuple[tuple[str, Check], ...] = (
    ("not_certified", _certified),
    ("certification_expired", _still_valid),
    ("not_working_in_city", _works_in_city),
    ("owns_home_in_city", _owns_no_home),
    ("holds_lease", _no_lease),
    ("voucher_used", _no_voucher),
    ("barred_after_declines", _not_barred),
)


def refusals(facts: TalentFacts) -> list[tuple[str, Message]]:
    """Every (code, message) that keeps this talent out; empty when eligible."""
    out = []
    for code, check in CHECKS:
        message = check(facts)
        if message is not None:
            out.append((code, message))
    return out
