"""Statistical disclosure control: what of a count table may be published (k-anonymity on cells and totals).

Every table the insight service shows or exports passes through `publish()`, and every total of it through
`publish_total()`; nothing else decides what a reader sees.

A table is read together with its totals: the grand total and the total of every slice (all rows of tier B,
all rows of tier B in region 330411...). Each total is the sum of the cells or smaller totals one level below
it along any one dimension — an equation a reader can solve for a single unknown. So:

- **Primary suppression.** A cell or total counting 1 to k-1 people (k = 5) is withheld: a cell's count and
  every other measure of its row (amounts, shares, percentiles) become `None`, a total is refused. A cell of
  0 is published: it says nobody has that combination, and official statistics publish empty cells too.
- **Complementary suppression.** In every equation (a total and the parts along one dimension) the withheld
  members must never be exactly one: with the total published, at least two parts are withheld and they add
  up to k or more (two parts of 1 and 1 under a known total would each be 1); with the total withheld, at
  least one part is. More parts are withheld — the smallest non-zero ones first, ties in a fixed order so the
  same data always hides the same cells — and when no non-zero part is left the total itself is withheld,
  which carries the protection one level up (a tier found in one region only cannot be had as the grand
  total minus the other tiers). Repeated over all equations until nothing changes. Zero cells are never
  used to hide others: a withheld 0 would be recognised and give its neighbour away.
- **What is listed.** `suppressed` names each withheld cell by its dimension values, never why: saying
  which cells were primary would tell the reader they hold 1 to k-1 people.

Rows are cells; a combination that is absent counts as 0. Two tables that count the same people
(by region in one, by region and tier in another) are not protected against each other: cut both from one
table, its slices through `publish_total`. This is the usual hypercube heuristic: it stops every
subtraction of published figures from a published total; it does not solve all the equations at once
(interval attacks by linear programming), which a city this size does not publish enough tables for.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

K_ANONYMITY = 5


@dataclass(frozen=True)
class Published:
    """A table as it may be shown: withheld measures are None and the withheld cells are listed."""

    name: str
    dimensions: tuple[str, ...]
    rows: list[dict[str, Any]]
    suppressed: list[dict[str, Any]]
    # The totals (slices of the table, `ALL` where a total runs over a dimension) that are withheld.
    withheld_totals: frozenset[tuple[Any, ...]] = dataclasses.field(default=frozenset(), repr=False)

    @property
    def measures(self) -> tuple[str, ...]:
        """The row fields that are not dimensions, in the order they first appear."""
        seen: dict[str, None] = {}
        for row in self.rows:
            for key in row:
                if key not in self.dimensions:
                    seen.setdefault(key, None)
        return tuple(seen)


def _count(row: Mapping[str, Any], count_field: str) -> int:
    value = row.get(count_field)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"every row needs a whole, non-negative {count_field!r} (got {value!r})")
    return value


def _cells(dimensions: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    keys: list[tuple[Any, ...]] = []
    seen: set[tuple[Any, ...]] = set()
    for row in rows:
        missing = [d for d in dimensions if d not in row]
        if missing:
            raise ValueError(f"a row lacks the dimensions {missing}")
        key = tuple(row[d] for d in dimensions)
        if key in seen:
            raise ValueError(f"two rows describe the same cell {dict(zip(dimensions, key, strict=True))}")
        seen.add(key)
        keys.append(key)
    return keys


class _All:
    """The value of a dimension a total runs over (the `*` of a margin)."""

    def __repr__(self) -> str:
        return "*"


ALL = _All()
Node = tuple[Any, ...]


def _order(value: Any) -> tuple[str, str]:
    # A total order over dimension values of any type, so the same input always hides the same cells.
    if value is ALL:
        return ("~", "*")
    return (type(value).__name__, str(value))


def _lattice(keys: Sequence[Node], counts: Sequence[int]) -> tuple[dict[Node, int], dict[tuple[Node, int], list[Node]]]:
    """Every cell and total with its count, and every equation: (total, dimension) → the parts it adds up."""
    width = len(keys[0]) if keys else 0
    totals: dict[Node, int] = defaultdict(int)
    for key, count in zip(keys, counts, strict=True):
        for mask in product((False, True), repeat=width):
            totals[tuple(ALL if over else value for value, over in zip(key, mask, strict=True))] += count
    equations: dict[tuple[Node, int], list[Node]] = defaultdict(list)
    for node in totals:
        for position, value in enumerate(node):
            if value is not ALL:
                equations[((*node[:position], ALL, *node[position + 1 :]), position)].append(node)
    return dict(totals), dict(equations)


def publish(
    name: str,
    dimensions: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    count_field: str = "count",
    k: int = K_ANONYMITY,
) -> Published:
    """Withhold the cells and totals below k and enough neighbours that no total gives them away."""
    if k < 1:
        raise ValueError("k must be at least 1")
    dims = tuple(dimensions)
    if count_field in dims:
        raise ValueError(f"{count_field!r} cannot be a dimension")
    counts = [_count(row, count_field) for row in rows]
    keys = _cells(dims, rows)
    totals, equations = _lattice(keys, counts)
    hidden = {node: 0 < count < k for node, count in totals.items()}

    def tie_break(node: Node) -> tuple[int, list[tuple[str, str]]]:
        return totals[node], [_order(v) for v in node]

    changed = any(hidden.values())
    while changed:
        changed = False
        for (total, _), parts in equations.items():
            while True:
                withheld = [p for p in parts if hidden[p]]
                if hidden[total]:
                    if withheld:
                        break
                elif not withheld or (len(withheld) >= 2 and sum(totals[p] for p in withheld) >= k):
                    break
                candidates = [p for p in parts if not hidden[p] and totals[p] > 0]
                if candidates:
                    hidden[min(candidates, key=tie_break)] = True
                elif not hidden[total]:
                    hidden[total] = True
                else:
                    break  # cannot happen: a withheld total has a non-zero part
                changed = True

    out_rows: list[dict[str, Any]] = []
    suppressed: list[dict[str, Any]] = []
    for key, row in zip(keys, rows, strict=True):
        if hidden[key]:
            out_rows.append({field: (value if field in dims else None) for field, value in row.items()})
            suppressed.append({"table": name, **{d: row[d] for d in dims}})
        else:
            out_rows.append(dict(row))
    withheld_totals = frozenset(node for node, h in hidden.items() if h and ALL in node)
    return Published(name=name, dimensions=dims, rows=out_rows, suppressed=suppressed, withheld_totals=withheld_totals)


def publish_total(
    published: Published,
    rows: Sequence[Mapping[str, Any]],
    *,
    where: Mapping[str, Any] | None = None,
    field: str | None = None,
    count_field: str = "count",
) -> Any:
    """The total of a published table (or of the slice `where` fixes), or None when it is withheld.

    `rows` are the rows `publish()` was given; `field` names the measure to add up (the count by default).
    Fixing every dimension names a cell: its value is returned unless the cell is withheld.
    """
    where = dict(where or {})
    unknown = set(where) - set(published.dimensions)
    if unknown:
        raise ValueError(f"{sorted(unknown)} are not dimensions of {published.name}")
    if len(rows) != len(published.rows):
        raise ValueError("publish_total needs the rows the table was published from")
    node = tuple(where.get(d, ALL) for d in published.dimensions)
    if node in published.withheld_totals:
        return None
    field = field or count_field
    total: Any = 0
    for raw, shown in zip(rows, published.rows, strict=True):
        if any(raw[d] != value for d, value in where.items()):
            continue
        if ALL not in node and shown.get(count_field) is None:
            return None
        value = raw.get(field)
        if value is not None:
            total += value
    return total
