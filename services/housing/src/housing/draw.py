"""The verifiable draw: commitment, lottery numbers and the ranking, as pure functions.

Anyone can recompute a round from its public results and revealed seed (README: "How a housing draw
is computed and checked"); `housing verify-draw` does exactly that with these functions.

- seed: 32 random bytes, made when the round closes; `seed_commitment = sha256(seed).hexdigest()` is
  published then, the seed itself (hex) at the draw.
- lottery number of an application = int.from_bytes(HMAC-SHA256(key=seed, msg=pseudonym as UTF-8), "big"),
  published as 64 lowercase hex digits.
- base order: tier (catalogue order, A first), then points (higher first), then lottery number (lower
  first), then the pseudonym (never reached in practice: it only makes the order total).
- tier quotas {tier: q}: walking the base order, the first q applicants of each quota tier take a
  reserved seat; then the remaining `unit_count - reserved seats used` seats go to the not yet selected
  applicants in base order. Quota seats no applicant of that tier needed return to the general pool.
- the ranked list is the selected applicants in base order, then everyone else in base order (the
  waitlist). Ranks count from 1. Sorting dominates: O(n log n) time, O(n) memory.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

SEED_BYTES = 32
_hmac_digest = hmac.digest


@dataclass(frozen=True, slots=True)
class Entry:
    """What the ranking reads of an application (all of it is published in the results)."""

    pseudonym: str
    tier: str
    points: int


@dataclass(slots=True)  # not frozen: a frozen __init__ costs a setattr call per field, 100,000 times
class Ranked:
    rank: int
    pseudonym: str
    tier: str
    points: int
    lottery_number: str  # 64 hex digits
    selected: bool


def seed_commitment(seed: bytes) -> str:
    return hashlib.sha256(seed).hexdigest()


def lottery_number(seed: bytes, pseudonym: str) -> int:
    return int.from_bytes(hmac.digest(seed, pseudonym.encode("utf-8"), "sha256"), "big")


def lottery_hex(value: int) -> str:
    return f"{value:064x}"


def rank(
    entries: Iterable[Entry],
    seed: bytes,
    *,
    unit_count: int,
    tier_quotas: Mapping[str, int] | None = None,
    tier_order: Sequence[str] = ("A", "B", "C", "D", "E"),
) -> list[Ranked]:
    """Rank the applications of a round (see the module docstring for the exact rule)."""
    tier_index = {tier: index for index, tier in enumerate(tier_order)}
    # The lottery number as its 64 hex digits: fixed width and lowercase, so the strings sort exactly as the
    # numbers do, and each is one C call (no int, no formatting afterwards).
    keyed = [
        (tier_index[e.tier], -e.points, _hmac_digest(seed, e.pseudonym.encode("utf-8"), "sha256").hex(),
         e.pseudonym, e.tier, e.points)
        for e in entries
    ]  # fmt: skip
    keyed.sort()

    quotas_left = {tier: count for tier, count in (tier_quotas or {}).items() if count > 0}
    selected = [False] * len(keyed)
    seats_used = 0
    if quotas_left:
        for position, item in enumerate(keyed):
            if seats_used >= unit_count:
                break
            tier = item[4]
            if quotas_left.get(tier, 0) > 0:
                quotas_left[tier] -= 1
                selected[position] = True
                seats_used += 1
    for position in range(len(keyed)):
        if seats_used >= unit_count:
            break
        if not selected[position]:
            selected[position] = True
            seats_used += 1

    order = [p for p in range(len(keyed)) if selected[p]] + [p for p in range(len(keyed)) if not selected[p]]
    return [
        Ranked(
            rank=number,
            pseudonym=keyed[p][3],
            tier=keyed[p][4],
            points=keyed[p][5],
            lottery_number=keyed[p][2],
            selected=selected[p],
        )
        for number, p in enumerate(order, start=1)
    ]


@dataclass
class Verification:
    """The outcome of recomputing a published draw."""

    matches: bool
    checked: int
    problems: list[str] = field(default_factory=list)


def verify(
    published: Sequence[Mapping[str, object]],
    seed_hex: str,
    *,
    unit_count: int,
    tier_quotas: Mapping[str, int] | None = None,
    seed_commitment_hex: str | None = None,
    tier_order: Sequence[str] = ("A", "B", "C", "D", "E"),
    max_problems: int = 20,
) -> Verification:
    """Recompute the order from the published rows (pseudonym, tier, points) and the seed; compare everything."""
    problems: list[str] = []
    try:
        seed = bytes.fromhex(seed_hex)
    except ValueError:
        return Verification(False, 0, ["the seed is not a hex string"])
    if seed_commitment_hex is not None and seed_commitment(seed) != seed_commitment_hex.lower():
        problems.append("sha256(seed) does not equal the published seed_commitment")
    rows = sorted(published, key=lambda row: int(str(row["rank"])))
    entries = [Entry(str(r["application_pseudonym"]), str(r["tier"]), int(str(r["points"]))) for r in rows]
    expected = rank(entries, seed, unit_count=unit_count, tier_quotas=tier_quotas, tier_order=tier_order)
    if [int(str(r["rank"])) for r in rows] != list(range(1, len(rows) + 1)):
        problems.append("the published ranks are not 1..n without gaps")
    for row, want in zip(rows, expected, strict=True):
        if len(problems) >= max_problems:
            problems.append("… (more differences not listed)")
            break
        if row["application_pseudonym"] != want.pseudonym:
            problems.append(f"rank {want.rank}: published {row['application_pseudonym']}, recomputed {want.pseudonym}")
        elif str(row.get("lottery_number", "")).lower() != want.lottery_number:
            problems.append(f"rank {want.rank}: the lottery number of {want.pseudonym} does not match the seed")
        elif "selected" in row and bool(row["selected"]) != want.selected:
            problems.append(f"rank {want.rank}: 'selected' is {row['selected']}, recomputed {want.selected}")
    return Verification(not problems, len(rows), problems)
