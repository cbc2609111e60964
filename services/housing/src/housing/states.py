"""Housing's statuses and every move between them, as data; `transitions` has the one function per kind of
object that reads its table and writes the move with what goes with it (audit entry, timers, event).

    round        (new) ─open─► open ─close─► closed ─draw─► drawn ─complete─► completed
    application  (new) ─submit─► submitted ─rank─► waitlisted ─offer─► offered ─house─► housed
                                                     └─refuse─► ineligible       ├─decline─► declined
                                                                                 └─lapse─► lapsed
    offer        (new) ─make─► open ─accept─► accepted | ─decline─► declined | ─lapse─► lapsed
    lease        (new) ─start─► active ─move_out | expire | terminate─► ended   (renew: stays active)
    unit         (new) ─add─► available ─reserve─► reserved ─lease─► leased ─vacate─► available
                                       ◄─release─┘
                 available ◄─return / withdraw─► withdrawn   (an officer's change, only out of any round)

A move from (new) makes the object: its sources are empty. The draw ranks, refuses and offers a round's
applications in one UPDATE, so a stored application goes from submitted straight to offered, waitlisted or
ineligible. The talent's status is not housing's to move: the read model mirrors applicant's events
(`handlers`). docs/domain.md has the same lifecycle in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

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
from contracts.events import LeaseRenewed, RoundClosed, RoundCompleted
from servicekit.workflow import StateMachine, Transition

# The timers the moves start and stop (kind; the key is the object's id).
ROUND_CLOSE_TIMER = "housing.round_close"
OFFER_LAPSE_TIMER = "housing.offer_lapse"
LEASE_END_TIMER = "housing.lease_end"


# --- statuses ------------------------------------------------------------------------------------


class RoundStatus(StrEnum):
    """An allocation round (批次): applications while open, a committed seed once closed, the seed revealed
    and offers out once drawn, completed when no offer is open any more."""

    OPEN = "open"
    CLOSED = "closed"
    DRAWN = "drawn"
    COMPLETED = "completed"


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    WAITLISTED = "waitlisted"
    INELIGIBLE = "ineligible"
    OFFERED = "offered"
    HOUSED = "housed"
    DECLINED = "declined"
    LAPSED = "lapsed"


class OfferStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    LAPSED = "lapsed"


class LeaseStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class UnitStatus(StrEnum):
    AVAILABLE = "available"
    RESERVED = "reserved"  # held by a round (`round_id`)
    LEASED = "leased"
    WITHDRAWN = "withdrawn"  # taken off the market by an officer


class UnitMarketStatus(StrEnum):
    """What an officer may set a unit to (only while no round or lease holds it): on the market, or off it."""

    AVAILABLE = UnitStatus.AVAILABLE.value
    WITHDRAWN = UnitStatus.WITHDRAWN.value


class TalentStatus(StrEnum):
    """A talent's status as housing's read model knows it from applicant's events."""

    UNKNOWN = "unknown"  # no event about the talent's status seen yet
    REGISTERED = "registered"
    CERTIFIED = "certified"
    REVOKED = "revoked"
    EXPIRED = "expired"


# A round's seed and ranked results are public from the draw on.
RESULTS_PUBLISHED = frozenset({RoundStatus.DRAWN, RoundStatus.COMPLETED})
# A unit in a round or a lease: an officer cannot change it until the round or lease lets it go.
UNIT_IN_USE = frozenset({UnitStatus.RESERVED, UnitStatus.LEASED})


# --- actions -------------------------------------------------------------------------------------


class RoundAction(StrEnum):
    OPEN = "open"
    CLOSE = "close"
    DRAW = "draw"
    COMPLETE = "complete"


class ApplicationAction(StrEnum):
    SUBMIT = "submit"
    RANK = "rank"  # the draw ranked it (before any offer)
    REFUSE = "refuse"  # no longer eligible when its turn came
    OFFER = "offer"
    HOUSE = "house"  # its offer was accepted
    DECLINE = "decline"
    LAPSE = "lapse"


class OfferAction(StrEnum):
    MAKE = "make"
    ACCEPT = "accept"
    DECLINE = "decline"
    LAPSE = "lapse"


class LeaseAction(StrEnum):
    START = "start"
    RENEW = "renew"
    MOVE_OUT = "move_out"  # by the talent
    EXPIRE = "expire"  # the term ran out
    TERMINATE = "terminate"  # by an officer, with a reason


class UnitAction(StrEnum):
    ADD = "add"
    RESERVE = "reserve"  # a new round takes it
    RELEASE = "release"  # its round no longer needs it
    LEASE = "lease"
    VACATE = "vacate"  # its lease ended
    WITHDRAW = "withdraw"
    RETURN = "return"


# --- the tables ----------------------------------------------------------------------------------
# Each row: action, the statuses it starts from (NEW: it makes the object), the status it leads to (None:
# the status stays), then what the move writes besides the status.


@dataclass(frozen=True)
class RoundMove(Transition[RoundStatus, RoundAction]):
    verb: str  # for "A round that is … cannot be <verb>."
    stamp: str  # the round's time stamp the move sets
    audit: str | None = None  # the audit action written with the move
    event: type[RoundOpened] | type[RoundClosed] | type[RoundDrawn] | type[RoundCompleted] | None = None
    starts: str | None = None  # the timer the move starts (due at the round's `closes_at`)
    cancels: str | None = None  # the timer the move stops


_R = RoundStatus
ROUND: StateMachine[RoundMove] = StateMachine(
    "round",
    [
        RoundMove(
            RoundAction.OPEN, frozenset(), _R.OPEN, "opened", "created_at",
            audit="housing.round.open", event=RoundOpened, starts=ROUND_CLOSE_TIMER,
        ),
        RoundMove(
            RoundAction.CLOSE, frozenset({_R.OPEN}), _R.CLOSED, "closed", "closed_at",
            audit="housing.round.close", event=RoundClosed, cancels=ROUND_CLOSE_TIMER,
        ),
        RoundMove(
            RoundAction.DRAW, frozenset({_R.CLOSED}), _R.DRAWN, "drawn", "drawn_at",
            audit="housing.round.draw", event=RoundDrawn,
        ),
        # When its last open offer is answered or lapses: nobody's decision, not audited, but announced.
        RoundMove(
            RoundAction.COMPLETE, frozenset({_R.DRAWN}), _R.COMPLETED, "completed", "completed_at",
            event=RoundCompleted,
        ),
    ],
)  # fmt: skip


@dataclass(frozen=True)
class ApplicationMove(Transition[ApplicationStatus, ApplicationAction]):
    verb: str
    records_reason: bool = False  # the move sets `status_reason` (to the reason given, or clears it)


_A, _AA = ApplicationStatus, ApplicationAction
APPLICATION: StateMachine[ApplicationMove] = StateMachine(
    "application",
    [
        ApplicationMove(_AA.SUBMIT, frozenset(), _A.SUBMITTED, "submitted"),
        ApplicationMove(_AA.RANK, frozenset({_A.SUBMITTED}), _A.WAITLISTED, "ranked", records_reason=True),
        ApplicationMove(_AA.REFUSE, frozenset({_A.WAITLISTED}), _A.INELIGIBLE, "refused", records_reason=True),
        ApplicationMove(_AA.OFFER, frozenset({_A.WAITLISTED}), _A.OFFERED, "offered a unit"),
        ApplicationMove(_AA.HOUSE, frozenset({_A.OFFERED}), _A.HOUSED, "housed"),
        ApplicationMove(_AA.DECLINE, frozenset({_A.OFFERED}), _A.DECLINED, "declined"),
        ApplicationMove(_AA.LAPSE, frozenset({_A.OFFERED}), _A.LAPSED, "lapsed"),
    ],
)


@dataclass(frozen=True)
class OfferMove(Transition[OfferStatus, OfferAction]):
    verb: str
    event: type[OfferMade] | type[OfferAccepted] | type[OfferDeclined] | type[OfferLapsed]
    stamp: str = "decided_at"  # the offer's time stamp the move sets
    starts: str | None = None  # the timer the move starts (due at the offer's `expires_at`)
    cancels: str | None = None


_O, _OA, _LAPSE = OfferStatus, OfferAction, OFFER_LAPSE_TIMER
_OPEN = frozenset({_O.OPEN})
OFFER: StateMachine[OfferMove] = StateMachine(
    "offer",
    [
        OfferMove(_OA.MAKE, frozenset(), _O.OPEN, "made", OfferMade, "made_at", starts=_LAPSE),
        OfferMove(_OA.ACCEPT, _OPEN, _O.ACCEPTED, "accepted", OfferAccepted, cancels=_LAPSE),
        OfferMove(_OA.DECLINE, _OPEN, _O.DECLINED, "declined", OfferDeclined, cancels=_LAPSE),
        # The lapse timer is what fires this move: nothing left to stop.
        OfferMove(_OA.LAPSE, _OPEN, _O.LAPSED, "lapsed", OfferLapsed),
    ],
)


@dataclass(frozen=True)
class LeaseMove(Transition[LeaseStatus, LeaseAction]):
    verb: str
    event: type[LeaseStarted] | type[LeaseRenewed] | type[LeaseEnded]
    end_reason: str | None = None  # recorded when the move ends the lease; None: the officer's reason
    audit: str | None = None
    starts: str | None = None  # the timer the move starts or moves (due at the city's midnight of `ends_on`)
    cancels: str | None = None


_L, _LA = LeaseStatus, LeaseAction
_ACTIVE = frozenset({_L.ACTIVE})
LEASE: StateMachine[LeaseMove] = StateMachine(
    "lease",
    [
        LeaseMove(_LA.START, frozenset(), _L.ACTIVE, "started", LeaseStarted, starts=LEASE_END_TIMER),
        LeaseMove(_LA.RENEW, _ACTIVE, None, "renewed", LeaseRenewed, starts=LEASE_END_TIMER),
        LeaseMove(_LA.MOVE_OUT, _ACTIVE, _L.ENDED, "ended", LeaseEnded, "moved_out", cancels=LEASE_END_TIMER),
        LeaseMove(_LA.EXPIRE, _ACTIVE, _L.ENDED, "ended", LeaseEnded, "term_ended", cancels=LEASE_END_TIMER),
        LeaseMove(
            _LA.TERMINATE, _ACTIVE, _L.ENDED, "ended", LeaseEnded, audit="housing.lease.end", cancels=LEASE_END_TIMER
        ),
    ],
)


@dataclass(frozen=True)
class UnitMove(Transition[UnitStatus, UnitAction]):
    verb: str
    # True: the round given holds the unit now; False: no round holds it any more; None: unchanged.
    round_hold: bool | None = None


_U = UnitStatus
_OFF_MARKET_OR_NOT = frozenset({_U.AVAILABLE, _U.WITHDRAWN})
UNIT: StateMachine[UnitMove] = StateMachine(
    "unit",
    [
        UnitMove(UnitAction.ADD, frozenset(), _U.AVAILABLE, "added"),
        UnitMove(UnitAction.RESERVE, frozenset({_U.AVAILABLE}), _U.RESERVED, "reserved", round_hold=True),
        UnitMove(UnitAction.RELEASE, frozenset({_U.RESERVED}), _U.AVAILABLE, "released", round_hold=False),
        UnitMove(UnitAction.LEASE, frozenset({_U.RESERVED}), _U.LEASED, "leased", round_hold=False),
        UnitMove(UnitAction.VACATE, frozenset({_U.LEASED}), _U.AVAILABLE, "vacated"),
        UnitMove(UnitAction.WITHDRAW, _OFF_MARKET_OR_NOT, _U.WITHDRAWN, "withdrawn"),
        UnitMove(UnitAction.RETURN, _OFF_MARKET_OR_NOT, _U.AVAILABLE, "returned to the market"),
    ],
)
# The status an officer asks for on a unit (PATCH), as the move that leads there.
MARKET_ACTIONS = {UnitMarketStatus.AVAILABLE: UnitAction.RETURN, UnitMarketStatus.WITHDRAWN: UnitAction.WITHDRAW}
