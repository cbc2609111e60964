"""CSV export: a published table as a spreadsheet opens it — BOM, header, withheld cells empty, no formulas."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from insight.disclosure import publish
from insight.exports import cell, filename, to_csv

from .conftest import City, apply


def _read(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_the_file_is_utf8_with_a_bom_a_header_and_crlf_lines() -> None:
    table = publish("talents", ["region_code", "tier"], [{"region_code": "330411", "tier": "B", "count": 6}])
    data = to_csv(table)
    assert data == "\ufeffregion_code,tier,count\r\n330411,B,6\r\n".encode()


def test_withheld_cells_keep_their_dimensions_and_leave_every_measure_empty() -> None:
    rows = [
        {"policy_code": "RENT", "count": 11, "paid_fen": 720000},
        {"policy_code": "SETTLE", "count": 1, "paid_fen": 731004},
        {"policy_code": "TALENT", "count": 7, "paid_fen": 90000},
    ]
    data = to_csv(publish("budgets", ["policy_code"], rows))
    assert _read(data) == [
        ["policy_code", "count", "paid_fen"],
        ["RENT", "11", "720000"],
        ["SETTLE", "", ""],
        ["TALENT", "", ""],
    ]
    assert b"731004" not in data


def test_there_is_nothing_after_the_last_cell() -> None:
    rows = [{"tier": t, "count": c} for t, c in [("A", 2), ("B", 40), ("C", 50)]]
    lines = to_csv(publish("t", ["tier"], rows)).decode("utf-8-sig").split("\r\n")
    assert lines[-1] == "" and len(lines) == 5  # header, three cells, the final line end


def test_chinese_labels_survive_the_round_trip() -> None:
    data = to_csv(publish("t", ["region"], [{"region": "秀洲区", "count": 9}]))
    assert _read(data)[1] == ["秀洲区", "9"]


@pytest.mark.parametrize("formula", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_text_that_a_spreadsheet_would_run_as_a_formula_is_made_inert(formula: str) -> None:
    data = to_csv(publish("t", ["scene"], [{"scene": formula, "count": 9}]))
    assert _read(data)[1][0] == "'" + formula


def test_numbers_and_dates_are_written_as_themselves() -> None:
    assert cell(-5) == "-5"
    assert cell(0.125) == "0.125"
    assert cell(True) == "true"
    assert cell(date(2026, 3, 2)) == "2026-03-02"
    assert cell(None) == ""


def test_the_download_name_is_the_table_name_and_nothing_else() -> None:
    assert filename(publish("talents_by_degree", ["d"], [])) == "insight-talents_by_degree.csv"
    assert filename(publish('../x"; evil', ["d"], [])) == "insight-x_evil.csv"


@pytest.mark.asyncio
async def test_every_table_downloads_as_csv_with_the_json_tables_cells(
    insight_app: FastAPI, client: httpx.AsyncClient, leader: dict[str, str], city: City
) -> None:
    await apply(insight_app, city.events)
    tables = (await client.get("/api/v1/insight/tables", headers=leader)).json()["items"]
    assert tables
    for table in tables:
        name = table["name"]
        response = await client.get(f"/api/v1/insight/{name}.csv", headers=leader)
        assert response.status_code == 200, (name, response.text)
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"] == f'attachment; filename="insight-{name}.csv"'
        body = (await client.get(f"/api/v1/insight/breakdowns/{name}", headers=leader)).json()
        lines = _read(response.content)
        assert lines[0][: len(body["dimensions"])] == body["dimensions"]
        assert len(lines) == 1 + len(body["rows"])
        count = lines[0].index("count") if "count" in lines[0] else None
        for line, row in zip(lines[1:], body["rows"], strict=True):
            if count is not None:
                assert line[count] == ("" if row["count"] is None else str(row["count"]))
                assert line[count] == "" or line[count] == "0" or int(line[count]) >= 5


@pytest.mark.asyncio
async def test_an_unknown_table_is_a_404_and_a_talent_gets_no_csv(
    client: httpx.AsyncClient, leader: dict[str, str], test_keys: Any
) -> None:
    response = await client.get("/api/v1/insight/nonsense.csv", headers=leader)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    talent = test_keys.headers("someone", ["talent"])
    assert (await client.get("/api/v1/insight/talents.csv", headers=talent)).status_code == 403
