"""Statistical disclosure control: what of a count table may be published (k-anonymity on cells).

Every table the insight service shows or exports passes through `publish()`; nothing else decides what a
reader sees.

- **Primary suppression.** A cell counting 1 to k-1 people (k = 5) is withheld: its count and every other
  measure of the row (amounts, shares, percentiles) become `None`. A cell of 0 is published: it says
  nobody has that combination, which is what the published total already implies, and official statistics
  publish empty cells the same way.
- **Complementary suppression.** A reader can subtract the published cells of a group from the group's
  total (a marginal: the rows sharing every dimension but one). So in every such group that holds a
  withheld cell, more cells are withheld — the smallest other non-zero ones first, a zero cell only when
  nothing else is left — until the group holds at least two withheld cells whose counts add up to k or
  more. Repeated over all groups until nothing changes (a cell withheld for one group opens another).
- **What is listed.** `suppressed` names each withheld cell by its dimension values, never why: saying
  which cells were primary would tell the reader they hold 1 to k-1 people.
- **Totals.** `publish_total()` gives a total (the whole table or any slice of it) only when subtracting the
  published cells from it cannot recover a withheld cell: it is refused when it is itself 1 to k-1, when its
  slice holds exactly one withheld cell, or when its withheld cells add up to 1 to k-1.

Rows are cells: callers that want an empty combination to be able to hide a neighbour pass it explicitly
with a count of 0; a combination that is absent is neither published nor used. This protects against the
subtraction a reader can do with one table and its totals; tables that overlap (the same people counted by
region in one and by region and tier in another) should be cut from one table with `publish_total` slices.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

K_ANONYMITY = 5


@dataclass(frozen=True)
class Published:
    """A table as it may be shown: withheld measures are None and the withheld cells are listed."""

    name: str
    dimensions: tuple[str, ...]
    rows: list[dict[str, Any]]
    suppressed: list[dict[str, Any]]

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


def _groups(keys: Sequence[tuple[Any, ...]], width: int) -> list[list[int]]:
    """Row indexes of every group a reader can total: the rows sharing all dimensions but one."""
    groups: list[list[int]] = []
    for free in range(width):
        by_rest: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for index, key in enumerate(keys):
            by_rest[key[:free] + key[free + 1 :]].append(index)
        groups.extend(by_rest.values())
    return groups


def _order(value: Any) -> tuple[str, str]:
    # A total order over dimension values of any type, so the same input always hides the same cells.
    return (type(value).__name__, str(value))


def publish(
    name: str,
    dimensions: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    *,
    count_field: str = "count",
    k: int = K_ANONYMITY,
) -> Published:
    """Withhold the cells below k and enough neighbours that no total gives them away."""
    if k < 1:
        raise ValueError("k must be at least 1")
    dims = tuple(dimensions)
    if count_field in dims:
        raise ValueError(f"{count_field!r} cannot be a dimension")
    counts = [_count(row, count_field) for row in rows]
    keys = _cells(dims, rows)
    hidden = [0 < count < k for count in counts]
    groups = _groups(keys, len(dims)) if dims else []

    def tie_break(index: int) -> tuple[int, list[tuple[str, str]]]:
        return counts[index], [_order(v) for v in keys[index]]

    changed = any(hidden)
    while changed:
        changed = False
        for group in groups:
            withheld = [i for i in group if hidden[i]]
            if not withheld:
                continue
            while len(withheld) < 2 or sum(counts[i] for i in withheld) < k:
                shown = [i for i in group if not hidden[i]]
                if not shown:
                    break  # the whole group is withheld; publish_total refuses its total
                nonzero = [i for i in shown if counts[i] > 0]
                if not nonzero and len(withheld) >= 2:
                    break  # only zeros are left: hiding them adds nothing to the withheld sum
                pick = min(nonzero or shown, key=tie_break)
                hidden[pick] = True
                withheld.append(pick)
                changed = True

    out_rows: list[dict[str, Any]] = []
    suppressed: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        if hidden[index]:
            out_rows.append({key: (value if key in dims else None) for key, value in row.items()})
            suppressed.append({"table": name, **{d: row[d] for d in dims}})
        else:
            out_rows.append(dict(row))
    return Published(name=name, dimensions=dims, rows=out_rows, suppressed=suppressed)


def publish_total(
    published: Published,
    rows: Sequence[Mapping[str, Any]],
    *,
    where: Mapping[str, Any] | None = None,
    field: str | None = None,
    count_field: str = "count",
    k: int = K_ANONYMITY,
) -> Any:
    """The total of a published table (or of its slice `where` fixes), or None when it would reveal a cell.

    `rows` are the same rows `publish()` was given; `field` names the measure to add up (the count by
    default). The total is refused when it counts 1 to k-1 people, or when the withheld cells of its slice
    are exactly one or add up to 1 to k-1 people.
    """
    where = dict(where or {})
    unknown = set(where) - set(published.dimensions)
    if unknown:
        raise ValueError(f"{sorted(unknown)} are not dimensions of {published.name}")
    if len(rows) != len(published.rows):
        raise ValueError("publish_total needs the rows the table was published from")
    field = field or count_field
    total_count = 0
    hidden_count = 0
    hidden_cells = 0
    total: Any = 0
    for raw, shown in zip(rows, published.rows, strict=True):
        if any(raw[d] != value for d, value in where.items()):
            continue
        count = _count(raw, count_field)
        total_count += count
        value = raw.get(field)
        if value is not None:
            total += value
        if shown.get(count_field) is None:
            hidden_cells += 1
            hidden_count += count
    if 0 < total_count < k or hidden_cells == 1 or 0 < hidden_count < k:
        return None
    return total
