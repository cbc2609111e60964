"""Disclosure control: no published cell counts 1 to 4 people, and no total gives a withheld cell away."""

from __future__ import annotations

import json
from itertools import product
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from insight.disclosure import K_ANONYMITY, publish, publish_total

K = K_ANONYMITY


def _equations(dims: list[str], rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, list[dict[str, Any]]]]:
    """Every equation a reader can solve: a slice's total = the sum of its parts along one more dimension."""
    slices: list[dict[str, Any]] = []
    for fixed in product([False, True], repeat=len(dims)):
        keep = [d for d, f in zip(dims, fixed, strict=True) if f]
        seen = {tuple(row[d] for d in keep) for row in rows}
        slices.extend(dict(zip(keep, values, strict=True)) for values in seen)
    equations = []
    for total in slices:
        for free in (d for d in dims if d not in total):
            parts = [s for s in slices if set(s) == {*total, free} and all(s[d] == v for d, v in total.items())]
            equations.append((total, free, parts))
    return equations


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [value]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list | tuple):
        return [n for v in value for n in _numbers(v)]
    return []


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[dict[str, Any]]]:
    width = draw(st.integers(min_value=1, max_value=3))
    dims = ["tier", "region", "route"][:width]
    values = [draw(st.lists(st.sampled_from("ABCDEFG"), min_size=1, max_size=4, unique=True)) for _ in dims]
    cells: list[tuple[str, ...]] = [()]
    for options in values:
        cells = [(*cell, v) for cell in cells for v in options]
    keep = draw(st.lists(st.booleans(), min_size=len(cells), max_size=len(cells)))
    rows = []
    for cell, kept in zip(cells, keep, strict=True):
        if not kept:
            continue
        count = draw(st.one_of(st.integers(0, 2 * K), st.integers(0, 400)))
        rows.append({**dict(zip(dims, cell, strict=True)), "count": count, "amount": count * 1000})
    return dims, rows


def test_a_cell_of_one_to_four_people_is_withheld_with_all_its_measures() -> None:
    rows = [
        {"tier": "A", "count": 3, "amount": 90000, "share": 0.03, "p90_days": 4.5},
        {"tier": "B", "count": 40, "amount": 1200000, "share": 0.4, "p90_days": 6.0},
        {"tier": "C", "count": 57, "amount": 1700000, "share": 0.57, "p90_days": 7.0},
    ]
    published = publish("talents_by_tier", ["tier"], rows)
    assert published.rows[0] == {"tier": "A", "count": None, "amount": None, "share": None, "p90_days": None}
    assert published.suppressed[0] == {"table": "talents_by_tier", "tier": "A"}


def test_a_lone_withheld_cell_takes_the_smallest_other_non_zero_cell_with_it() -> None:
    rows = [
        {"tier": "A", "count": 2},
        {"tier": "B", "count": 0},
        {"tier": "C", "count": 9},
        {"tier": "D", "count": 80},
    ]
    published = publish("t", ["tier"], rows)
    assert [r["count"] for r in published.rows] == [None, 0, None, 80]
    assert publish_total(published, rows) == 91


def test_zero_cells_are_published() -> None:
    published = publish("t", ["tier"], [{"tier": "A", "count": 0}, {"tier": "B", "count": 12}])
    assert published.rows == [{"tier": "A", "count": 0}, {"tier": "B", "count": 12}]
    assert published.suppressed == []


def test_two_small_cells_that_add_up_below_five_take_a_third_with_them() -> None:
    rows = [
        {"tier": "A", "count": 1},
        {"tier": "B", "count": 1},
        {"tier": "C", "count": 30},
        {"tier": "D", "count": 70},
    ]
    published = publish("t", ["tier"], rows)
    # total 101 minus the published cells would say A + B = 2, so each is exactly 1: C is withheld too
    assert [r["count"] for r in published.rows] == [None, None, None, 70]


def test_the_list_of_withheld_cells_does_not_say_which_were_below_five() -> None:
    rows = [{"tier": "A", "count": 2}, {"tier": "B", "count": 30}, {"tier": "C", "count": 70}]
    published = publish("t", ["tier"], rows)
    assert published.suppressed == [{"table": "t", "tier": "A"}, {"table": "t", "tier": "B"}]


def test_in_a_two_way_table_every_row_and_column_hides_two_cells_or_none() -> None:
    rows = [
        {"tier": t, "region": r, "count": c}
        for (t, r, c) in [("A", "x", 2), ("A", "y", 10), ("A", "z", 30), ("B", "x", 12), ("B", "y", 15), ("B", "z", 50)]
    ]
    published = publish("t", ["tier", "region"], rows)
    hidden = {(r["tier"], r["region"]) for r in published.rows if r["count"] is None}
    assert hidden == {("A", "x"), ("A", "y"), ("B", "x"), ("B", "y")}
    assert publish_total(published, rows, where={"tier": "A"}) == 42
    assert publish_total(published, rows, where={"region": "z"}) == 80


def test_a_total_below_five_or_one_that_exposes_a_lone_cell_is_refused() -> None:
    small = [{"tier": "A", "count": 1}, {"tier": "B", "count": 2}]
    assert publish_total(publish("t", ["tier"], small), small) is None
    # tier C exists only in region x: its slice is one withheld cell whatever its size
    rows = [
        {"tier": "A", "region": "x", "count": 3},
        {"tier": "A", "region": "y", "count": 20},
        {"tier": "C", "region": "x", "count": 8},
    ]
    published = publish("t", ["tier", "region"], rows)
    assert published.rows[2]["count"] is None
    assert publish_total(published, rows, where={"tier": "C"}) is None
    # nor can it be had as the grand total minus tier A
    assert None in (publish_total(published, rows), publish_total(published, rows, where={"tier": "A"}))


def test_a_total_of_another_measure_adds_that_measure() -> None:
    rows = [{"policy": "p1", "count": 10, "paid": 5000}, {"policy": "p2", "count": 20, "paid": 7000}]
    assert publish_total(publish("t", ["policy"], rows), rows, field="paid") == 12000


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"tier": "A", "count": -1}], "non-negative"),
        ([{"tier": "A", "count": 2.5}], "whole"),
        ([{"tier": "A"}], "whole"),
        ([{"count": 3}], "lacks the dimensions"),
        ([{"tier": "A", "count": 3}, {"tier": "A", "count": 9}], "same cell"),
    ],
)
def test_malformed_rows_are_refused_with_a_reason(rows: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        publish("t", ["tier"], rows)


def test_canary_counts_and_amounts_of_small_cells_appear_nowhere_in_the_output() -> None:
    canaries = {1: 731_001, 2: 731_002, 3: 731_003, 4: 731_004}
    rows: list[dict[str, Any]] = []
    for region in ["330402", "330411", "330421", "330424"]:
        for tier, count in zip("ABCD", [1, 2, 3, 4], strict=True):
            rows.append({"region": region, "tier": tier, "count": count, "amount": canaries[count]})
        rows.append({"region": region, "tier": "E", "count": 250, "amount": 9_000_000})
    published = publish("talents", ["region", "tier"], rows)
    document = {
        "rows": published.rows,
        "suppressed": published.suppressed,
        "total": publish_total(published, rows),
        "by_region": {r: publish_total(published, rows, where={"region": r}) for r in ["330402", "330411"]},
    }
    dump = json.dumps(document, ensure_ascii=False)
    for value in canaries.values():
        assert str(value) not in dump
    assert not {1, 2, 3, 4} & set(_numbers(document))


@settings(max_examples=300, deadline=None)
@given(tables())
def test_no_published_cell_is_below_five_and_no_total_recovers_a_withheld_cell(
    table: tuple[list[str], list[dict[str, Any]]],
) -> None:
    dims, rows = table
    published = publish("t", dims, rows)
    hidden = [row["count"] is None for row in published.rows]
    for raw, shown in zip(rows, published.rows, strict=True):
        assert shown["count"] is None or not 0 < shown["count"] < K
        if 0 < raw["count"] < K:
            assert shown["count"] is None and shown["amount"] is None
        if shown["count"] is not None:
            assert shown == raw
    assert len(published.suppressed) == sum(hidden)
    for total, _, parts in _equations(dims, rows):
        shown_total = publish_total(published, rows, where=total)
        true_total = sum(r["count"] for r in rows if all(r[d] == v for d, v in total.items()))
        assert shown_total in (None, true_total)
        assert shown_total is None or not 0 < shown_total < K
        withheld = [p for p in parts if publish_total(published, rows, where=p) is None]
        if shown_total is None:
            # a withheld total cannot be had by adding up its parts
            assert withheld
        elif withheld:
            # nor a withheld part by subtracting the others from the total: two or more, adding up to k or more
            hidden_sum = sum(r["count"] for r in rows for p in withheld if all(r[d] == v for d, v in p.items()))
            assert len(withheld) >= 2 and hidden_sum >= K


def test_the_same_input_always_withholds_the_same_cells() -> None:
    rows = [{"tier": t, "count": c} for t, c in [("A", 3), ("B", 9), ("C", 9), ("D", 50)]]
    first = publish("t", ["tier"], rows)
    assert first == publish("t", ["tier"], list(rows))
    assert [r["count"] for r in first.rows] == [None, None, 9, 50]
