"""Rows of append-only tables queued per transaction and sent as one multi-row INSERT per table.

On SQLite the ORM inserts a row whose primary key is autoincremented one statement at a time (it needs
each new key back, and SQLite offers no ordering guarantee for a multi-row RETURNING). Outbox events,
audit entries, history lines and new timers are never read back by the transaction that writes them,
so they need no ORM object: `queue_insert` keeps their values, and the session sends them with one
executemany per table:

- before any statement the session executes (after flushing the ORM's pending rows, which queued rows may
  reference), so a query sees them as it would see ORM rows, unless autoflush is off, and
- before the commit (after a flush of the ORM's own pending rows, which queued rows may reference);
  rows queued `at_commit` (tables the transaction never reads, like the outbox) wait for the commit only.

Within a table the rows keep the order they were queued in (autoincrement ids follow it); queued rows
must not reference each other across tables. A rollback drops the queue with the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, event, insert
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlmodel.ext.asyncio.session import AsyncSession

_QUEUE = "servicekit.bulk.queue"
_AT_COMMIT = "servicekit.bulk.at_commit"


def queue_insert(
    session: AsyncSession | Session, table: Table, values: Mapping[str, Any], *, at_commit: bool = False
) -> None:
    """Insert `values` (every column the row needs, by column name) into `table` with the transaction.

    `at_commit=True` holds the row until the commit even when statements run before it: for tables the
    writing transaction never reads (the outbox), so a request's rows of that table go out in one INSERT.
    """
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    # Like Session.add: start the (lazy) transaction now, so its end (commit or rollback) owns the row.
    sync._autobegin_t()
    queue: dict[Table, list[Mapping[str, Any]]] = sync.info.setdefault(_AT_COMMIT if at_commit else _QUEUE, {})
    queue.setdefault(table, []).append(values)


def send_queued(session: Session, *, at_commit: bool = False) -> int:
    """Send the queued rows now (sync; called by the hooks below, or in a greenlet); returns how many.

    With `at_commit`, the rows held until the commit go too.
    """
    sent = _send(session, session.info.pop(_QUEUE, None))
    if at_commit:
        sent += _send(session, session.info.pop(_AT_COMMIT, None))
    return sent


def discard_queued(session: Session) -> None:
    """Drop the rows queued since the last send (sync): a savepoint rolled back takes its queued rows along."""
    session.info.pop(_QUEUE, None)
    session.info.pop(_AT_COMMIT, None)


def _send(session: Session, queue: dict[Table, list[Mapping[str, Any]]] | None) -> int:
    if not queue:
        return 0
    connection = session.connection()
    sent = 0
    for table, rows in queue.items():
        # Rows of one table share their keys (one statement for all); a row with other keys goes alone.
        by_keys: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
        for row in rows:
            by_keys.setdefault(tuple(row), []).append(row)
        if len(by_keys) == 1:
            connection.execute(insert(table), rows)
        else:
            for row in rows:
                connection.execute(insert(table), [row])
        sent += len(rows)
    return sent


def install(session_class: type[Session]) -> None:
    """Attach the hooks that send queued rows to a session class (servicekit.db.Database does this)."""

    @event.listens_for(session_class, "do_orm_execute")
    def _before_statement(state: ORMExecuteState) -> None:
        # Like ORM rows: sent before a statement unless autoflush is off (`with session.no_autoflush`).
        session = state.session
        if session.info.get(_QUEUE) and session.autoflush:
            session.flush()  # ORM rows first: queued rows may reference them
            send_queued(session)

    @event.listens_for(session_class, "before_commit")
    def _before_commit(session: Session) -> None:
        if session.info.get(_QUEUE) or session.info.get(_AT_COMMIT):
            session.flush()  # ORM rows first: queued rows may reference them
            send_queued(session, at_commit=True)

    @event.listens_for(session_class, "after_transaction_end")
    def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            session.info.pop(_QUEUE, None)
            session.info.pop(_AT_COMMIT, None)
