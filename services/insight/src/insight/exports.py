"""A published table as CSV, for the statisticians' spreadsheets (`GET /api/v1/insight/{table}.csv`).

- Header: the table's dimensions, then its measures; one line per cell, in the table's order. A withheld
  cell keeps its dimension values and leaves every measure empty (the same cells the JSON answer nulls).
- UTF-8 **with a byte-order mark**: Excel, as installed in China, reads a CSV without one in the local code
  page (GBK) and garbles every Chinese label; with it, Excel and WPS open the file as UTF-8. Python
  (`encoding="utf-8-sig"`), pandas and most tools skip the mark. Lines end CRLF (RFC 4180).
- Nothing but the table: no title or footnote line, so a program can read the file as it comes.
- CSV injection: a text cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return would be run as
  a formula by a spreadsheet, so it is prefixed with `'`. Numbers are written as numbers (a negative amount
  stays `-5`).
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime
from typing import Any

from fastapi import Response

from insight.disclosure import Published

BOM = "\ufeff"
MEDIA_TYPE = "text/csv; charset=utf-8"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """One value as CSV text: empty for a withheld measure, a formula-looking text made inert."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def to_csv(table: Published) -> bytes:
    """The table as a CSV file (UTF-8 with BOM, CRLF lines, header first, nothing after the last cell)."""
    columns = [*table.dimensions, *table.measures]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([cell(c) for c in columns])
    for row in table.rows:
        writer.writerow([cell(row.get(c)) for c in columns])
    return (BOM + buffer.getvalue()).encode("utf-8")


def filename(table: Published) -> str:
    """A safe file name for the download: the table's name in [a-z0-9._-] only."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", table.name).strip("._") or "table"
    return f"insight-{stem}.csv"


def csv_response(table: Published) -> Response:
    """The CSV as an HTTP answer: text/csv in UTF-8, offered as a download with the table's name."""
    return Response(
        content=to_csv(table),
        media_type=MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename(table)}"'},
    )
