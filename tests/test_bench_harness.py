"""`make bench`'s harness (bench/run_all.py, bench/common.py) without running a scenario: where results go, what
a scenario declares, which runs are planned, and how the report puts SQLite, PostgreSQL and the production shape
side by side and marks results from another commit."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

# bench/ is a package of the checkout, not of the workspace: importable from the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common, run_all
from bench.baselines import Ceilings
from bench.common import Figure, read_results, write_results

COMMIT = "a" * 40
CEILINGS = Ceilings(1000.0, 2.0, 4.0, 5000.0, 1.0, 3.0)


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "results"
    monkeypatch.setattr(common, "RESULTS", folder)
    monkeypatch.setattr(run_all, "RESULTS", folder)
    for name in ("BENCH_DATABASE", "BENCH_SHAPE", "TEST_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BENCH_COMMIT", COMMIT)
    return folder


def figures(value: float) -> list[Figure]:
    return [
        Figure("demo", "GET /thing via gateway", "req/s", value, target=500),
        Figure("demo", "GET /thing via gateway p99", "ms", value / 100, target=5, higher_is_better=False),
    ]


def test_results_name_their_database_shape_and_commit(results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert write_results("demo", figures(600)) == results / "demo.sqlite.json"
    monkeypatch.setenv("TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    assert write_results("demo", figures(600)) == results / "demo.postgresql.json"
    monkeypatch.setenv("BENCH_SHAPE", "production")
    assert common.production_shape()
    path = write_results("demo", figures(600))
    assert path == results / "demo.postgresql.production.json"
    meta, rows = read_results(path)
    assert (meta["database"], meta["shape"], meta["commit"]) == ("postgresql", "production", COMMIT)
    assert [row["figure"] for row in rows] == ["GET /thing via gateway", "GET /thing via gateway p99"]
    assert rows[0]["met"] is True


def test_an_old_results_file_reads_as_of_no_known_commit(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps([{"figure": "x"}]))
    assert read_results(path) == ({"commit": "unknown", "dirty": None}, [{"figure": "x"}])


def test_a_scenario_declares_its_databases_and_shape_without_being_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_all, "BENCH", tmp_path)
    (tmp_path / "bench_pg.py").write_text(
        'import no_such_module\nBENCH_DATABASES = ("postgresql",)\nBENCH_PRODUCTION_SHAPE = True\n'
    )
    (tmp_path / "bench_plain.py").write_text("import no_such_module\n")
    (tmp_path / "bench_insight.py").write_text("")
    assert run_all.declaration("pg") == run_all.Declaration(("postgresql",), True)
    assert run_all.declaration("plain") == run_all.Declaration(("sqlite", "postgresql"), False)
    assert run_all.declaration("insight").covers_both_itself

    runs, skipped = run_all.plan(["pg", "plain", "insight"], ["sqlite", "postgresql"], production=True)
    assert [(r.scenario, r.database, r.shape) for r in runs] == [
        ("pg", "postgresql", "dev"),
        ("pg", "postgresql", "production"),
        ("plain", "sqlite", "dev"),
        ("plain", "postgresql", "dev"),
        ("insight", "both", "dev"),
    ]
    assert skipped == []
    runs, skipped = run_all.plan(["pg", "plain"], ["sqlite"], production=True)
    assert [(r.scenario, r.database) for r in runs] == [("plain", "sqlite")]
    assert [s[:2] for s in skipped] == [
        ("pg", "PostgreSQL"),
        ("pg", "PostgreSQL, production shape"),
        ("plain", "PostgreSQL"),
    ]


def test_the_report_puts_the_databases_side_by_side_and_marks_other_commits(
    results: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_results("demo", figures(600.0))  # SQLite, this commit
    monkeypatch.setenv("BENCH_DATABASE", "postgresql")
    monkeypatch.setenv("BENCH_COMMIT", "b" * 40)  # kept from an earlier run
    write_results("demo", figures(400.0))
    monkeypatch.setenv("BENCH_COMMIT", COMMIT)
    monkeypatch.setenv("BENCH_DATABASE", "both")  # a scenario covering both itself names them in its figures
    write_results(
        "insight",
        [
            Figure("insight", "events applied (SQLite)", "events/s", 900.0),
            Figure("insight", "events applied (PostgreSQL)", "events/s", 1200.0),
        ],
    )
    (results / "demo.json").write_text("[]")  # the old format: left out
    sources = run_all.gather()
    assert [(s.scenario, s.database) for s in sources] == [
        ("demo", "sqlite"),
        ("demo", "postgresql"),
        ("insight", "both"),
    ]
    rows = run_all.report_rows(sources, CEILINGS)
    out = tmp_path / "report"
    out.mkdir()
    runs = [run_all.Run("demo", "sqlite", seconds=3.0, exit_code=0, rows=[{}])]
    skipped = [("demo", "PostgreSQL, production shape", "production shape off")]
    run_all.write_report(rows, runs, {"git commit": COMMIT}, CEILINGS, sources, COMMIT, skipped, out)
    report = (out / "report.md").read_text()

    assert "WARNING: not every result is from commit" in report
    assert f"demo · PostgreSQL: commit {'b' * 12}" in report
    assert "| figure | unit | SQLite | ratio | PostgreSQL | ratio | target | met |" in report
    # 600 req/s is 0.6 of the 1000 req/s ceiling and meets 500; 400 (marked †) misses it on PostgreSQL only.
    assert "| GET /thing via gateway | req/s | 600.0 | 0.600 | 400.0 † | 0.400 | 500 | **no** (PostgreSQL) |" in report
    assert "| events applied | events/s | 900.0 | 0.180 | 1,200.0 | 0.240 |  |  |" in report
    assert "| demo | PostgreSQL, production shape | | not run: production shape off |" in report
    saved = json.loads((out / "report.json").read_text())
    assert {(r["scenario"], r["database"], r["commit"][:1]) for r in saved} == {
        ("demo", "sqlite", "a"),
        ("demo", "postgresql", "b"),
        ("insight", "sqlite", "a"),
        ("insight", "postgresql", "a"),
    }
