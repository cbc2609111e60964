"""The one place a notify status changes: a function per kind of object, each reading its table in `states`.

Each checks that its table allows the move (409 `IllegalTransition` otherwise; callers that refuse or skip
in their own words ask `machine.can` first, so it only fires on a broken invariant), assigns the status and
writes what goes with the move in the caller's transaction: time stamps, attempt counts, timers, its audit
entry, metric and log line. A move from (new) makes the object: the caller builds the row. Nothing here
commits.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter as Metric
from servicekit import audit, timers
from servicekit.auth import Principal
from servicekit.workflow import StateMachine
from sqlmodel.ext.asyncio.session import AsyncSession

from notify import repository as repo
from notify.components import Components
from notify.models import ChannelMessage, Delivery, Subscription
from notify.states import (
    DELIVERY,
    MESSAGE,
    SEND_TIMER,
    SUBSCRIPTION,
    DeliveryAction,
    DeliveryMove,
    MessageAction,
    MessageMove,
    SubscriptionAction,
    SubscriptionMove,
)

# The log lines keep the loggers they were always written to.
service_logger = logging.getLogger("notify.service")
webhook_logger = logging.getLogger("notify.webhooks")

ATTEMPTS = Metric("notify_webhook_attempts_total", "Webhook delivery attempts, by outcome", ["outcome"])


def _check(machine: StateMachine[Any], move: Any, status: Any) -> None:
    """Refuse the move unless the table allows it from `status`; a move that makes the object has no source."""
    if move.sources:
        machine.check(str(status), move.action, move.verb)


# --- SMS and e-mail ------------------------------------------------------------------------------


def _retry_delay(c: Components, attempt: int) -> timedelta:
    base = c.settings.channel_retry_base_s * 2 ** (attempt - 1)
    return timedelta(seconds=base / 2 + secrets.SystemRandom().uniform(0, base / 2))


def _send_lease(c: Components) -> timedelta:
    """How long a claimed attempt may take before the next attempt's timer assumes it was lost."""
    return timedelta(seconds=max(60.0, 4 * c.settings.smtp_timeout_s))


async def transition_message(
    session: AsyncSession, c: Components, message: ChannelMessage, action: MessageAction, *, error: str | None = None
) -> MessageMove:
    """Move the message; `error` is what the failed attempt ended with (fail, retry). The timer of the next
    attempt (its spare, "<id>:<attempts + 1>") follows: started a send lease ahead when an attempt is
    claimed, moved to the backoff on a retry, cancelled once the outcome is final."""
    move = MESSAGE[action]
    _check(MESSAGE, move, message.status)
    if move.counts_attempt:
        message.attempts += 1
    if move.records_error:
        message.last_error = error
    message.status = move.leads_from(message.status)
    if move.reason is not None:
        message.last_error = move.reason
    if move.stamps_sent:
        message.sent_at = c.clock()
        message.last_error = None
    if move.first_timer:
        # A new message's id: no timer can exist for it yet (no look-up; one INSERT per transaction).
        timers.schedule_new(session, SEND_TIMER, f"{message.id}:1", message.due_at, {"message_id": message.id})
    attempt = message.attempts
    spare = f"{message.id}:{attempt + 1}"
    if move.spare == "lease":
        await timers.schedule(session, SEND_TIMER, spare, c.clock() + _send_lease(c), {"message_id": message.id})
    elif move.spare == "cancel":
        await timers.cancel(session, SEND_TIMER, spare)
        if action is MessageAction.FAIL:
            service_logger.warning(
                "%s message %s failed for good after %d attempts", message.channel, message.id, attempt
            )
    elif move.spare == "backoff":
        due = c.clock() + _retry_delay(c, attempt)
        service_logger.info(
            "%s message %s attempt %d failed, retrying at %s", message.channel, message.id, attempt, due
        )
        await timers.schedule(session, SEND_TIMER, spare, due, {"message_id": message.id})
    return move


# --- partner subscriptions -----------------------------------------------------------------------


async def transition_subscription(
    session: AsyncSession, subscription: Subscription, action: SubscriptionAction, now: datetime, *, actor: Principal
) -> SubscriptionMove:
    """Move the subscription; deleting it cancels the deliveries still waiting for it (the log keeps them)."""
    move = SUBSCRIPTION[action]
    _check(SUBSCRIPTION, move, subscription.status)
    subscription.status = move.leads_from(subscription.status)
    subscription.updated_at = now
    if move.cancels_deliveries:
        for delivery in await repo.pending_deliveries_of(session, subscription.id):
            transition_delivery(delivery, DeliveryAction.CANCEL)
    if move.audit is not None:
        await audit.record(session, actor, move.audit, subject_type="subscription", subject_id=subscription.id)
    return move


# --- partner deliveries --------------------------------------------------------------------------


def transition_delivery(
    delivery: Delivery,
    action: DeliveryAction,
    now: datetime | None = None,
    *,
    status_code: int | None = None,
    error: str | None = None,
    backoff: Callable[[int], timedelta] | None = None,
) -> DeliveryMove:
    """Move the delivery. A move that records an attempt counts it and keeps its `status_code` and `error`
    (a retry is due `backoff(attempts)` after `now`), and counts it in `notify_webhook_attempts_total`; a
    redelivery starts a fresh round of retries, due `now`."""
    move = DELIVERY[action]
    _check(DELIVERY, move, delivery.status)
    if move.outcome is not None:
        delivery.attempts += 1
        delivery.last_status_code = status_code
        delivery.last_error = error
    delivery.status = move.leads_from(delivery.status)
    if move.stamps_delivered:
        delivery.delivered_at = now
    if move.restarts:
        assert now is not None, "a redelivery is due now"
        delivery.attempts = 0
        delivery.next_attempt_at = now
        delivery.delivered_at = None
    if action is DeliveryAction.RETRY:
        assert now is not None and backoff is not None, "a retry is due after its backoff"
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    if move.outcome is not None:
        ATTEMPTS.labels(move.outcome).inc()
    if action is DeliveryAction.DEAD_LETTER:
        webhook_logger.warning(
            "webhook delivery %s dead-lettered after %d attempts: %s", delivery.id, delivery.attempts, error
        )
    return move
