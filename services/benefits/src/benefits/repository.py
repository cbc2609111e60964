"""Queries of the benefits tables."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from servicekit.bulk import queue_insert
from sqlalchemy import Table, case, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits.models import (
    OPEN_STATUSES,
    BenefitPolicy,
    Claim,
    ClaimHistory,
    ClaimObjection,
    PolicyBudget,
    TalentFacts,
    TalentLease,
)

# --- what one transaction has loaded already ---------------------------------------------------

_TX_CACHE = "benefits.tx_cache"


@dataclass
class TxCache:
    """Rows a consumer batch loaded up front (`load_talents`), so its handlers need no query per event.

    Bound to one root transaction: a rollback or the next transaction starts empty. Only what was loaded
    is answered from here; anything else falls through to a query.
    """

    transaction: Any
    # talent id -> its read-model row (None: loaded and absent).
    facts: dict[str, TalentFacts | None] = field(default_factory=dict)
    # talent id -> holds a started, not ended lease.
    active_lease: dict[str, bool] = field(default_factory=dict)
    # talent id -> every claim of the talent (new ones appended as they are filed).
    claims: dict[str, list[Claim]] = field(default_factory=dict)
    # claims filed in this transaction: no timer can exist for them yet.
    new_claims: set[str] = field(default_factory=set)
    # the policy catalogue checked against the database in this transaction (see service.catalogue).
    catalogue: Any = None


def tx_cache(session: AsyncSession) -> TxCache:
    """This transaction's cache (a fresh one when the transaction changed)."""
    transaction = session.sync_session.get_transaction()
    cache: TxCache | None = session.info.get(_TX_CACHE)
    if cache is None or cache.transaction is not transaction or transaction is None:
        cache = TxCache(transaction)
        if transaction is not None:
            session.info[_TX_CACHE] = cache
    return cache


async def load_talents(session: AsyncSession, talent_ids: Iterable[str]) -> None:
    """Load the facts, active leases and claims of many talents with three queries, into the cache."""
    cache = tx_cache(session)
    ids = sorted({t for t in talent_ids if t not in cache.facts})
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(TalentFacts).where(col(TalentFacts.talent_id).in_(chunk))
        found = {f.talent_id: f for f in (await session.exec(query)).all()}
        leased = set(
            (
                await session.exec(
                    select(TalentLease.talent_id).where(
                        col(TalentLease.talent_id).in_(chunk),
                        col(TalentLease.started).is_(True),
                        col(TalentLease.ended).is_(False),
                    )
                )
            ).all()
        )
        claims: dict[str, list[Claim]] = {t: [] for t in chunk}
        for claim in (await session.exec(select(Claim).where(col(Claim.talent_id).in_(chunk)))).all():
            claims[claim.talent_id].append(claim)
        for talent_id in chunk:
            cache.facts[talent_id] = found.get(talent_id)
            cache.active_lease[talent_id] = talent_id in leased
            cache.claims[talent_id] = claims[talent_id]


# --- policies ---------------------------------------------------------------------------------


async def current_policies(
    session: AsyncSession, *, active_only: bool = True, auto_grant_only: bool = False
) -> list[BenefitPolicy]:
    query = select(BenefitPolicy).where(col(BenefitPolicy.current).is_(True))
    if active_only:
        query = query.where(col(BenefitPolicy.active).is_(True))
    if auto_grant_only:
        query = query.where(col(BenefitPolicy.auto_grant).is_(True))
    return list((await session.exec(query.order_by(col(BenefitPolicy.code)))).all())


async def policy_fingerprint(session: AsyncSession) -> tuple[Any, ...]:
    """Changes whenever a policy version is added or changes `current` or `active`: count, newest, two sums."""
    query = select(
        func.count(),
        func.max(BenefitPolicy.created_at),
        func.sum(case((col(BenefitPolicy.current).is_(True), 1), else_=0)),
        func.sum(case((col(BenefitPolicy.active).is_(True), 1), else_=0)),
    )
    return tuple((await session.exec(query)).one())


async def current_policy(session: AsyncSession, code: str, *, cached: bool = False) -> BenefitPolicy | None:
    """The current version; with `cached`, one already loaded in this transaction is reused without a query."""
    if cached:
        for obj in session.identity_map.values():
            if isinstance(obj, BenefitPolicy) and obj.code == code and obj.current:
                return obj
    query = select(BenefitPolicy).where(BenefitPolicy.code == code, col(BenefitPolicy.current).is_(True))
    return (await session.exec(query)).first()


async def policy_version(session: AsyncSession, code: str, version: int) -> BenefitPolicy | None:
    return await session.get(BenefitPolicy, (code, version))


async def policy_versions(session: AsyncSession, code: str) -> list[BenefitPolicy]:
    query = select(BenefitPolicy).where(BenefitPolicy.code == code).order_by(col(BenefitPolicy.version))
    return list((await session.exec(query)).all())


# --- the talents' read model ------------------------------------------------------------------


async def get_facts(session: AsyncSession, talent_id: str) -> TalentFacts | None:
    cache = tx_cache(session)
    if talent_id in cache.facts:
        return cache.facts[talent_id]
    return await session.get(TalentFacts, talent_id)


async def get_or_add_facts(session: AsyncSession, talent_id: str) -> TalentFacts:
    facts = await get_facts(session, talent_id)
    if facts is None:
        facts = TalentFacts(talent_id=talent_id)
        session.add(facts)
        cache = tx_cache(session)
        if talent_id in cache.facts:
            cache.facts[talent_id] = facts
    return facts


async def has_active_lease(session: AsyncSession, talent_id: str) -> bool:
    cached = tx_cache(session).active_lease.get(talent_id)
    if cached is not None:
        return cached
    query = select(TalentLease.lease_id).where(
        TalentLease.talent_id == talent_id, col(TalentLease.started).is_(True), col(TalentLease.ended).is_(False)
    )
    return (await session.exec(query.limit(1))).first() is not None


async def get_or_add_lease(session: AsyncSession, lease_id: str, talent_id: str) -> TalentLease:
    lease = await session.get(TalentLease, lease_id)
    if lease is None:
        lease = TalentLease(lease_id=lease_id, talent_id=talent_id)
        session.add(lease)
    # The caller changes the lease: has_active_lease asks the database again.
    tx_cache(session).active_lease.pop(talent_id, None)
    return lease


# --- claims -----------------------------------------------------------------------------------


async def get_claim(session: AsyncSession, claim_id: str) -> Claim | None:
    return await session.get(Claim, claim_id)


async def locked_claim(session: AsyncSession, claim_id: str) -> Claim | None:
    """The claim read fresh and locked (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises),
    so two officers' actions on one claim, e.g. two disbursements on two replicas, run one after the other."""
    query = select(Claim).where(Claim.id == claim_id).with_for_update().execution_options(populate_existing=True)
    return (await session.exec(query)).first()


async def claims_of_policy(session: AsyncSession, talent_id: str, policy_code: str) -> list[Claim]:
    cached = tx_cache(session).claims.get(talent_id)
    if cached is not None:
        return [c for c in cached if c.policy_code == policy_code]
    query = select(Claim).where(Claim.talent_id == talent_id, Claim.policy_code == policy_code)
    return list((await session.exec(query)).all())


async def auto_claim_exists(session: AsyncSession, talent_id: str, auto_grant_key: str) -> bool:
    cached = tx_cache(session).claims.get(talent_id)
    if cached is not None:
        return any(c.auto_grant_key == auto_grant_key for c in cached)
    query = select(Claim.id).where(Claim.auto_grant_key == auto_grant_key)
    return (await session.exec(query)).first() is not None


def add_claim(session: AsyncSession, claim: Claim) -> None:
    """Add a new claim, keeping this transaction's cache of the talent's claims complete."""
    session.add(claim)
    cache = tx_cache(session)
    cache.new_claims.add(claim.id)
    cached = cache.claims.get(claim.talent_id)
    if cached is not None:
        cached.append(claim)


def claim_needs_first_stage_timer(session: AsyncSession, claim_id: str) -> bool:
    """True once for a claim filed in this transaction: no stage timer keyed by its id can exist yet."""
    cache = tx_cache(session)
    if claim_id in cache.new_claims:
        cache.new_claims.discard(claim_id)
        return True
    return False


_HISTORY_TABLE: Table = ClaimHistory.__table__  # type: ignore[attr-defined]


def add_history(
    session: AsyncSession,
    *,
    claim_id: str,
    at: datetime,
    action: str,
    stage: str | None,
    from_status: str | None,
    to_status: str,
    actor: str,
    reason: str = "",
    reasons: list[dict[str, str]] | None = None,
) -> None:
    """A history line, sent with the transaction's other queued rows (one INSERT for a whole batch)."""
    queue_insert(
        session,
        _HISTORY_TABLE,
        {
            "claim_id": claim_id,
            "at": at,
            "action": action,
            "stage": stage,
            "from_status": from_status,
            "to_status": to_status,
            "actor": actor,
            "reason": reason,
            "reasons": reasons or [],
        },
    )


async def period_holder(session: AsyncSession, period_key: str) -> Claim | None:
    return (await session.exec(select(Claim).where(Claim.period_key == period_key))).first()


async def open_claims(session: AsyncSession, talent_id: str, policy_codes: Sequence[str] | None = None) -> list[Claim]:
    query = select(Claim).where(Claim.talent_id == talent_id, col(Claim.status).in_(OPEN_STATUSES))
    if policy_codes is not None:
        query = query.where(col(Claim.policy_code).in_(list(policy_codes)))
    return list((await session.exec(query.order_by(col(Claim.submitted_at)))).all())


async def claims_of_talent(
    session: AsyncSession, talent_id: str, *, limit: int, after: list[Any] | None, status: str | None = None
) -> list[Claim]:
    """Newest first; keyset on (submitted_at, id)."""
    query = select(Claim).where(Claim.talent_id == talent_id)
    if status:
        query = query.where(Claim.status == status)
    if after:
        at, claim_id = datetime.fromisoformat(after[0]), str(after[1])
        query = query.where(
            (col(Claim.submitted_at) < at) | ((col(Claim.submitted_at) == at) & (col(Claim.id) < claim_id))
        )
    query = query.order_by(col(Claim.submitted_at).desc(), col(Claim.id).desc()).limit(limit)
    return list((await session.exec(query)).all())


async def review_queue(
    session: AsyncSession,
    *,
    statuses: Sequence[str],
    region_code: str | None,
    publicity_ended_only: bool,
    policy_code: str | None,
    limit: int,
    after: list[Any] | None,
) -> list[Claim]:
    """Oldest first (first come, first served); keyset on (submitted_at, id)."""
    query = select(Claim).where(col(Claim.status).in_(list(statuses)))
    if region_code is not None:
        query = query.where(Claim.region_code == region_code)
    if publicity_ended_only:
        query = query.where((col(Claim.status) != "publicized") | col(Claim.publicity_ended_at).is_not(None))
    if policy_code:
        query = query.where(Claim.policy_code == policy_code)
    if after:
        at, claim_id = datetime.fromisoformat(after[0]), str(after[1])
        query = query.where(
            (col(Claim.submitted_at) > at) | ((col(Claim.submitted_at) == at) & (col(Claim.id) > claim_id))
        )
    query = query.order_by(col(Claim.submitted_at), col(Claim.id)).limit(limit)
    return list((await session.exec(query)).all())


async def publicized_claims(session: AsyncSession, *, limit: int, after: list[Any] | None) -> list[Claim]:
    query = select(Claim).where(Claim.status == "publicized", col(Claim.publicity_ended_at).is_(None))
    if after:
        at, claim_id = datetime.fromisoformat(after[0]), str(after[1])
        query = query.where(
            (col(Claim.submitted_at) > at) | ((col(Claim.submitted_at) == at) & (col(Claim.id) > claim_id))
        )
    query = query.order_by(col(Claim.submitted_at), col(Claim.id)).limit(limit)
    return list((await session.exec(query)).all())


async def claim_by_payment_reference(session: AsyncSession, reference: str) -> Claim | None:
    return (await session.exec(select(Claim).where(Claim.payment_reference == reference))).first()


async def history_of(session: AsyncSession, claim_ids: Sequence[str]) -> dict[str, list[ClaimHistory]]:
    out: dict[str, list[ClaimHistory]] = {claim_id: [] for claim_id in claim_ids}
    if not claim_ids:
        return out
    query = select(ClaimHistory).where(col(ClaimHistory.claim_id).in_(list(claim_ids))).order_by(col(ClaimHistory.id))
    for entry in (await session.exec(query)).all():
        out[entry.claim_id].append(entry)
    return out


async def open_objections(session: AsyncSession, claim_id: str) -> list[ClaimObjection]:
    query = select(ClaimObjection).where(ClaimObjection.claim_id == claim_id, ClaimObjection.status == "open")
    return list((await session.exec(query)).all())


# --- budgets ----------------------------------------------------------------------------------


async def ensure_budget_row(session: AsyncSession, policy_code: str, year: int) -> None:
    """Create the (policy, year) row if missing, without failing when a concurrent approval just did."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(PolicyBudget)
        .values(policy_code=policy_code, year=year, committed_fen=0, committed_count=0)
        .on_conflict_do_nothing(index_elements=["policy_code", "year"])
    )
    await session.exec(statement)


async def commit_budget(
    session: AsyncSession, policy_code: str, year: int, amount_fen: int, *, budget_fen: int | None, quota: int | None
) -> bool:
    """Add one claim to the year's budget in a single conditional UPDATE; False when it would not fit.

    The condition is evaluated on the row as it is when the UPDATE gets its row lock, so concurrent
    approvals on PostgreSQL queue on the row and none can push the total past the limits.
    """
    await ensure_budget_row(session, policy_code, year)
    statement = (
        update(PolicyBudget)
        .where(col(PolicyBudget.policy_code) == policy_code, col(PolicyBudget.year) == year)
        .values(
            committed_fen=PolicyBudget.committed_fen + amount_fen,
            committed_count=PolicyBudget.committed_count + 1,
        )
    )
    if budget_fen is not None:
        statement = statement.where(col(PolicyBudget.committed_fen) + amount_fen <= budget_fen)
    if quota is not None:
        statement = statement.where(col(PolicyBudget.committed_count) + 1 <= quota)
    result: Any = await session.exec(statement)
    return bool(result.rowcount == 1)


async def release_budget(session: AsyncSession, policy_code: str, year: int, amount_fen: int) -> None:
    statement = (
        update(PolicyBudget)
        .where(col(PolicyBudget.policy_code) == policy_code, col(PolicyBudget.year) == year)
        .values(
            committed_fen=func.max(PolicyBudget.committed_fen - amount_fen, 0)
            if session.get_bind().dialect.name == "sqlite"
            else func.greatest(PolicyBudget.committed_fen - amount_fen, 0),
            committed_count=PolicyBudget.committed_count - 1,
        )
    )
    await session.exec(statement)


async def get_budget(session: AsyncSession, policy_code: str, year: int) -> PolicyBudget | None:
    query = select(PolicyBudget).where(PolicyBudget.policy_code == policy_code, PolicyBudget.year == year)
    return (await session.exec(query)).first()
