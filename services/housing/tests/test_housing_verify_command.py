"""`housing verify-draw`: recomputes a real round's order from its published results and seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from housing.cli import verify_draw_command

from .conftest import Platform


async def _published_round(platform: Platform) -> dict[str, object]:
    project = await platform.project()
    unit_ids = await platform.units(project, *[(f"{n}", "1BR", 300000) for n in range(3)])
    round_id = await platform.round(unit_ids, tier_quotas={"E": 1})
    for tier, points in [("B", 80), ("C", 60), ("C", 60), ("E", 20), ("E", 30), ("D", 40)]:
        _, talent = await platform.talent(tier, points)
        assert (await platform.apply(round_id, talent)).status_code == 201
    await platform.close_and_draw(round_id)
    response = await platform.client.get(f"/api/v1/housing/rounds/{round_id}/results?limit=2")
    document = response.json()
    items = list(document["items"])
    while document["next_cursor"]:
        document = (
            await platform.client.get(
                f"/api/v1/housing/rounds/{round_id}/results?limit=2&cursor={document['next_cursor']}"
            )
        ).json()
        items += document["items"]
    return {**document, "items": items}


class TestVerifyDraw:
    async def test_a_real_round_matches(
        self, platform: Platform, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        document = await _published_round(platform)
        path = tmp_path / "results.json"
        path.write_text(json.dumps(document))
        assert verify_draw_command(["--results", str(path), "--seed", str(document["seed"])]) == 0
        assert capsys.readouterr().out.startswith("MATCH: 6 applications")

    async def test_a_doctored_result_is_a_mismatch_with_the_reason(
        self, platform: Platform, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        document = await _published_round(platform)
        items = document["items"]
        assert isinstance(items, list)
        items[-1]["points"] = 999  # someone moves themselves up the list
        path = tmp_path / "results.json"
        path.write_text(json.dumps(document))
        assert verify_draw_command(["--results", str(path)]) == 1
        assert "MISMATCH" in capsys.readouterr().out

    async def test_a_list_without_round_facts_needs_the_unit_count(self, tmp_path: Path) -> None:
        path = tmp_path / "rows.json"
        path.write_text("[]")
        with pytest.raises(SystemExit):
            verify_draw_command(["--results", str(path), "--seed", "00" * 32])
