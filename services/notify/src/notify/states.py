"""Notify's statuses and every move between them, as data; `transitions` has the one function per kind of
object that reads its table and writes the move with what goes with it (time stamps, attempt counts,
timers, audit entry, metric).

    message       (new) ─schedule─► scheduled ─attempt─► sending ─succeed─► sent
                                   ▲                   ├─fail─► failed      (after the last attempt)
                                   └──────retry────────┤
                  scheduled | sending ─skip─► skipped  └─attempt (its spare timer fired: stays sending)
    subscription  (new) ─create─► active ─delete─► deleted   (its pending deliveries are cancelled)
    delivery      (new) ─queue─► pending ─deliver─► delivered
                                 pending ─dead_letter─► dead  (after the last attempt)
                                 pending ─cancel─► cancelled  (its subscription is gone)
                                 pending ─retry (an attempt failed, another follows: stays pending)
                  delivered | dead | cancelled ─redeliver─► pending

A move from (new) makes the object: its sources are empty and the caller builds the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from servicekit.workflow import StateMachine, Transition

# The timer of a message's sending (kind; the key is "<message id>:<attempt>").
SEND_TIMER = "notify.send"


# --- statuses ------------------------------------------------------------------------------------


class MessageStatus(StrEnum):
    """An SMS or e-mail for one inbox entry."""

    SCHEDULED = "scheduled"
    SENDING = "sending"  # an attempt claimed, its outcome not yet recorded
    SENT = "sent"
    FAILED = "failed"  # after the last attempt
    SKIPPED = "skipped"  # no address on file any more


class SubscriptionStatus(StrEnum):
    """A partner's webhook subscription."""

    ACTIVE = "active"
    DELETED = "deleted"


class DeliveryStatus(StrEnum):
    """One event for one subscription."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    CANCELLED = "cancelled"


# --- actions -------------------------------------------------------------------------------------


class MessageAction(StrEnum):
    SCHEDULE = "schedule"
    SKIP = "skip"
    ATTEMPT = "attempt"  # claim one attempt; the send runs after the commit
    SUCCEED = "succeed"
    FAIL = "fail"  # the last attempt failed
    RETRY = "retry"  # an attempt failed, another follows


class SubscriptionAction(StrEnum):
    CREATE = "create"
    DELETE = "delete"


class DeliveryAction(StrEnum):
    QUEUE = "queue"
    CANCEL = "cancel"  # its subscription is gone
    DELIVER = "deliver"
    DEAD_LETTER = "dead_letter"  # the last attempt failed
    RETRY = "retry"  # an attempt failed, another follows
    REDELIVER = "redeliver"  # the partner asked for it again


# --- the tables ----------------------------------------------------------------------------------
# Each row: action, the statuses it starts from (empty: it makes the object), the status it leads to (None:
# the status stays), then what the move writes besides the status.

# What a message move does with the timer of the next attempt (its "spare"): start it one send lease
# ahead, move it to the retry backoff, or cancel it.
SpareTimer = Literal["lease", "backoff", "cancel"]


@dataclass(frozen=True)
class MessageMove(Transition[MessageStatus, MessageAction]):
    verb: str  # for "A message that is … cannot be <verb>."
    counts_attempt: bool = False  # the move counts an attempt
    records_error: bool = False  # the move keeps the attempt's error
    reason: str | None = None  # the error the move records of itself
    stamps_sent: bool = False  # the move sets `sent_at` (and clears the error)
    spare: SpareTimer | None = None
    first_timer: bool = False  # the move sets the first attempt's timer (due at the message's `due_at`)


_M, _MA = MessageStatus, MessageAction
_SENDABLE = frozenset({_M.SCHEDULED, _M.SENDING})  # `sending` again: the spare timer of a lost attempt fired
_SENDING = frozenset({_M.SENDING})
MESSAGE: StateMachine[MessageMove] = StateMachine(
    "message",
    [
        MessageMove(_MA.SCHEDULE, frozenset(), _M.SCHEDULED, "scheduled", first_timer=True),
        MessageMove(_MA.SKIP, _SENDABLE, _M.SKIPPED, "skipped", reason="no address on file any more"),
        MessageMove(_MA.ATTEMPT, _SENDABLE, _M.SENDING, "attempted", counts_attempt=True, spare="lease"),
        MessageMove(_MA.SUCCEED, _SENDING, _M.SENT, "sent", stamps_sent=True, spare="cancel"),
        MessageMove(_MA.FAIL, _SENDING, _M.FAILED, "failed", records_error=True, spare="cancel"),
        MessageMove(_MA.RETRY, _SENDING, _M.SCHEDULED, "retried", records_error=True, spare="backoff"),
    ],
)
# A message a send timer may still act on.
SENDABLE = MESSAGE.sources(MessageAction.ATTEMPT)


@dataclass(frozen=True)
class SubscriptionMove(Transition[SubscriptionStatus, SubscriptionAction]):
    verb: str
    audit: str | None = None  # the audit action written with the move
    cancels_deliveries: bool = False  # the deliveries still waiting for the subscription are cancelled


_S, _SA = SubscriptionStatus, SubscriptionAction
SUBSCRIPTION: StateMachine[SubscriptionMove] = StateMachine(
    "subscription",
    [
        SubscriptionMove(_SA.CREATE, frozenset(), _S.ACTIVE, "created"),
        SubscriptionMove(
            _SA.DELETE, frozenset({_S.ACTIVE}), _S.DELETED, "deleted",
            audit="subscription.deleted", cancels_deliveries=True,
        ),
    ],
)  # fmt: skip

# The outcome label of `notify_webhook_attempts_total` a recorded attempt counts under.
AttemptOutcome = Literal["delivered", "dead", "retry"]


@dataclass(frozen=True)
class DeliveryMove(Transition[DeliveryStatus, DeliveryAction]):
    verb: str
    outcome: AttemptOutcome | None = None  # the move records an attempt with this outcome
    stamps_delivered: bool = False  # the move sets `delivered_at`
    restarts: bool = False  # a fresh round of retries: no attempt counted, due now, not delivered


_D, _DA = DeliveryStatus, DeliveryAction
_PENDING = frozenset({_D.PENDING})
DELIVERY: StateMachine[DeliveryMove] = StateMachine(
    "delivery",
    [
        DeliveryMove(_DA.QUEUE, frozenset(), _D.PENDING, "queued"),
        DeliveryMove(_DA.CANCEL, _PENDING, _D.CANCELLED, "cancelled"),
        DeliveryMove(_DA.DELIVER, _PENDING, _D.DELIVERED, "delivered", "delivered", stamps_delivered=True),
        DeliveryMove(_DA.DEAD_LETTER, _PENDING, _D.DEAD, "dead-lettered", "dead"),
        DeliveryMove(_DA.RETRY, _PENDING, None, "retried", "retry"),
        DeliveryMove(_DA.REDELIVER, frozenset({_D.DELIVERED, _D.DEAD, _D.CANCELLED}), _D.PENDING, "redelivered",
                     restarts=True),
    ],
)  # fmt: skip
