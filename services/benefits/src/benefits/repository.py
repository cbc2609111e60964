"""Queries of the benefits tables, and the per-transaction memory that spares repeated ones."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from servicekit.bulk import queue_insert
from servicekit.pagination import keyset_after
from servicekit.sql import greatest, insert_ignoring_conflicts
from sqlalchemy import Table, bindparam, case, exists, func, inspect, update
from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from benefits.catalogue import Catalogue, Policy
from benefits.models import (
    BenefitPolicy,
    Claim,
    ClaimHistory,
    ClaimObjection,
    PaymentBatch,
    PaymentLine,
    PolicyBudget,
    SamplingSeed,
    TalentFacts,
    TalentLease,
)
from benefits.states import OFFICER_DECISIONS, OPEN_STATUSES, ClaimStatus, ObjectionStatus

# --- the repository: queries, and what one transaction has loaded already ----------------------

_REPOSITORY = "benefits.repository"
_process_catalogue: Catalogue | None = None
# Claims are listed by submission, the id breaking ties: the keyset of every claim list.
_SUBMISSION_ORDER = (col(Claim.submitted_at), col(Claim.id))
_HISTORY_TABLE: Table = ClaimHistory.__table__  # type: ignore[attr-defined]
_LINE_TABLE: Table = PaymentLine.__table__  # type: ignore[attr-defined]
# Ids per IN list of the batch queries (well under SQLite's and asyncpg's parameter limits).
_CHUNK = 1000


class BenefitsRepository:
    """The benefits tables' queries, bound to one root transaction with what that transaction loaded.

    `BenefitsRepository.of(session)` is the same object for the whole transaction: a consumer batch loads
    rows up front (`load_talents`) so its handlers need no query per event, claims filed in the
    transaction are known to have no timer yet, and the policy catalogue is checked once. A rollback or the
    next transaction starts empty. Only what was loaded is answered from memory; anything else is a query.
    """

    def __init__(self, session: AsyncSession, transaction: Any) -> None:
        self.session = session
        self.transaction = transaction
        # talent id -> its read-model row (None: loaded and absent).
        self.facts: dict[str, TalentFacts | None] = {}
        # talent id -> holds a started, not ended lease.
        self.active_lease: dict[str, bool] = {}
        # talent id -> every claim of the talent (new ones appended as they are filed).
        self.claims: dict[str, list[Claim]] = {}
        # claims filed in this transaction: no timer can exist for them yet.
        self.new_claims: set[str] = set()
        # the policy catalogue, checked against the database once in this transaction.
        self.checked_catalogue: Catalogue | None = None
        # claims locked up front by a batch of decisions (lock_claims): locked_claim needs no query for them.
        self.locked: dict[str, Claim] = {}
        # claim id -> the whole history of a claim filed in this transaction (its lines are queued, not read), as
        # the queued values: made into ClaimHistory objects only when read (a consumer batch never reads them).
        self.new_history: dict[str, list[dict[str, Any]]] = {}
        # (policy, day) of the sampling seeds this transaction inserted (not committed yet: not for the process).
        self.seeds_made: set[tuple[str, date]] = set()
        # (policy, day) -> the seed, as read or made in this transaction (a draw per claim needs no look-up).
        self.seeds: dict[tuple[str, date], str] = {}
        # (policy, year) budget rows known to exist in this transaction (ensure_budget_row ran).
        self.budget_rows: set[tuple[str, int]] = set()
        # claims filed in this transaction: no timer keyed by their id can exist yet.
        self.filed: set[str] = set()

    @classmethod
    def of(cls, session: AsyncSession) -> BenefitsRepository:
        """This transaction's repository (a fresh one when the transaction changed)."""
        # Like Session.add: start the (lazy) transaction now, so the repository made before the first query
        # is the one the rest of the transaction uses (no statement is sent until the first query).
        transaction = session.sync_session._autobegin_t()
        repository: BenefitsRepository | None = session.info.get(_REPOSITORY)
        if repository is None or repository.transaction is not transaction:
            repository = cls(session, transaction)
            session.info[_REPOSITORY] = repository
        return repository

    async def catalogue(self) -> Catalogue:
        """The current policies without re-reading and re-parsing them for every event.

        Versions are only ever added (a change is a new row, the old one loses `current`), so the count,
        the newest creation time and the number of current and active rows change with any change; one
        small aggregate per transaction tells whether the process's parsed copy is still the catalogue.
        """
        global _process_catalogue
        if self.checked_catalogue is not None:
            return self.checked_catalogue
        fingerprint = await self.policy_fingerprint()
        current = _process_catalogue
        if current is None or current.fingerprint != fingerprint:
            rows = await self.current_policies(active_only=False)
            # Kept across sessions as copies that belong to none, so no session's rollback or change touches them.
            copies = [BenefitPolicy(**row.model_dump()) for row in rows]
            current = Catalogue(fingerprint, {row.code: Policy.of(row) for row in copies})
            _process_catalogue = current
        self.checked_catalogue = current
        return current

    async def load_talents(self, talent_ids: Iterable[str]) -> None:
        """Load the facts, active leases and claims of many talents with three queries, into the cache."""
        cache = self
        ids = sorted({t for t in talent_ids if t not in cache.facts})
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            query = select(TalentFacts).where(col(TalentFacts.talent_id).in_(chunk))
            found = {f.talent_id: f for f in (await self.session.exec(query)).all()}
            leased = set(
                (
                    await self.session.exec(
                        select(TalentLease.talent_id).where(
                            col(TalentLease.talent_id).in_(chunk),
                            col(TalentLease.started).is_(True),
                            col(TalentLease.ended).is_(False),
                        )
                    )
                ).all()
            )
            claims: dict[str, list[Claim]] = {t: [] for t in chunk}
            for claim in (await self.session.exec(select(Claim).where(col(Claim.talent_id).in_(chunk)))).all():
                claims[claim.talent_id].append(claim)
            for talent_id in chunk:
                cache.facts[talent_id] = found.get(talent_id)
                cache.active_lease[talent_id] = talent_id in leased
                cache.claims[talent_id] = claims[talent_id]

    # --- policies ---------------------------------------------------------------------------------

    async def current_policies(self, *, active_only: bool = True, auto_grant_only: bool = False) -> list[BenefitPolicy]:
        query = select(BenefitPolicy).where(col(BenefitPolicy.current).is_(True))
        if active_only:
            query = query.where(col(BenefitPolicy.active).is_(True))
        if auto_grant_only:
            query = query.where(col(BenefitPolicy.auto_grant).is_(True))
        return list((await self.session.exec(query.order_by(col(BenefitPolicy.code)))).all())

    async def unannounced_policies(self) -> list[BenefitPolicy]:
        """Current versions never announced to the statistics, locked so two workers starting together do not
        both announce one (PostgreSQL; SQLite has one writer anyway)."""
        query = (
            select(BenefitPolicy)
            .where(col(BenefitPolicy.current).is_(True), col(BenefitPolicy.announced_at).is_(None))
            .order_by(col(BenefitPolicy.code))
            .with_for_update(skip_locked=True)
        )
        return list((await self.session.exec(query)).all())

    async def policy_fingerprint(self) -> tuple[Any, ...]:
        """Changes whenever a policy version is added or changes `current` or `active`: count, newest, two sums."""
        query = select(
            func.count(),
            func.max(BenefitPolicy.created_at),
            func.sum(case((col(BenefitPolicy.current).is_(True), 1), else_=0)),
            func.sum(case((col(BenefitPolicy.active).is_(True), 1), else_=0)),
        )
        return tuple((await self.session.exec(query)).one())

    async def current_policy(self, code: str, *, cached: bool = False) -> BenefitPolicy | None:
        """The current version; with `cached`, one already loaded in this transaction is reused without a query."""
        if cached:
            for obj in self.session.identity_map.values():
                if isinstance(obj, BenefitPolicy) and obj.code == code and obj.current:
                    return obj
        query = select(BenefitPolicy).where(BenefitPolicy.code == code, col(BenefitPolicy.current).is_(True))
        return (await self.session.exec(query)).first()

    async def policy_version(self, code: str, version: int) -> BenefitPolicy | None:
        return await self.session.get(BenefitPolicy, (code, version))

    async def policy_versions(self, code: str) -> list[BenefitPolicy]:
        query = select(BenefitPolicy).where(BenefitPolicy.code == code).order_by(col(BenefitPolicy.version))
        return list((await self.session.exec(query)).all())

    # --- the talents' read model ------------------------------------------------------------------

    async def get_facts(self, talent_id: str) -> TalentFacts | None:
        cache = self
        if talent_id in cache.facts:
            return cache.facts[talent_id]
        return await self.session.get(TalentFacts, talent_id)

    async def get_or_add_facts(self, talent_id: str) -> TalentFacts:
        facts = await self.get_facts(talent_id)
        if facts is None:
            facts = TalentFacts(talent_id=talent_id)
            self.session.add(facts)
            cache = self
            if talent_id in cache.facts:
                cache.facts[talent_id] = facts
        return facts

    async def load_situation(self, talent_id: str) -> None:
        """The talent's read-model row and whether it holds an active lease, in one query, into the cache."""
        if talent_id in self.facts and talent_id in self.active_lease:
            return
        leased = (
            exists()
            .where(
                col(TalentLease.talent_id) == col(TalentFacts.talent_id),
                col(TalentLease.started).is_(True),
                col(TalentLease.ended).is_(False),
            )
            .label("leased")
        )
        query = select(TalentFacts, leased).where(TalentFacts.talent_id == talent_id)
        row = (await self.session.exec(query)).first()
        if row is None:
            self.facts[talent_id] = None  # no read-model row: the lease is asked separately when needed
            return
        self.facts[talent_id] = row[0]
        self.active_lease[talent_id] = bool(row[1])

    async def has_active_lease(self, talent_id: str) -> bool:
        cached = self.active_lease.get(talent_id)
        if cached is not None:
            return cached
        query = select(TalentLease.lease_id).where(
            TalentLease.talent_id == talent_id, col(TalentLease.started).is_(True), col(TalentLease.ended).is_(False)
        )
        return (await self.session.exec(query.limit(1))).first() is not None

    async def get_or_add_lease(self, lease_id: str, talent_id: str) -> TalentLease:
        lease = await self.session.get(TalentLease, lease_id)
        if lease is None:
            lease = TalentLease(lease_id=lease_id, talent_id=talent_id)
            self.session.add(lease)
        # The caller changes the lease: has_active_lease asks the database again.
        self.active_lease.pop(talent_id, None)
        return lease

    # --- claims -----------------------------------------------------------------------------------

    async def get_claim(self, claim_id: str) -> Claim | None:
        return await self.session.get(Claim, claim_id)

    async def lock_claims(self, claim_ids: Sequence[str]) -> None:
        """Read and lock many claims in one query (in id order, so two batches cannot deadlock)."""
        query = (
            select(Claim)
            .where(col(Claim.id).in_(list(claim_ids)))
            .order_by(col(Claim.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        self.locked |= {claim.id: claim for claim in (await self.session.exec(query)).all()}

    async def locked_claim(self, claim_id: str) -> Claim | None:
        """The claim read fresh and locked (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises),
        so two officers' actions on one claim, e.g. two disbursements on two replicas, run one after the other."""
        held = self.locked.get(claim_id)
        if held is not None and not inspect(held).expired_attributes:
            return held  # locked by lock_claims in this transaction (a savepoint rolled back expires it)
        query = select(Claim).where(Claim.id == claim_id).with_for_update().execution_options(populate_existing=True)
        return (await self.session.exec(query)).first()

    async def claims_of_policy(self, talent_id: str, policy_code: str) -> list[Claim]:
        cached = self.claims.get(talent_id)
        if cached is not None:
            return [c for c in cached if c.policy_code == policy_code]
        query = select(Claim).where(Claim.talent_id == talent_id, Claim.policy_code == policy_code)
        return list((await self.session.exec(query)).all())

    async def auto_claim_exists(self, talent_id: str, auto_grant_key: str) -> bool:
        cached = self.claims.get(talent_id)
        if cached is not None:
            return any(c.auto_grant_key == auto_grant_key for c in cached)
        query = select(Claim.id).where(Claim.auto_grant_key == auto_grant_key)
        return (await self.session.exec(query)).first() is not None

    def add_claim(self, claim: Claim) -> None:
        """Add a new claim, keeping this transaction's cache of the talent's claims complete."""
        self.session.add(claim)
        cache = self
        cache.new_claims.add(claim.id)
        cache.new_history[claim.id] = []
        cache.filed.add(claim.id)
        cached = cache.claims.get(claim.talent_id)
        if cached is not None:
            cached.append(claim)

    def first_stage_timer_is_new(self, claim_id: str) -> bool:
        """True once for a claim filed in this transaction: no stage timer keyed by its id can exist yet."""
        cache = self
        if claim_id in cache.new_claims:
            cache.new_claims.discard(claim_id)
            return True
        return False

    def add_history(
        self,
        *,
        claim_id: str,
        at: datetime,
        action: str,
        stage: str | None,
        from_status: str | None,
        to_status: str,
        actor: str,
        reason: str = "",
        reason_message: dict[str, Any] | None = None,
        reasons: list[dict[str, Any]] | None = None,
    ) -> None:
        """A history line, sent with the transaction's other queued rows (one INSERT for a whole batch).

        A claim filed in this transaction keeps its lines in memory too, so its answer needs no query."""
        values: dict[str, Any] = {
            "claim_id": claim_id,
            "at": at,
            "action": action,
            "stage": stage,
            "from_status": from_status,
            "to_status": to_status,
            "actor": actor,
            "reason": reason,
            "reason_message": reason_message,
            "reasons": reasons or [],
        }
        queue_insert(self.session, _HISTORY_TABLE, values)
        known = self.new_history.get(claim_id)
        if known is not None:
            if self.session.sync_session.get_nested_transaction() is not None:
                # A savepoint may take this line back: the history is read from the database instead.
                del self.new_history[claim_id]
            else:
                known.append(values)

    async def period_holder(self, period_key: str) -> Claim | None:
        return (await self.session.exec(select(Claim).where(Claim.period_key == period_key))).first()

    async def open_claims(self, talent_id: str, policy_codes: Sequence[str] | None = None) -> list[Claim]:
        query = select(Claim).where(Claim.talent_id == talent_id, col(Claim.status).in_(OPEN_STATUSES))
        if policy_codes is not None:
            query = query.where(col(Claim.policy_code).in_(list(policy_codes)))
        return list((await self.session.exec(query.order_by(col(Claim.submitted_at)))).all())

    async def claims_of_talent(
        self, talent_id: str, *, limit: int, after: list[Any] | None, status: str | None = None
    ) -> list[Claim]:
        """Newest first; keyset on (submitted_at, id)."""
        query = select(Claim).where(Claim.talent_id == talent_id)
        if status:
            query = query.where(Claim.status == status)
        if after:
            query = query.where(keyset_after(_SUBMISSION_ORDER, after, descending=True))
        query = query.order_by(col(Claim.submitted_at).desc(), col(Claim.id).desc()).limit(limit)
        return list((await self.session.exec(query)).all())

    async def review_queue(
        self,
        *,
        statuses: Sequence[str],
        region_code: str | None,
        publicity_ended_only: bool,
        policy_code: str | None,
        limit: int,
        after: list[Any] | None,
    ) -> list[Claim]:
        """Oldest first (first come, first served); keyset on (submitted_at, id).

        One ordered, limited read per status, merged here: an index on (status, submitted_at, id) gives each
        status's page in order, but no index orders an IN of several statuses, so a city-wide queue of two
        (county_approved and appealed) would otherwise read and sort every such claim for each page.
        """
        pages: list[Claim] = []
        for status in dict.fromkeys(statuses):
            query = select(Claim).where(Claim.status == status)
            if region_code is not None:
                query = query.where(Claim.region_code == region_code)
            if publicity_ended_only and status == ClaimStatus.PUBLICIZED:
                query = query.where(col(Claim.publicity_ended_at).is_not(None))
            if policy_code:
                query = query.where(Claim.policy_code == policy_code)
            if after:
                query = query.where(keyset_after(_SUBMISSION_ORDER, after))
            query = query.order_by(col(Claim.submitted_at), col(Claim.id)).limit(limit)
            pages.extend((await self.session.exec(query)).all())
        pages.sort(key=lambda claim: (claim.submitted_at, claim.id))
        return pages[:limit]

    async def publicized_claims(self, *, limit: int, after: list[Any] | None) -> list[Claim]:
        query = select(Claim).where(Claim.status == ClaimStatus.PUBLICIZED, col(Claim.publicity_ended_at).is_(None))
        if after:
            query = query.where(keyset_after(_SUBMISSION_ORDER, after))
        query = query.order_by(col(Claim.submitted_at), col(Claim.id)).limit(limit)
        return list((await self.session.exec(query)).all())

    async def sampling_seed(self, policy_code: str, day: date) -> SamplingSeed | None:
        # Once loaded, the transaction's identity map answers without a query (one seed serves a day's claims).
        return await self.session.get(SamplingSeed, (policy_code, day))

    async def sampling_seeds(self, *, limit: int, after: list[Any] | None) -> list[SamplingSeed]:
        order = (col(SamplingSeed.day), col(SamplingSeed.policy_code))
        query = select(SamplingSeed)
        if after:
            query = query.where(keyset_after(order, after, descending=True))
        query = query.order_by(col(SamplingSeed.day).desc(), col(SamplingSeed.policy_code).desc()).limit(limit)
        return list((await self.session.exec(query)).all())

    async def claim_by_payment_reference(self, reference: str) -> Claim | None:
        return (await self.session.exec(select(Claim).where(Claim.payment_reference == reference))).first()

    async def history_of(self, claim_ids: Sequence[str]) -> dict[str, list[ClaimHistory]]:
        out: dict[str, list[ClaimHistory]] = {claim_id: [] for claim_id in claim_ids}
        unknown = []
        for claim_id in claim_ids:
            known = self.new_history.get(claim_id)
            if known is None:
                unknown.append(claim_id)
            else:
                out[claim_id] = [ClaimHistory(**values) for values in known]  # filed here: every line is in memory
        if not unknown:
            return out
        # Ordered by (claim_id, id), not by id alone: the claim_id index then serves the order and a plan cannot
        # walk the whole history in id order filtering on the claims (bench/gaps/city.md).
        query = (
            select(ClaimHistory)
            .where(col(ClaimHistory.claim_id).in_(unknown))
            .order_by(col(ClaimHistory.claim_id), col(ClaimHistory.id))
        )
        for entry in (await self.session.exec(query)).all():
            out[entry.claim_id].append(entry)
        return out

    async def facts_of(self, talent_ids: Iterable[str]) -> dict[str, TalentFacts]:
        """The read-model rows of many talents in one query (those known; the absent are left out)."""
        ids = sorted(set(talent_ids))
        if not ids:
            return {}
        query = select(TalentFacts).where(col(TalentFacts.talent_id).in_(ids))
        return {f.talent_id: f for f in (await self.session.exec(query)).all()}

    async def open_objections(self, claim_id: str) -> list[ClaimObjection]:
        query = select(ClaimObjection).where(
            ClaimObjection.claim_id == claim_id, ClaimObjection.status == ObjectionStatus.OPEN
        )
        return list((await self.session.exec(query)).all())

    # --- budgets ----------------------------------------------------------------------------------

    async def ensure_budget_row(self, policy_code: str, year: int) -> None:
        """Create the (policy, year) row if missing, without failing when a concurrent approval just did."""
        if (policy_code, year) in self.budget_rows:
            return
        self.budget_rows.add((policy_code, year))
        await insert_ignoring_conflicts(
            self.session,
            PolicyBudget,
            {"policy_code": policy_code, "year": year, "committed_fen": 0, "committed_count": 0},
            conflict_columns=["policy_code", "year"],
        )

    async def commit_budget(
        self, policy_code: str, year: int, amount_fen: int, *, budget_fen: int | None, quota: int | None
    ) -> bool:
        """Add one claim to the year's budget in a single conditional UPDATE; False when it would not fit.

        The condition is evaluated on the row as it is when the UPDATE gets its row lock, so concurrent
        approvals on PostgreSQL queue on the row and none can push the total past the limits.
        """
        await self.ensure_budget_row(policy_code, year)
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
        result: Any = await self.session.exec(statement)
        return bool(result.rowcount == 1)

    async def release_budget(self, policy_code: str, year: int, amount_fen: int) -> None:
        statement = (
            update(PolicyBudget)
            .where(col(PolicyBudget.policy_code) == policy_code, col(PolicyBudget.year) == year)
            .values(
                committed_fen=greatest(self.session, PolicyBudget.committed_fen - amount_fen, 0),
                committed_count=PolicyBudget.committed_count - 1,
            )
        )
        await self.session.exec(statement)

    async def get_budget(self, policy_code: str, year: int) -> PolicyBudget | None:
        query = select(PolicyBudget).where(PolicyBudget.policy_code == policy_code, PolicyBudget.year == year)
        return (await self.session.exec(query)).first()

    # --- payment batches (benefits.payments) --------------------------------------------------------
    # Their row queries select more than four columns, which sqlmodel's select() does not type: SQLAlchemy's
    # select_columns does, and sqlmodel's exec() has no overload for it (hence the call-overload ignores).

    async def payable_claims(self, policy_code: str | None, excluding_decided_by: str) -> list[tuple[Any, ...]]:
        """(id, talent_id, policy_code, year, amount_fen) of every claim due for payment, oldest first: 公示
        ended or a failed payment, not waiting in an open batch, and not decided at a stage by this officer."""
        decided_by_officer = select(ClaimHistory.claim_id).where(
            ClaimHistory.actor == excluding_decided_by, col(ClaimHistory.action).in_(OFFICER_DECISIONS)
        )
        waiting = select(PaymentLine.pending_claim_id).where(col(PaymentLine.pending_claim_id).is_not(None))
        query = (
            select_columns(
                col(Claim.id), col(Claim.talent_id), col(Claim.policy_code), col(Claim.year), col(Claim.amount_fen)
            )
            .where(
                ((col(Claim.status) == ClaimStatus.PUBLICIZED) & col(Claim.publicity_ended_at).is_not(None))
                | (col(Claim.status) == ClaimStatus.PAYMENT_FAILED),
                col(Claim.amount_fen) > 0,
                col(Claim.id).not_in(waiting),
                col(Claim.id).not_in(decided_by_officer),
            )
            .order_by(col(Claim.submitted_at), col(Claim.id))
        )
        if policy_code is not None:
            query = query.where(col(Claim.policy_code) == policy_code)
        return [tuple(row) for row in await self.session.exec(query)]  # type: ignore[call-overload]

    async def get_payment_batch(self, batch_id: str, *, lock: bool = False) -> PaymentBatch | None:
        query = select(PaymentBatch).where(PaymentBatch.id == batch_id)
        if lock:
            query = query.with_for_update()
        return (await self.session.exec(query)).first()

    async def payment_batches(self, *, limit: int, after: list[Any] | None) -> list[PaymentBatch]:
        """Newest first; keyset on (created_at, id)."""
        order = (col(PaymentBatch.created_at), col(PaymentBatch.id))
        query = select(PaymentBatch)
        if after:
            query = query.where(keyset_after(order, after, descending=True))
        query = query.order_by(col(PaymentBatch.created_at).desc(), col(PaymentBatch.id).desc()).limit(limit)
        return list((await self.session.exec(query)).all())

    async def bank_file_rows(self, batch_id: str) -> list[tuple[Any, ...]]:
        """(line_ref, claim_id, talent_id, policy_code, year, amount_fen) of a batch's lines, in file order."""
        query = (
            select_columns(
                col(PaymentLine.line_ref),
                col(PaymentLine.claim_id),
                col(PaymentLine.talent_id),
                col(PaymentLine.policy_code),
                col(PaymentLine.year),
                col(PaymentLine.amount_fen),
            )
            .where(col(PaymentLine.batch_id) == batch_id)
            .order_by(col(PaymentLine.seq))
        )
        return [tuple(row) for row in await self.session.exec(query)]  # type: ignore[call-overload]

    async def payment_lines(self, batch_id: str) -> list[tuple[Any, ...]]:
        """(id, line_ref, claim_id, amount_fen, result, bank_reference) of a batch's lines, as plain rows: a
        result file of 100,000 lines must not fill the session with objects every statement then walks."""
        query = (
            select_columns(
                col(PaymentLine.id),
                col(PaymentLine.line_ref),
                col(PaymentLine.claim_id),
                col(PaymentLine.amount_fen),
                col(PaymentLine.result),
                col(PaymentLine.bank_reference),
            )
            .where(col(PaymentLine.batch_id) == batch_id)
            .order_by(col(PaymentLine.seq))
        )
        return [tuple(row) for row in await self.session.exec(query)]  # type: ignore[call-overload]

    async def record_line_results(self, results: Sequence[Mapping[str, Any]]) -> None:
        """Set the bank's result on many lines in one executemany ({line_id, result, bank_reference, at})."""
        if not results:
            return
        table = _LINE_TABLE
        statement = (
            update(table)
            .where(table.c.id == bindparam("line_id"))
            .values(
                result=bindparam("result"),
                bank_reference=bindparam("bank_reference"),
                result_at=bindparam("at"),
                pending_claim_id=None,
            )
        )
        connection = await self.session.connection()
        await connection.execute(statement, list(results))

    async def claims_by_id(self, claim_ids: Sequence[str], *, lock: bool = False) -> dict[str, Claim]:
        found: dict[str, Claim] = {}
        for start in range(0, len(claim_ids), _CHUNK):
            query = select(Claim).where(col(Claim.id).in_(list(claim_ids[start : start + _CHUNK])))
            if lock:
                query = query.with_for_update()
            found.update((c.id, c) for c in (await self.session.exec(query)).all())
        return found

    async def decided_by(self, actor: str, claim_ids: Sequence[str]) -> set[str]:
        """Which of these claims this officer decided at a review stage (or paid)."""
        found: set[str] = set()
        for start in range(0, len(claim_ids), _CHUNK):
            query = select(ClaimHistory.claim_id).where(
                col(ClaimHistory.claim_id).in_(list(claim_ids[start : start + _CHUNK])),
                ClaimHistory.actor == actor,
                col(ClaimHistory.action).in_(OFFICER_DECISIONS),
            )
            found.update((await self.session.exec(query)).all())
        return found

    async def used_payment_references(self, references: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(references), _CHUNK):
            query = select(Claim.payment_reference).where(
                col(Claim.payment_reference).in_(list(references[start : start + _CHUNK]))
            )
            found.update(r for r in (await self.session.exec(query)).all() if r is not None)
        return found

    async def resolve_objections(self, claim_ids: Sequence[str], at: datetime) -> None:
        for start in range(0, len(claim_ids), _CHUNK):
            await self.session.exec(
                update(ClaimObjection)
                .where(
                    col(ClaimObjection.claim_id).in_(list(claim_ids[start : start + _CHUNK])),
                    col(ClaimObjection.status) == ObjectionStatus.OPEN,
                )
                .values(status=ObjectionStatus.RESOLVED, resolved_at=at)
            )

    async def budgets(self, year: int | None) -> list[PolicyBudget]:
        query = select(PolicyBudget).order_by(col(PolicyBudget.year).desc(), col(PolicyBudget.policy_code))
        if year is not None:
            query = query.where(PolicyBudget.year == year)
        return list((await self.session.exec(query)).all())

    async def claim_sums(self, year: int | None, *, paid: bool) -> dict[tuple[str, int], tuple[int, int]]:
        """(policy, year) -> (total fen, count) of the disbursed claims (paid) or of those holding budget."""
        condition = col(Claim.status) == ClaimStatus.DISBURSED if paid else col(Claim.budget_committed).is_(True)
        query = (
            select_columns(
                col(Claim.policy_code), col(Claim.year), func.coalesce(func.sum(Claim.amount_fen), 0), func.count()
            )
            .where(condition)
            .group_by(col(Claim.policy_code), col(Claim.year))
        )
        if year is not None:
            query = query.where(col(Claim.year) == year)
        rows = await self.session.exec(query)  # type: ignore[call-overload]
        return {(code, y): (int(total), int(count)) for code, y, total, count in rows}
