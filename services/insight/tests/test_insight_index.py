"""人才发展指数: 100 × Σ weight × clamp(score, 0, 1) over the indicators of the rule document in force."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from insight.index import INDEX_RULES, compute, parse_index, seed_rules
from servicekit.rulebook import InvalidRules

from .conftest import City, apply


def _seed() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        resources.files("insight").joinpath("data/index.json").read_text(encoding="utf-8")
    )
    return document


def _two(weight_a: float = 0.6, weight_b: float = 0.4, **b: Any) -> dict[str, Any]:
    return {
        "version": 7,
        "indicators": [
            {"key": "stock", "name_zh": "总量", "name_en": "Stock", "source": "talents",
             "normalisation": {"kind": "target", "target": 1000}, "weight": weight_a},
            {"key": "days", "name_zh": "时长", "name_en": "Days", "source": "review_days",
             "normalisation": b.pop("normalisation", {"kind": "min_max", "min": 0, "max": 20}),
             "direction": b.pop("direction", "lower_is_better"), "weight": weight_b},
        ],
    }  # fmt: skip


def test_the_shipped_document_is_version_1_and_its_weights_add_up_to_1() -> None:
    rules = seed_rules()
    assert rules.version == 1
    assert abs(sum(i.weight for i in rules.indicators) - 1) < 1e-9
    assert INDEX_RULES.check(INDEX_RULES.seed()) == rules


def test_every_indicator_at_its_target_scores_100() -> None:
    rules = seed_rules()
    inputs = {i.source: (i.target if i.target is not None else i.maximum) for i in rules.indicators}
    result = compute(inputs)
    assert result["value"] == 100.0
    assert result["missing"] == []


def test_the_index_is_the_weighted_sum_of_clamped_scores_and_shows_each_contribution() -> None:
    rules = parse_index(_two())
    # stock 500 of 1000 → 0.5; 5 review days on 0..20, lower is better → 0.75
    result = compute({"talents": 500, "review_days": 5}, rules=rules)
    assert result["version"] == 7
    stock, days = result["indicators"]
    assert (stock["value"], stock["score"], stock["weight"], stock["contribution"]) == (500, 0.5, 0.6, 30.0)
    assert stock["normalisation"] == {"kind": "target", "target": 1000}
    assert (days["score"], days["contribution"]) == (0.75, 30.0)
    assert result["value"] == 60.0


def test_scores_are_clamped_to_nothing_and_full_marks() -> None:
    rules = parse_index(_two())
    assert compute({"talents": 5000, "review_days": 40}, rules=rules)["value"] == 60.0
    assert compute({"talents": -3, "review_days": -1}, rules=rules)["value"] == 40.0


def test_a_lower_is_better_target_scores_full_at_or_below_it() -> None:
    rules = parse_index(_two(normalisation={"kind": "target", "target": 5}))
    assert compute({"talents": 0, "review_days": 4}, rules=rules)["indicators"][1]["score"] == 1.0
    assert compute({"talents": 0, "review_days": 10}, rules=rules)["indicators"][1]["score"] == 0.5


def test_a_missing_input_is_null_and_its_weight_is_shared_over_the_others() -> None:
    rules = parse_index(_two())
    result = compute({"talents": 500, "review_days": None}, rules=rules)
    stock, days = result["indicators"]
    assert days["value"] is None and days["contribution"] is None
    assert stock["effective_weight"] == 1.0
    assert result["value"] == 50.0
    assert result["missing"] == ["days"]
    assert compute({"talents": 500, "review_days": float("nan")}, rules=rules)["missing"] == ["days"]


def test_a_value_measured_over_fewer_than_five_cases_is_not_shown() -> None:
    rules = parse_index(_two())
    result = compute({"talents": 500, "review_days": 2.375}, rules=rules, bases={"review_days": 3})
    assert result["indicators"][1]["value"] is None
    assert "2.375" not in json.dumps(result) and result["missing"] == ["days"]


def test_no_input_at_all_gives_no_index() -> None:
    result = compute({})
    assert result["value"] is None
    assert len(result["missing"]) == len(seed_rules().indicators)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["indicators"][0].update(weight=0.5), "add up to 1"),
        (lambda d: d["indicators"][1].update(source=d["indicators"][0]["source"]), "repeated"),
        (lambda d: d["indicators"][1].update(normalisation={"kind": "min_max", "min": 5, "max": 5}), "greater"),
        (lambda d: d["indicators"][0].update(weight=0), "weight"),
        (lambda d: d["indicators"][0].update(normalisation={"kind": "target", "target": 0}), "target"),
        (lambda d: d.update(indicators=[]), "indicators"),
        (lambda d: d["indicators"][0].update(wieght=0.6), "wieght"),
    ],
)
def test_a_document_that_does_not_hold_together_is_refused_naming_the_fault(change: Any, message: str) -> None:
    document = copy.deepcopy(_two())
    change(document)
    with pytest.raises(ValueError, match=message):
        parse_index(document)


def test_a_new_version_with_weights_off_is_a_422_through_the_rulebook() -> None:
    document = _seed()
    document["indicators"][0]["weight"] = 0.9
    with pytest.raises(InvalidRules) as refused:
        INDEX_RULES.check(document)
    assert refused.value.status == 422
    assert "add up to 1" in json.dumps(refused.value.errors)


@pytest.mark.asyncio
async def test_the_summary_carries_the_index_and_a_new_version_of_the_weights_takes_effect(
    insight_app: FastAPI, client: httpx.AsyncClient, leader: dict[str, str], test_keys: Any, city: City
) -> None:
    await apply(insight_app, city.events)
    index = (await client.get("/api/v1/insight/summary", headers=leader)).json()["index"]
    assert index["version"] == 1
    assert [i["key"] for i in index["indicators"]] == [i.key for i in seed_rules().indicators]
    stock = index["indicators"][0]
    # 11 certified talents of a target of 20,000: the contribution is 100 × weight × 11 / 20,000 (re-weighted)
    assert stock["value"] == 11 and stock["score"] == round(11 / 20000, 4)
    assert index["value"] == pytest.approx(sum(i["contribution"] or 0 for i in index["indicators"]), abs=0.1)

    document = _seed()
    document["version"] = 2
    document["indicators"][0]["normalisation"]["target"] = 11
    admin = test_keys.headers("admin.city", ["admin"])
    bad = copy.deepcopy(document)
    bad["indicators"][0]["weight"] = 0.5
    refused = await client.put(
        "/api/v1/admin/rules/insight/index", json={"document": bad, "reason": "x"}, headers=admin
    )
    assert refused.status_code == 422
    changed = await client.put(
        "/api/v1/admin/rules/insight/index", json={"document": document, "reason": "the 2026 target"}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    index = (await client.get("/api/v1/insight/summary", headers=leader)).json()["index"]
    assert index["version"] == 2
    assert index["indicators"][0]["score"] == 1.0
