"""Rules as data, one regime for every service: versioned rule documents in the service's own database.

A `RuleSet` is one named document (a housing catalogue, the points formula...) with the function that
parses and checks it. The package ships version 1 as JSON (the seed a migration loads); an administrator
changes a rule set through `PUT /api/v1/admin/rules/<service>/<name>`, which validates the new document like
any input (422 with the field at fault), stores it as the next version with who and why, and audits it.
Versions are never changed or removed, so any decision can be explained by the version it used.

Reading is synchronous and cheap: `RuleBook.get(rule_set)` answers from the process's snapshot. The
snapshot is loaded at start-up, replaced at once by a change made in this process, and re-checked against
the database (one small query) when a read finds it older than `max_age` — in the background, so a read
never waits; other replicas see a change within about `max_age` of their next read. An idle process
does nothing at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import JSON, Column, event, func
from sqlmodel import Field as SQLField
from sqlmodel import SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from servicekit import audit
from servicekit.auth import Principal, require_roles
from servicekit.db import Database, SessionDep, UTCDateTime, utcnow
from servicekit.problems import Conflict, NotFound, Unprocessable

logger = logging.getLogger("servicekit.rulebook")

T = TypeVar("T")


class RuleVersion(SQLModel, table=True):
    """One version of one rule set; the newest version of a name is the one in force."""

    __tablename__ = "rule_version"

    name: str = SQLField(primary_key=True, max_length=60)
    version: int = SQLField(primary_key=True)
    document: dict[str, Any] = SQLField(sa_column=Column(JSON, nullable=False))
    created_at: datetime = SQLField(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = SQLField(default="seed", max_length=64)
    reason: str = SQLField(default="", max_length=2000)


@dataclass(frozen=True)
class Versioned(Generic[T]):
    """A rule set's parsed value with the version it came from (recorded with the decisions it makes)."""

    version: int
    value: T
    document: Mapping[str, Any]


class InvalidRules(Unprocessable):
    key = "problem.rules_invalid"

    def __init__(self, name: str, errors: list[dict[str, str]]) -> None:
        super().__init__(params={"name": name}, errors=errors)


class RuleSet(Generic[T]):
    """One named rule document: its seed in the package and the function that parses and checks it.

    `parse` raises `ValueError` (pydantic's `ValidationError` is one) for a document it refuses.
    """

    def __init__(self, name: str, parse: Callable[[Mapping[str, Any]], T], *, package: str, seed_file: str) -> None:
        self.name = name
        self.parse = parse
        self.package = package
        self.seed_file = seed_file

    def seed(self) -> dict[str, Any]:
        text = resources.files(self.package).joinpath(f"data/{self.seed_file}").read_text(encoding="utf-8")
        document: dict[str, Any] = json.loads(text)
        return document

    def check(self, document: Mapping[str, Any]) -> T:
        """The parsed document, or a 422 naming what is wrong with it."""
        try:
            return self.parse(document)
        except ValidationError as exc:
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]) or "document", "message": e["msg"]} for e in exc.errors()
            ]
            raise InvalidRules(self.name, errors) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidRules(self.name, [{"field": "document", "message": str(exc) or type(exc).__name__}]) from exc


class RuleDocumentPublic(BaseModel):
    name: str
    version: int
    document: dict[str, Any]
    created_at: datetime
    created_by: str
    reason: str


class RuleSetsPublic(BaseModel):
    items: list[RuleDocumentPublic]


class RuleDocumentUpdate(BaseModel):
    """A new version of a rule set: the whole document, and why it changes (kept with the version)."""

    document: dict[str, Any]
    reason: str = Field(min_length=3, max_length=2000)


class RuleSetNotFound(NotFound):
    key = "problem.rule_set_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(params={"name": name})


# At module level: with `from __future__ import annotations`, FastAPI resolves an endpoint's annotations in
# the module's globals, so aliases local to `router()` would not be seen (no role check, no path check).
Admin = Annotated[Principal, Depends(require_roles("admin"))]
Auditor = Annotated[Principal, Depends(require_roles("admin", "auditor"))]
RuleName = Annotated[str, Path(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$")]


class RuleBook:
    """The rule sets of one service, with the process's snapshot of each one's version in force."""

    def __init__(self, service: str, *rule_sets: RuleSet[Any], max_age_s: float = 1.0) -> None:
        self.service = service
        self.rule_sets: dict[str, RuleSet[Any]] = {r.name: r for r in rule_sets}
        self.max_age_s = max_age_s
        self._snapshot: dict[str, Versioned[Any]] = {}
        self._checked_at = 0.0
        self._database: Database | None = None
        self._refreshing: asyncio.Task[None] | None = None
        # Bumped by every change this process commits: a re-check that read the database before the commit
        # must not put the older version back.
        self._generation = 0

    # --- reading ---------------------------------------------------------------------------------

    def get(self, rule_set: RuleSet[T]) -> Versioned[T]:
        """The version in force as this process knows it (the seed until the database has been read)."""
        current = self._snapshot.get(rule_set.name)
        if current is None:
            seed = rule_set.seed()
            current = Versioned(1, rule_set.parse(seed), seed)
            self._snapshot[rule_set.name] = current
        self._maybe_refresh()
        return current

    async def current(self, session: AsyncSession, rule_set: RuleSet[T]) -> Versioned[T]:
        """The version in force, re-checked in the caller's transaction when the snapshot is older than
        `max_age`: for decisions that must not use rules even a second stale (a process idle for hours)."""
        if time.monotonic() - self._checked_at >= self.max_age_s:
            await self.refresh(session)
        return self.get(rule_set)

    def bind(self, database: Database) -> None:
        """Let reads re-check the snapshot against this database."""
        self._database = database

    async def load(self, database: Database) -> None:
        """Read every rule set's version in force now (at start-up, before the first request)."""
        self.bind(database)
        self._snapshot.clear()  # nothing of another database (a previous app in this process) carries over
        async with database.transaction() as session:
            await self.refresh(session)

    async def refresh(self, session: AsyncSession) -> None:
        """One query for the newest version of every rule set; parse the ones that changed."""
        generation = self._generation
        query = select(RuleVersion.name, func.max(RuleVersion.version)).group_by(RuleVersion.name)
        newest = dict((await session.exec(query)).all())
        loaded: dict[str, Versioned[Any]] = {}
        for name, version in newest.items():
            if name in self.rule_sets and (name not in self._snapshot or self._snapshot[name].version != version):
                row = await session.get(RuleVersion, (name, version))
                if row is not None:
                    loaded[name] = Versioned(version, self.rule_sets[name].parse(row.document), row.document)
        if generation == self._generation:  # no change committed here meanwhile: what was read is current
            self._snapshot.update(loaded)
        self._checked_at = time.monotonic()

    def _maybe_refresh(self) -> None:
        if self._database is None or time.monotonic() - self._checked_at < self.max_age_s:
            return
        if self._refreshing is not None and not self._refreshing.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._checked_at = time.monotonic()  # one check in flight at a time, and at most one per max_age
        self._refreshing = loop.create_task(self._refresh_in_background(self._database))

    async def close(self) -> None:
        """Wait for a re-check in flight (before the database it reads is closed)."""
        if self._refreshing is not None:
            await asyncio.gather(self._refreshing, return_exceptions=True)
            self._refreshing = None

    async def _refresh_in_background(self, database: Database) -> None:
        try:
            async with database.read() as conn, AsyncSession(bind=conn) as session:
                await self.refresh(session)
        except Exception:  # a failed check keeps the snapshot; the next read tries again
            logger.exception("could not re-check the rule sets")

    # --- changing --------------------------------------------------------------------------------

    async def replace(
        self, session: AsyncSession, principal: Principal, name: str, document: Mapping[str, Any], reason: str
    ) -> RuleVersion:
        """Store a checked document as the rule set's next version, audited; in force in this process as soon as
        the transaction commits (never before: a rolled-back change must not be used)."""
        rule_set = self._rule_set(name)
        value = rule_set.check(document)
        newest = (await session.exec(select(func.max(RuleVersion.version)).where(RuleVersion.name == name))).one()
        before = await session.get(RuleVersion, (name, newest)) if newest else None
        version = (newest or 1) + 1  # version 1 is the seed, stored by the migration
        row = RuleVersion(name=name, version=version, document=dict(document), created_by=principal.sub, reason=reason)
        session.add(row)
        try:
            await session.flush()
        except Exception as exc:  # a concurrent change took this version number first
            raise Conflict(
                f"The rule set {name} was changed meanwhile; read it again and retry.",
                key="problem.rules_changed_meanwhile",
                params={"name": name},
            ) from exc
        await audit.record(
            session,
            principal,
            "rules.changed",
            subject_type="rule_set",
            subject_id=name,
            before={"version": before.version, "document": before.document} if before else None,
            after={"version": version, "document": dict(document)},
            reason=reason,
        )
        committed = Versioned(version, value, dict(document))

        def in_force(_: Any) -> None:
            self._generation += 1
            self._snapshot[name] = committed

        event.listen(session.sync_session, "after_commit", in_force, once=True)
        return row

    def _rule_set(self, name: str) -> RuleSet[Any]:
        rule_set = self.rule_sets.get(name)
        if rule_set is None:
            raise RuleSetNotFound(name)
        return rule_set

    # --- migrations and the admin API -------------------------------------------------------------

    def seed_rows(self, created_at: datetime, only: Collection[str] | None = None) -> list[dict[str, Any]]:
        """Version 1 of every rule set (of those named in `only`), for a migration's bulk insert."""
        return [
            {
                "name": r.name,
                "version": 1,
                "document": r.seed(),
                "created_at": created_at,
                "created_by": "seed",
                "reason": f"default ({r.package}/data/{r.seed_file})",
            }
            for r in self.rule_sets.values()
            if only is None or r.name in only
        ]

    def router(self) -> APIRouter:
        """`/api/v1/admin/rules/<service>`: read every rule set, its versions, and store a new version."""
        router = APIRouter(prefix=f"/api/v1/admin/rules/{self.service}", tags=["rules"])

        async def versions_of(session: AsyncSession, name: str) -> list[RuleVersion]:
            self._rule_set(name)
            query = select(RuleVersion).where(RuleVersion.name == name).order_by(col(RuleVersion.version))
            return list((await session.exec(query)).all())

        @router.get("", response_model=RuleSetsPublic)
        async def list_rule_sets(session: SessionDep, _: Auditor) -> RuleSetsPublic:
            """Every rule set of the service, at the version in force."""
            items = []
            for name in sorted(self.rule_sets):
                rows = await versions_of(session, name)
                if rows:
                    items.append(_public(rows[-1]))
            return RuleSetsPublic(items=items)

        @router.get("/{name}", response_model=RuleDocumentPublic)
        async def get_rule_set(name: RuleName, session: SessionDep, _: Auditor) -> RuleDocumentPublic:
            """One rule set at the version in force."""
            rows = await versions_of(session, name)
            if not rows:
                raise RuleSetNotFound(name)
            return _public(rows[-1])

        @router.get("/{name}/versions", response_model=RuleSetsPublic)
        async def rule_set_versions(name: RuleName, session: SessionDep, _: Auditor) -> RuleSetsPublic:
            """Every version of a rule set, oldest first, with who changed it and why."""
            return RuleSetsPublic(items=[_public(r) for r in await versions_of(session, name)])

        @router.put("/{name}", response_model=RuleDocumentPublic)
        async def replace_rule_set(
            name: RuleName, body: RuleDocumentUpdate, session: SessionDep, principal: Admin
        ) -> RuleDocumentPublic:
            """Store a new version of a rule set (checked like any input; audited; in force within seconds)."""
            return _public(await self.replace(session, principal, name, body.document, body.reason))

        return router


def _public(row: RuleVersion) -> RuleDocumentPublic:
    return RuleDocumentPublic(
        name=row.name,
        version=row.version,
        document=row.document,
        created_at=row.created_at,
        created_by=row.created_by,
        reason=row.reason,
    )
